// Tests of the SQLite run registry (pipeline.md §6, §8.2; DECISIONS P1): exact schema, method
// semantics, CSV migration from reference-format indexes, progress rows, and two processes
// writing one database at the same time.
#include "mosaic/registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "common/test_util.hpp"
#include "mosaic/errors.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using mosaic::testing::TempDir;

// now_iso() has microsecond resolution; a short pause guarantees distinct, ordered timestamps.
void tick() { std::this_thread::sleep_for(std::chrono::milliseconds(3)); }

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

const std::regex kIsoRe(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00)");

RegistryEntry entry(const std::string& feature, const std::string& run_id, const std::string& group,
                    const std::string& sequence, int64_t n_rows = 0) {
  return RegistryEntry{feature, run_id, group, sequence, "/data/" + group + "__" + sequence + ".parquet", n_rows};
}

std::vector<std::string> column_names(const std::vector<RegistryColumn>& cols) {
  std::vector<std::string> out;
  for (const auto& c : cols) out.push_back(c.name);
  return out;
}

// ---- Schema and connection ------------------------------------------------------------------------

TEST(RegistrySchema, TablesMatchSpecExactly) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");

  auto runs = reg.describe_table("feature_runs");
  EXPECT_EQ(column_names(runs), (std::vector<std::string>{"feature", "run_id", "version", "params_hash", "params_json",
                                                          "inputs_json", "started_at", "finished_at"}));
  ASSERT_EQ(runs.size(), 8u);
  EXPECT_EQ(runs[0].type, "TEXT");
  EXPECT_TRUE(runs[0].not_null);
  EXPECT_EQ(runs[0].primary_key_index, 1);
  EXPECT_EQ(runs[1].primary_key_index, 2);
  EXPECT_FALSE(runs[4].not_null);  // params_json may be NULL
  EXPECT_TRUE(runs[6].not_null);
  EXPECT_EQ(runs[7].default_value, std::optional<std::string>("''"));

  auto entries = reg.describe_table("feature_entries");
  EXPECT_EQ(column_names(entries),
            (std::vector<std::string>{"feature", "run_id", "group_", "sequence", "abs_path", "n_rows"}));
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_EQ(entries[5].type, "INTEGER");
  EXPECT_EQ(entries[5].default_value, std::optional<std::string>("0"));
  EXPECT_EQ(entries[2].primary_key_index, 3);
  EXPECT_EQ(entries[3].primary_key_index, 4);
  EXPECT_EQ(entries[4].primary_key_index, 0);

  auto deps = reg.describe_table("dependencies");
  EXPECT_EQ(column_names(deps),
            (std::vector<std::string>{"feature", "run_id", "upstream_feature", "upstream_run_id"}));
  ASSERT_EQ(deps.size(), 4u);
  EXPECT_EQ(deps[2].primary_key_index, 3);
  EXPECT_EQ(deps[3].primary_key_index, 0);  // one upstream run per upstream feature

  auto progress = reg.describe_table("training_progress");
  EXPECT_EQ(column_names(progress), (std::vector<std::string>{"job_id", "step_type", "step_index", "step_total",
                                                              "metric_json", "message", "timestamp"}));
  ASSERT_EQ(progress.size(), 7u);
  EXPECT_EQ(progress[2].primary_key_index, 3);
  EXPECT_EQ(progress[4].default_value, std::optional<std::string>("'{}'"));

  EXPECT_TRUE(reg.describe_table("no_such_table").empty());
}

TEST(RegistrySchema, WalModeAndParentDirectoryCreated) {
  TempDir tmp;
  fs::path db = tmp / "a" / "b" / ".mosaic.db";
  {
    FeatureRegistry reg = FeatureRegistry::open_file(db);
    EXPECT_EQ(reg.path(), db);
    EXPECT_EQ(reg.journal_mode(), "wal");
    reg.record_run_start("f", "0.1-aaaaaaaaaa", "0.1", "aaaaaaaaaa");
  }
  ASSERT_TRUE(fs::exists(db));
  // Reopening an existing database keeps its rows and WAL mode.
  FeatureRegistry again = FeatureRegistry::open_file(db);
  EXPECT_EQ(again.journal_mode(), "wal");
  EXPECT_TRUE(again.has_run("f", "0.1-aaaaaaaaaa"));
  // Moving keeps the connection usable.
  FeatureRegistry moved = std::move(again);
  EXPECT_TRUE(moved.has_run("f", "0.1-aaaaaaaaaa"));
}

TEST(RegistrySchema, ForeignKeysAreEnforcedAndErrorsNameTheDatabase) {
  TempDir tmp;
  fs::path db = tmp / ".mosaic.db";
  FeatureRegistry reg = FeatureRegistry::open_file(db);
  try {
    reg.record_entry(entry("f", "no-such-run", "g", "s"));
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(db.string()));
    EXPECT_THAT(e.what(), HasSubstr("FOREIGN KEY constraint failed"));
    EXPECT_THAT(e.what(), HasSubstr("run_id='no-such-run'"));
  }
}

TEST(RegistrySchema, UnopenableDatabaseThrowsIoErrorNamingIt) {
  TempDir tmp;
  fs::path blocker = tmp / "file";
  write_text(blocker, "x");
  // The "parent folder" is a regular file: neither the folder nor the database can be created.
  EXPECT_THROW(FeatureRegistry::open_file(blocker / ".mosaic.db"), IoError);
}

// ---- Runs -----------------------------------------------------------------------------------------

TEST(RegistryRuns, RecordRunStartKeepsTheOriginalRow) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  reg.record_run_start("speed", "0.1-aaaaaaaaaa", "0.1", "aaaaaaaaaa", std::string("{\"w\": 1}"), std::nullopt);
  auto first = reg.list_runs("speed");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(std::regex_match(first[0].started_at, kIsoRe)) << first[0].started_at;
  EXPECT_EQ(first[0].finished_at, "");
  EXPECT_EQ(first[0].params_json, std::optional<std::string>("{\"w\": 1}"));
  EXPECT_EQ(first[0].inputs_json, std::nullopt);
  reg.mark_finished("speed", "0.1-aaaaaaaaaa");
  const std::string finished = reg.list_runs("speed")[0].finished_at;

  tick();
  reg.record_run_start("speed", "0.1-aaaaaaaaaa", "9.9", "zzzzzzzzzz", std::string("{}"), std::string("[]"));
  auto again = reg.list_runs("speed");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].started_at, first[0].started_at);
  EXPECT_EQ(again[0].finished_at, finished);
  EXPECT_EQ(again[0].version, "0.1");
  EXPECT_EQ(again[0].params_hash, "aaaaaaaaaa");
  EXPECT_EQ(again[0].params_json, std::optional<std::string>("{\"w\": 1}"));
}

TEST(RegistryRuns, MarkFinishedIsIdempotent) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  reg.record_run_start("f", "r", "0.1", "h");
  EXPECT_FALSE(reg.run_is_finished("f", "r"));
  reg.mark_finished("f", "r");
  EXPECT_TRUE(reg.run_is_finished("f", "r"));
  const std::string t1 = reg.list_runs("f")[0].finished_at;
  EXPECT_TRUE(std::regex_match(t1, kIsoRe)) << t1;
  tick();
  reg.mark_finished("f", "r");
  EXPECT_EQ(reg.list_runs("f")[0].finished_at, t1);
  // Unknown runs: nothing to mark, nothing finished.
  reg.mark_finished("f", "other");
  EXPECT_FALSE(reg.run_is_finished("f", "other"));
  EXPECT_FALSE(reg.has_run("f", "other"));
}

TEST(RegistryRuns, LatestRunIdPrefersFinishedThenNewest) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  try {
    reg.latest_run_id("speed");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "No runs found for feature 'speed'");
  }
  reg.record_run_start("speed", "old", "0.1", "h1");
  tick();
  reg.record_run_start("speed", "new", "0.1", "h2");
  EXPECT_EQ(reg.latest_run_id("speed"), "new");  // both unfinished: newest start wins

  reg.mark_finished("speed", "old");
  EXPECT_EQ(reg.latest_run_id("speed"), "old");  // a finished run beats a newer unfinished one

  tick();
  reg.record_run_start("speed", "newest", "0.1", "h3");
  reg.mark_finished("speed", "newest");
  EXPECT_EQ(reg.latest_run_id("speed"), "newest");  // among finished runs, the newest start wins

  auto runs = reg.list_runs("speed");
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].run_id, "newest");
  EXPECT_EQ(runs[1].run_id, "old");
  EXPECT_EQ(runs[2].run_id, "new");
  EXPECT_TRUE(reg.list_runs("other").empty());
}

TEST(RegistryRuns, ListFeaturesAscendingAndDistinct) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  EXPECT_TRUE(reg.list_features().empty());
  reg.record_run_start("speed-angvel__from__tracks", "r1", "0.1", "h");
  reg.record_run_start("Zeta", "r1", "0.1", "h");
  reg.record_run_start("approach", "r1", "0.1", "h");
  reg.record_run_start("approach", "r2", "0.1", "h");
  EXPECT_EQ(reg.list_features(),
            (std::vector<std::string>{"Zeta", "approach", "speed-angvel__from__tracks"}));  // byte order
}

// ---- Entries ------------------------------------------------------------------------------------------

TEST(RegistryEntries, RecordReplaceAndList) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  reg.record_run_start("f", "r1", "0.1", "h");
  reg.record_entry(entry("f", "r1", "g2", "s1", 5));
  reg.record_entries({entry("f", "r1", "g1", "s2", 7), entry("f", "r1", "", "s9", 1), entry("f", "r1", "g1", "s1", 3)});
  EXPECT_EQ(reg.entry_count("f", "r1"), 4);
  EXPECT_EQ(reg.entry_count("f", "r2"), 0);

  // INSERT OR REPLACE: the same key again replaces path and row count.
  RegistryEntry updated = entry("f", "r1", "g2", "s1", 50);
  updated.abs_path = "/elsewhere.parquet";
  reg.record_entry(updated);
  EXPECT_EQ(reg.entry_count("f", "r1"), 4);

  auto rows = reg.list_entries("f", std::string("r1"));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].group, "");  // ordered by group_, sequence
  EXPECT_EQ(rows[1].group + "/" + rows[1].sequence, "g1/s1");
  EXPECT_EQ(rows[2].group + "/" + rows[2].sequence, "g1/s2");
  EXPECT_EQ(rows[3].group + "/" + rows[3].sequence, "g2/s1");
  EXPECT_EQ(rows[3].abs_path, "/elsewhere.parquet");
  EXPECT_EQ(rows[3].n_rows, 50);
  EXPECT_EQ(rows[3].feature, "f");
  EXPECT_EQ(rows[3].run_id, "r1");

  // run_id omitted: the latest run.
  tick();
  reg.record_run_start("f", "r2", "0.1", "h");
  reg.record_entry(entry("f", "r2", "g", "only"));
  auto latest = reg.list_entries("f");
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0].sequence, "only");
  EXPECT_THROW(reg.list_entries("missing"), InputError);
  reg.record_entries({});  // no-op
}

TEST(RegistryEntries, PendingEntriesIsTheSortedDifference) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  reg.record_run_start("f", "r", "0.1", "h");
  reg.record_entries({entry("f", "r", "g1", "s1"), entry("f", "r", "g1", "s3"), entry("f", "r", "x", "extra")});
  std::set<std::pair<std::string, std::string>> all{{"g1", "s1"}, {"g1", "s2"}, {"g1", "s3"}, {"", "s0"}, {"g2", "s1"}};
  auto pending = reg.pending_entries("f", "r", all);
  EXPECT_EQ(pending, (std::vector<std::pair<std::string, std::string>>{{"", "s0"}, {"g1", "s2"}, {"g2", "s1"}}));
  EXPECT_EQ(reg.pending_entries("f", "unknown", all).size(), all.size());
  EXPECT_TRUE(reg.pending_entries("f", "r", {}).empty());
}

TEST(RegistryEntries, RecordEntriesIsAllOrNothing) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  reg.record_run_start("f", "r", "0.1", "h");
  // The third row violates the foreign key: the whole batch is one transaction and rolls back.
  EXPECT_THROW(reg.record_entries({entry("f", "r", "g", "a"), entry("f", "r", "g", "b"), entry("f", "nope", "g", "c")}),
               IoError);
  EXPECT_EQ(reg.entry_count("f", "r"), 0);
  reg.record_entries({entry("f", "r", "g", "a")});  // the connection is usable afterwards
  EXPECT_EQ(reg.entry_count("f", "r"), 1);
}

// ---- Transactions -------------------------------------------------------------------------------------

TEST(RegistryTransaction, CommitsNestsAndRollsBack) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  reg.transaction([&] {
    reg.record_run_start("f", "r", "0.1", "h");
    reg.transaction([&] { reg.record_entries({entry("f", "r", "g", "a"), entry("f", "r", "g", "b")}); });
    reg.record_entry(entry("f", "r", "g", "c"));
  });
  EXPECT_EQ(reg.entry_count("f", "r"), 3);

  struct Boom {};
  EXPECT_THROW(reg.transaction([&] {
    reg.record_run_start("f", "r2", "0.1", "h");
    reg.transaction([&] { reg.record_entry(entry("f", "r2", "g", "a")); });
    throw Boom{};
  }),
               Boom);
  EXPECT_FALSE(reg.has_run("f", "r2"));
  EXPECT_EQ(reg.entry_count("f", "r2"), 0);

  // After a rollback the next transaction starts cleanly.
  reg.transaction([&] { reg.record_run_start("f", "r3", "0.1", "h"); });
  EXPECT_TRUE(reg.has_run("f", "r3"));
}

// ---- Dependencies and lineage -------------------------------------------------------------------------

TEST(RegistryLineage, ThreeLevelChain) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  reg.record_run_start("a", "ra", "0.1", "h");
  reg.record_run_start("b", "rb", "0.1", "h");
  reg.record_run_start("c", "rc", "0.1", "h");
  reg.record_run_start("d", "rd", "0.1", "h");
  reg.record_dependency("b", "rb", "a", "ra");
  reg.record_dependency("c", "rc", "b", "rb");
  reg.record_dependency("c", "rc", "d", "rd");
  reg.record_dependency("c", "rc", "d", "rd");  // INSERT OR IGNORE: no duplicate

  EXPECT_EQ(reg.get_dependencies("c", "rc"),
            (std::vector<std::pair<std::string, std::string>>{{"b", "rb"}, {"d", "rd"}}));
  EXPECT_TRUE(reg.get_dependencies("a", "ra").empty());

  Json expected = python_json_loads(R"({"feature": "c", "run_id": "rc", "upstream": [
      {"feature": "b", "run_id": "rb", "upstream": [{"feature": "a", "run_id": "ra", "upstream": []}]},
      {"feature": "d", "run_id": "rd", "upstream": []}]})");
  EXPECT_EQ(python_json_dumps(reg.lineage("c", "rc")), python_json_dumps(expected));
  // An unknown run has an empty lineage rather than an error, as in the reference.
  EXPECT_EQ(python_json_dumps(reg.lineage("zz", "r")), R"({"feature": "zz", "run_id": "r", "upstream": []})");
}

TEST(RegistryLineage, CyclesAreCutNotFollowedForever) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  reg.record_run_start("a", "ra", "0.1", "h");
  reg.record_run_start("b", "rb", "0.1", "h");
  reg.record_dependency("a", "ra", "b", "rb");
  reg.record_dependency("b", "rb", "a", "ra");
  EXPECT_EQ(python_json_dumps(reg.lineage("a", "ra")),
            R"({"feature": "a", "run_id": "ra", "upstream": [{"feature": "b", "run_id": "rb", "upstream": [)"
            R"({"feature": "a", "run_id": "ra", "upstream": [], "cycle": true}]}]})");
}

TEST(RegistryLineage, UnknownUpstreamGetsAPlaceholderRun) {
  TempDir tmp;
  fs::path root = tmp / "features";
  // The upstream run was produced by the Python reference: only its index.csv knows it.
  write_text(root / "speed-angvel__from__tracks" / "index.csv",
             "abs_path,run_id,started_at,finished_at,feature,version,group,sequence,params_hash,n_rows\n"
             "/d/other.parquet,0.1-1111111111,2024-01-01T00:00:00+00:00,2024-01-01T00:01:00+00:00,"
             "speed-angvel__from__tracks,0.1,g,s0,1111111111,3\n"
             "/d/a.parquet,0.10-3b632409e1,2024-05-01T10:00:00.123456+00:00,2024-05-01T10:05:00+00:00,"
             "speed-angvel__from__tracks,0.10,g,s1,3b632409e1,120\n"
             "/d/b.parquet,0.10-3b632409e1,2024-05-01T10:00:01+00:00,2024-05-01T10:05:00+00:00,"
             "speed-angvel__from__tracks,0.10,g,s2,3b632409e1,80\n");
  FeatureRegistry reg = FeatureRegistry::open(root, /*migrate_csv=*/false);
  EXPECT_FALSE(reg.has_run("speed-angvel__from__tracks", "0.10-3b632409e1"));
  reg.record_run_start("nn__from__speed-angvel__from__tracks", "0.1-bbbbbbbbbb", "0.1", "bbbbbbbbbb");
  reg.record_dependency("nn__from__speed-angvel__from__tracks", "0.1-bbbbbbbbbb", "speed-angvel__from__tracks",
                        "0.10-3b632409e1");
  auto runs = reg.list_runs("speed-angvel__from__tracks");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].run_id, "0.10-3b632409e1");
  EXPECT_EQ(runs[0].version, "0.10");  // text, not pandas' 0.1
  EXPECT_EQ(runs[0].params_hash, "3b632409e1");
  EXPECT_EQ(runs[0].started_at, "2024-05-01T10:00:00.123456+00:00");
  EXPECT_EQ(runs[0].finished_at, "2024-05-01T10:05:00+00:00");
  EXPECT_EQ(runs[0].params_json, std::nullopt);
  EXPECT_EQ(reg.entry_count("speed-angvel__from__tracks", "0.10-3b632409e1"), 0);  // only the run row

  // No index at all: a bare placeholder, and lineage still reaches it.
  reg.record_dependency("nn__from__speed-angvel__from__tracks", "0.1-bbbbbbbbbb", "ghost", "0.1-cccccccccc");
  auto ghost = reg.list_runs("ghost");
  ASSERT_EQ(ghost.size(), 1u);
  EXPECT_EQ(ghost[0].version, "");
  EXPECT_EQ(ghost[0].started_at, "");
  EXPECT_FALSE(reg.run_is_finished("ghost", "0.1-cccccccccc"));
  Json tree = reg.lineage("nn__from__speed-angvel__from__tracks", "0.1-bbbbbbbbbb");
  ASSERT_EQ(tree["upstream"].size(), 2u);
  EXPECT_EQ(tree["upstream"][0]["feature"], "ghost");
  EXPECT_EQ(tree["upstream"][1]["run_id"], "0.10-3b632409e1");

  // A known upstream is left alone (its real row is not replaced by a placeholder).
  reg.record_run_start("known", "rk", "2.0", "kkkkkkkkkk");
  reg.record_dependency("nn__from__speed-angvel__from__tracks", "0.1-bbbbbbbbbb", "known", "rk");
  EXPECT_EQ(reg.list_runs("known")[0].version, "2.0");
}

TEST(RegistryLineage, DependencyOfAnUnrecordedRunFailsClearly) {
  TempDir tmp;
  FeatureRegistry reg = FeatureRegistry::open_file(tmp / ".mosaic.db");
  reg.record_run_start("a", "ra", "0.1", "h");
  try {
    reg.record_dependency("b", "rb", "a", "ra");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("FOREIGN KEY constraint failed"));
    EXPECT_THAT(e.what(), HasSubstr("must be recorded first"));
  }
  EXPECT_TRUE(reg.get_dependencies("b", "rb").empty());
}

// ---- CSV migration (§6.4) -------------------------------------------------------------------------

constexpr const char* kIndexHeader = "abs_path,run_id,started_at,finished_at,feature,version,group,sequence,params_hash,n_rows\n";

void write_reference_indexes(const fs::path& root) {
  // Two runs, written out of run order; an empty group; pandas-mangled n_rows ("12.0", "").
  write_text(root / "speed-angvel__from__tracks" / "index.csv",
             std::string(kIndexHeader) +
                 "/ds/features/speed-angvel__from__tracks/0.1-bbbbbbbbbb/g1__s1.parquet,0.1-bbbbbbbbbb,"
                 "2024-05-02T09:00:00.000001+00:00,,speed-angvel__from__tracks,0.1,g1,s1,bbbbbbbbbb,40\n"
                 "/ds/features/speed-angvel__from__tracks/0.1-aaaaaaaaaa/g1__s1.parquet,0.1-aaaaaaaaaa,"
                 "2024-05-01T10:00:00.123456+00:00,2024-05-01T10:05:00+00:00,speed-angvel__from__tracks,0.1,g1,s1,"
                 "aaaaaaaaaa,12.0\n"
                 "/ds/features/speed-angvel__from__tracks/0.1-aaaaaaaaaa/s2.parquet,0.1-aaaaaaaaaa,"
                 "2024-05-01T10:00:01+00:00,2024-05-01T10:05:00+00:00,speed-angvel__from__tracks,0.1,,s2,"
                 "aaaaaaaaaa,\n"
                 "\"/ds/features/speed-angvel__from__tracks/0.1-aaaaaaaaaa/g,2__s3.parquet\",0.1-aaaaaaaaaa,"
                 "2024-05-01T10:00:02+00:00,2024-05-01T10:05:00+00:00,speed-angvel__from__tracks,0.1,\"g,2\",s3,"
                 "aaaaaaaaaa,7\n");
  // A feature without inputs: the global marker row (abs_path is the run root).
  write_text(root / "global-summary" / "index.csv",
             std::string(kIndexHeader) +
                 "/ds/features/global-summary/0.2-cccccccccc,0.2-cccccccccc,2024-05-03T00:00:00+00:00,"
                 "2024-05-03T00:00:01+00:00,global-summary,0.2,,__global__,cccccccccc,0\n");
  write_text(root / "empty-file" / "index.csv", "");                // 0 bytes: pandas cannot read it
  write_text(root / "header-only" / "index.csv", kIndexHeader);     // no rows
  write_text(root / "no-run-id" / "index.csv", "group,sequence,abs_path\ng,s,/x.parquet\n");
  write_text(root / "ragged" / "index.csv", "a,b\n1,2,3,4\n");      // unreadable
  write_text(root / "not-an-index.csv", std::string(kIndexHeader));  // not one level down
  fs::create_directories(root / "no-index-here");
}

TEST(RegistryMigrate, ImportsReferenceFormatIndexes) {
  TempDir tmp;
  fs::path root = tmp / "features";
  write_reference_indexes(root);
  FeatureRegistry reg = FeatureRegistry::open(root, /*migrate_csv=*/false);
  EXPECT_EQ(reg.migrate_from_csv(root), 5);

  EXPECT_EQ(reg.list_features(), (std::vector<std::string>{"global-summary", "speed-angvel__from__tracks"}));
  auto runs = reg.list_runs("speed-angvel__from__tracks");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].run_id, "0.1-aaaaaaaaaa");  // finished
  EXPECT_EQ(runs[0].started_at, "2024-05-01T10:00:00.123456+00:00");  // from the run's first row
  EXPECT_EQ(runs[0].finished_at, "2024-05-01T10:05:00+00:00");
  EXPECT_EQ(runs[0].version, "0.1");
  EXPECT_EQ(runs[0].params_hash, "aaaaaaaaaa");
  EXPECT_EQ(runs[0].params_json, std::nullopt);
  EXPECT_EQ(runs[0].inputs_json, std::nullopt);
  EXPECT_EQ(runs[1].run_id, "0.1-bbbbbbbbbb");
  EXPECT_EQ(runs[1].finished_at, "");
  EXPECT_FALSE(reg.run_is_finished("speed-angvel__from__tracks", "0.1-bbbbbbbbbb"));
  EXPECT_EQ(reg.latest_run_id("speed-angvel__from__tracks"), "0.1-aaaaaaaaaa");

  auto entries = reg.list_entries("speed-angvel__from__tracks", std::string("0.1-aaaaaaaaaa"));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].group, "");
  EXPECT_EQ(entries[0].sequence, "s2");
  EXPECT_EQ(entries[0].n_rows, 0);  // "" -> 0
  EXPECT_EQ(entries[1].group, "g,2");
  EXPECT_EQ(entries[1].abs_path, "/ds/features/speed-angvel__from__tracks/0.1-aaaaaaaaaa/g,2__s3.parquet");
  EXPECT_EQ(entries[1].n_rows, 7);
  EXPECT_EQ(entries[2].n_rows, 12);  // pandas' "12.0"
  EXPECT_EQ(reg.list_entries("speed-angvel__from__tracks", std::string("0.1-bbbbbbbbbb"))[0].n_rows, 40);

  auto global = reg.list_entries("global-summary");
  ASSERT_EQ(global.size(), 1u);
  EXPECT_EQ(global[0].group, "");
  EXPECT_EQ(global[0].sequence, "__global__");
  EXPECT_EQ(global[0].abs_path, "/ds/features/global-summary/0.2-cccccccccc");
  EXPECT_TRUE(reg.run_is_finished("global-summary", "0.2-cccccccccc"));

  // INSERT OR IGNORE: a second migration counts the rows again but changes nothing.
  reg.mark_finished("speed-angvel__from__tracks", "0.1-bbbbbbbbbb");
  EXPECT_EQ(reg.migrate_from_csv(root), 5);
  EXPECT_TRUE(reg.run_is_finished("speed-angvel__from__tracks", "0.1-bbbbbbbbbb"));
  EXPECT_EQ(reg.entry_count("speed-angvel__from__tracks", "0.1-aaaaaaaaaa"), 3);

  EXPECT_EQ(reg.migrate_from_csv(tmp / "does-not-exist"), 0);
}

TEST(RegistryMigrate, OpenMigratesOnlyANewDatabase) {
  TempDir tmp;
  fs::path root = tmp / "features";
  write_reference_indexes(root);
  ::testing::internal::CaptureStderr();
  {
    FeatureRegistry reg = FeatureRegistry::open(root);
    EXPECT_EQ(reg.path(), root / ".mosaic.db");
    EXPECT_EQ(reg.entry_count("speed-angvel__from__tracks", "0.1-aaaaaaaaaa"), 3);
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "[registry] migrated 5 entries from CSV indices into " + (root / ".mosaic.db").string() + "\n");

  // The database exists now: a new index is not imported on the next open.
  write_text(root / "late" / "index.csv",
             std::string(kIndexHeader) + "/x.parquet,0.1-dddddddddd,2024-05-04T00:00:00+00:00,,late,0.1,g,s,dddddddddd,1\n");
  ::testing::internal::CaptureStderr();
  {
    FeatureRegistry reg = FeatureRegistry::open(root);
    EXPECT_FALSE(reg.has_run("late", "0.1-dddddddddd"));
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(RegistryMigrate, NoMigrationWhenDisabledOrNothingToImport) {
  TempDir tmp;
  fs::path root = tmp / "features";
  write_reference_indexes(root);
  ::testing::internal::CaptureStderr();
  { FeatureRegistry reg = FeatureRegistry::open(root, /*migrate_csv=*/false); EXPECT_TRUE(reg.list_features().empty()); }
  { FeatureRegistry reg = FeatureRegistry::open(tmp / "empty-features"); EXPECT_TRUE(reg.list_features().empty()); }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// ---- Training progress (§8.2) -------------------------------------------------------------------------

TEST(RegistryProgress, RowsOverwriteByPrimaryKeyAndReadBackInOrder) {
  TempDir tmp;
  fs::path db = tmp / ".mosaic.db";
  FeatureRegistry reg = FeatureRegistry::open_file(db);
  reg.record_progress("job1", "phase", 0, 0, "{}", "load: reading features");
  tick();
  reg.record_progress("job1", "class", 0, 3, "{}", "attack");
  tick();
  reg.record_progress("job1", "epoch", 0, 2, R"({"loss": 0.5, "acc": 1.0})", "");
  tick();
  reg.record_progress("job1", "epoch", 1, 2, R"({"loss": 0.25, "acc": 1e-05})", "");
  tick();
  reg.record_progress("job1", "phase", 0, 0, "{}", "fit: done");  // replaces the first phase row
  reg.record_progress("job2", "epoch", 0, 1, "{}", "");

  for (const auto& rows : {reg.read_progress("job1"), read_progress(db, "job1")}) {
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0].step_type, "class");
    EXPECT_EQ(rows[0].step_total, 3);
    EXPECT_EQ(rows[0].message, "attack");
    EXPECT_TRUE(rows[0].metrics.is_object() && rows[0].metrics.empty());
    EXPECT_EQ(rows[1].step_type, "epoch");
    EXPECT_EQ(rows[1].step_index, 0);
    EXPECT_EQ(python_json_dumps(rows[1].metrics), R"({"loss": 0.5, "acc": 1.0})");  // key order kept
    EXPECT_EQ(rows[2].step_index, 1);
    EXPECT_EQ(rows[2].metrics["acc"].get<double>(), 1e-05);
    EXPECT_EQ(rows[3].step_type, "phase");
    EXPECT_EQ(rows[3].message, "fit: done");
    EXPECT_TRUE(std::regex_match(rows[3].timestamp, kIsoRe)) << rows[3].timestamp;
  }
  EXPECT_TRUE(reg.read_progress("nobody").empty());
}

TEST(RegistryProgress, StandaloneReaderNeedsAnExistingDatabase) {
  TempDir tmp;
  fs::path db = tmp / "missing.db";
  try {
    read_progress(db, "job");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr(db.string()));
  }
  EXPECT_FALSE(fs::exists(db));  // the reader did not create it
}

TEST(RegistryProgress, StandaloneReaderDoesNotBlockAnOpenWriter) {
  TempDir tmp;
  fs::path db = tmp / ".mosaic.db";
  FeatureRegistry writer = FeatureRegistry::open_file(db);
  writer.record_progress("job", "epoch", 0, 5, "{}", "");
  // While the writer holds the write lock, a WAL reader still sees the last committed rows.
  writer.transaction([&] {
    writer.record_progress("job", "epoch", 1, 5, "{}", "");
    auto rows = read_progress(db, "job");
    EXPECT_EQ(rows.size(), 1u);
  });
  EXPECT_EQ(read_progress(db, "job").size(), 2u);
}

// ---- Concurrency ------------------------------------------------------------------------------------

// Two processes open the same (new) database at the same moment and each records 200 entries,
// one transaction per entry. Busy waiting + BEGIN IMMEDIATE must make both succeed, no row lost.
TEST(RegistryConcurrency, TwoProcessesWriteOneDatabaseAtOnce) {
  TempDir tmp;
  fs::path db = tmp / "features" / ".mosaic.db";
  constexpr int kPerChild = 200;
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> children;
  for (int child = 0; child < 2; ++child) {
    std::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: wait for the gate to open, then write. Never return into GoogleTest.
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) > 0) {
      }
      int code = 0;
      try {
        FeatureRegistry reg = FeatureRegistry::open_file(db);
        reg.record_run_start("f", "shared-run", "0.1", "h");
        for (int i = 0; i < kPerChild; ++i)
          reg.record_entry(entry("f", "shared-run", "child" + std::to_string(child), "s" + std::to_string(i), i));
        reg.record_run_start("f", "run-of-child" + std::to_string(child), "0.1", "h");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", child, e.what());
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // both children start now
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child failed, status " << status;
  }
  FeatureRegistry reg = FeatureRegistry::open_file(db);
  EXPECT_EQ(reg.entry_count("f", "shared-run"), 2 * kPerChild);
  EXPECT_EQ(reg.list_runs("f").size(), 3u);
  auto rows = reg.list_entries("f", std::string("shared-run"));
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(2 * kPerChild));
  EXPECT_EQ(rows.front().group, "child0");
  EXPECT_EQ(rows.back().group, "child1");
}

}  // namespace
}  // namespace mosaic

#include "mosaic/dataset.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "common/test_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace mosaic {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

Table small_tracks() {
  Table t;
  t.add_column("frame", Column::from_int64({1, 0, 1, 0}));
  t.add_column("time", Column::from_float64({1 / 30.0, 0, 1 / 30.0, 0}));
  t.add_column("id", Column::from_int64({0, 0, 1, 1}));
  t.add_column("X", Column::from_float64({1, 2, 3, 4}));
  t.add_column("Y", Column::from_float64({5, 6, 7, 8}));
  return t;
}

std::string expect_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an error";
  return "";
}

TEST(DatasetTest, CreateWritesManifestAndRoots) {
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {.name = "mice", .fps = 30.0});
  EXPECT_EQ(ds.name(), "mice");
  ASSERT_TRUE(ds.fps_default());
  EXPECT_EQ(*ds.fps_default(), 30.0);
  EXPECT_TRUE(fs::is_directory(tmp / "d" / "tracks"));
  EXPECT_TRUE(fs::is_directory(tmp / "d" / "media" / "frames"));
  std::string text = read_file_text(tmp / "d" / "dataset.yaml");
  EXPECT_NE(text.find("fps_default: 30.0"), std::string::npos) << text;
  EXPECT_NE(text.find("  frames: media/frames"), std::string::npos) << text;
  EXPECT_NE(text.find("index_format: group/sequence"), std::string::npos) << text;
  // Re-open from the folder and from the file.
  EXPECT_EQ(Dataset::open(tmp / "d").name(), "mice");
  EXPECT_EQ(Dataset::open(tmp / "d" / "dataset.yaml").root("tracks"), fs::weakly_canonical(tmp / "d" / "tracks"));
  EXPECT_NE(expect_error([&] { Dataset::create(tmp / "d", {}); }).find("already exists"), std::string::npos);
}

TEST(DatasetTest, ManifestErrorsNameFileAndKey) {
  TempDir tmp;
  write_file_atomic(tmp / "dataset.yaml", "name: x\nfps_default: 30\n");
  std::string msg = expect_error([&] { Dataset::open(tmp.path()); });
  EXPECT_NE(msg.find("dataset.yaml: unknown manifest key 'fps_default' (fps belongs under 'meta:'"), std::string::npos) << msg;
  write_file_atomic(tmp / "dataset.yaml", "name: x\nrots:\n  tracks: t\n");
  msg = expect_error([&] { Dataset::open(tmp.path()); });
  EXPECT_NE(msg.find("unknown manifest key 'rots' (did you mean 'roots'?)"), std::string::npos) << msg;
  write_file_atomic(tmp / "dataset.yaml", "name: x\nmeta:\n  fps_default: fast\n");
  msg = expect_error([&] { Dataset::open(tmp.path()); });
  EXPECT_NE(msg.find("meta.fps_default must be a number"), std::string::npos) << msg;
  write_file_atomic(tmp / "dataset.yaml", "name: [x\n");
  msg = expect_error([&] { Dataset::open(tmp.path()); });
  EXPECT_NE(msg.find("dataset.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
  msg = expect_error([&] { Dataset::open(tmp / "nowhere"); });
  EXPECT_NE(msg.find("no such dataset"), std::string::npos) << msg;
  fs::create_directories(tmp / "empty");
  msg = expect_error([&] { Dataset::open(tmp / "empty"); });
  EXPECT_NE(msg.find("No manifest found in directory"), std::string::npos) << msg;
}

TEST(DatasetTest, ReadsPythonStyleManifestAndSaves) {
  TempDir tmp;
  write_file_atomic(tmp / "dataset.yaml",
                    "# comment\nname: calms21-minimal\nversion: 0.1\nformat: yaml\nroots:\n  tracks: tracks\n"
                    "  features: features\n  models: /abs/models\nmeta:\n  fps_default: 30.0\ndataset_type: discrete\n"
                    "uuid: 1234\ncreated_at: '2024-01-01T00:00:00+00:00'\nindex_format: group/sequence\n");
  fs::create_directories("/tmp/mosaic-abs-models-ignored");
  Dataset ds = Dataset::open(tmp.path());
  EXPECT_EQ(ds.version(), "0.1");  // YAML float 0.1 -> str() -> "0.1"
  EXPECT_EQ(ds.root("models"), fs::path("/abs/models"));
  EXPECT_FALSE(ds.has_root("labels"));
  EXPECT_NE(expect_error([&] { (void)ds.root("labels"); }).find("Root 'labels' is not set in manifest"), std::string::npos);
  ds.save();
  std::string text = read_file_text(tmp / "dataset.yaml");
  EXPECT_EQ(text.find("uuid"), std::string::npos);  // save() keeps only the keys it knows
  EXPECT_NE(text.find("version: '0.1'"), std::string::npos) << text;
  EXPECT_EQ(Dataset::open(tmp.path()).version(), "0.1");
}

TEST(DatasetTest, JsonManifest) {
  TempDir tmp;
  write_file_atomic(tmp / "dataset.json", R"({"name": "j", "roots": {"tracks": "t"}, "meta": {"fps_default": 25}})");
  Dataset ds = Dataset::open(tmp.path());
  EXPECT_EQ(ds.name(), "j");
  EXPECT_EQ(*ds.fps_default(), 25.0);
  EXPECT_TRUE(fs::is_directory(tmp / "t"));
}

TEST(DatasetTest, WriteAndLoadTracks) {
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {.fps = 30.0});
  ds.write_tracks("g 1", "s1", small_tracks(), {.std_format = "csv", .sources = {}});
  ds.write_tracks("", "s2", small_tracks(), {.std_format = "csv", .sources = {}});
  EXPECT_TRUE(fs::exists(tmp / "d" / "tracks" / "g%201__s1.parquet"));
  EXPECT_TRUE(fs::exists(tmp / "d" / "tracks" / "s2.parquet"));
  Table t = ds.load_tracks("g 1", "s1");
  ASSERT_EQ(t.num_rows(), 4u);
  EXPECT_EQ(t.column("frame").i64()[0], 0);
  EXPECT_EQ(t.column("id").i64()[1], 1);
  EXPECT_EQ(t.column("X").f64()[0], 2.0);
  EXPECT_EQ(t.column("group").str(0), "g 1");
  EXPECT_EQ(t.column("sequence").str(3), "s1");
  TextCsv idx = TextCsv::read(tmp / "d" / "tracks" / "index.csv");
  EXPECT_EQ(join_names(idx.header, ","),
            "group,sequence,group_safe,sequence_safe,collection,collection_safe,abs_path,std_format,source_abs_path,"
            "source_md5,n_rows");
  ASSERT_EQ(idx.rows.size(), 2u);
  EXPECT_EQ(idx.cell(0, "abs_path"), "tracks/g%201__s1.parquet");
  EXPECT_EQ(idx.cell(0, "group_safe"), "g%201");
  EXPECT_EQ(idx.cell(0, "n_rows"), "4");
  // Rewriting an entry replaces its row.
  ds.write_tracks("g 1", "s1", small_tracks(), {.std_format = "csv", .sources = {}});
  EXPECT_EQ(TextCsv::read(tmp / "d" / "tracks" / "index.csv").rows.size(), 2u);
  EXPECT_EQ(ds.list_groups(), (std::vector<std::string>{"", "g 1"}));
  EXPECT_EQ(ds.list_sequences(), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(ds.list_sequences("g 1"), (std::vector<std::string>{"s1"}));
}

TEST(DatasetTest, BadTracksAreRefusedWithoutWriting) {
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {.fps = 30.0});
  Table dup = small_tracks();
  dup.mutable_column("frame").i64_mut()[0] = 0;  // (0, 0) twice
  std::string msg = expect_error([&] { ds.write_tracks("g", "s", dup, {.std_format = "csv", .sources = {"in.csv"}}); });
  EXPECT_EQ(msg, "in.csv: duplicate rows for (frame 0, id 0); each animal may appear once per frame");
  Table no_id = small_tracks();
  no_id.drop_column("id");
  msg = expect_error([&] { ds.write_tracks("g", "s", no_id, {.std_format = "csv", .sources = {"in.csv"}}); });
  EXPECT_EQ(msg.rfind("in.csv: missing column 'id'", 0), 0u) << msg;
  for (const char* bad : {"../x", "/abs", "..", "a\\b"}) {
    msg = expect_error([&] { ds.write_tracks("g", bad, small_tracks(), {}); });
    EXPECT_NE(msg.find("would escape the dataset folder"), std::string::npos) << msg;
    msg = expect_error([&] { ds.write_tracks(bad, "s", small_tracks(), {}); });
    EXPECT_NE(msg.find("group name"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(tmp / "d" / "tracks" / "index.csv"));
  // DECISIONS P4: an entry-key collision is refused.
  ds.write_tracks("a__b", "c", small_tracks(), {});
  msg = expect_error([&] { ds.write_tracks("a", "b__c", small_tracks(), {}); });
  EXPECT_NE(msg.find("would be stored as 'a__b__c', which entry (a__b, c) already uses"), std::string::npos) << msg;
}

TEST(DatasetTest, MinimalThreeColumnTracksIndexAndResolvePaths) {
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {});
  ds.write_tracks("g", "s", small_tracks(), {});
  // Readers accept a minimal index (group, sequence, abs_path) with an absolute path.
  std::string abs = (fs::weakly_canonical(tmp / "d" / "tracks" / "g__s.parquet")).string();
  write_file_atomic(tmp / "d" / "tracks" / "index.csv", "group,sequence,abs_path\ng,s," + abs + "\n");
  auto idx = ds.tracks_index();
  ASSERT_EQ(idx.size(), 1u);
  EXPECT_EQ(idx[0].path, fs::path(abs));
  EXPECT_EQ(ds.load_tracks("g", "s").num_rows(), 4u);
  EXPECT_EQ(ds.resolve_path("tracks/x.parquet"), fs::weakly_canonical(tmp / "d") / "tracks/x.parquet");
  ds.remap_roots({{"/old/machine/", "/new/place/"}});
  EXPECT_EQ(ds.resolve_path("/old/machine/a.parquet"), fs::path("/new/place/a.parquet"));
}

}  // namespace
}  // namespace mosaic

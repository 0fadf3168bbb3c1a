// Tests for the DeepLabCut, SLEAP analysis and JABS importers, the canonical CSV/Parquet
// importers and the import_tracks dispatcher.
//
// Golden part: each importer must reproduce ../shared/data/<dataset>/tracks/<sequence>.csv, value
// by value: same columns, same (frame, id) rows, same missing cells, numbers equal up to the
// printed precision (4 decimals; ANGLE 5; time 6). Error part: every bad input gives a message
// that names the file and says what was expected and found, checked by text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include "mosaic/csv.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/importers.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kShared = fs::path(MOSAIC_SOURCE_DIR) / ".." / "shared" / "data";

#define REQUIRE_SHARED_DATA() \
  if (!fs::exists(kShared)) GTEST_SKIP() << "needs ../shared/data (absent)"

class ScratchDir {
 public:
  ScratchDir() {
    path_ = fs::temp_directory_path() /
            ("mosaic_import_dsj_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path file(const std::string& name, const std::string& content) const {
    fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// Run `f`, expect an exception of type E, return its message (empty + failure otherwise).
template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

// --- comparison against a shared canonical CSV ---------------------------------------------------

struct Comparison {
  std::size_t rows = 0;
  std::map<std::string, double> max_abs;  // per column group
  std::size_t mismatches = 0;
  std::string first_mismatch;
};

std::string column_group(const std::string& name) {
  if (name == "time") return "time";
  if (name == "X" || name == "Y") return "X/Y";
  if (name == "ANGLE") return "ANGLE";
  if (name.starts_with("poseP")) return "poseP";
  return "poseXY";
}

// Tolerance = half a unit of the last printed decimal, plus a little for the binary rounding of
// the printed value itself.
double tolerance(const std::string& group) {
  if (group == "time") return 0.5e-6 + 1e-12;
  if (group == "ANGLE") return 0.5e-5 + 1e-12;
  return 0.5e-4 + 1e-9;
}

Comparison compare_with_reference(const Table& got, const fs::path& reference_csv) {
  Comparison out;
  Table ref = read_csv(reference_csv);
  EXPECT_EQ(got.column_names(), ref.column_names()) << reference_csv;
  EXPECT_EQ(got.num_rows(), ref.num_rows()) << reference_csv;
  if (got.column_names() != ref.column_names() || got.num_rows() != ref.num_rows()) return out;
  out.rows = ref.num_rows();
  EXPECT_EQ(got.column("frame").type(), DType::kInt64);
  EXPECT_EQ(got.column("id").type(), DType::kInt64);
  for (const std::string& key : {std::string("frame"), std::string("id")}) {
    const Column& g = got.column(key);
    const Column& r = ref.column(key);
    for (std::size_t row = 0; row < out.rows; ++row) {
      if (g.as_int64(row) != r.as_int64(row)) {
        ++out.mismatches;
        if (out.first_mismatch.empty())
          out.first_mismatch = "row " + std::to_string(row) + " " + key + ": got " + std::to_string(g.as_int64(row)) +
                               " expected " + std::to_string(r.as_int64(row));
      }
    }
  }
  for (const std::string& name : ref.column_names()) {
    if (name == "frame" || name == "id") continue;
    const std::string group = column_group(name);
    const double tol = tolerance(group);
    const Column& g = got.column(name);
    const Column& r = ref.column(name);
    EXPECT_EQ(g.type(), DType::kFloat64) << name;
    double& worst = out.max_abs[group];
    for (std::size_t row = 0; row < out.rows; ++row) {
      const double a = g.as_double(row), b = r.as_double(row);
      const bool both_missing = std::isnan(a) && std::isnan(b);
      const double diff = both_missing ? 0.0 : std::fabs(a - b);
      if (!both_missing && (std::isnan(a) || std::isnan(b) || !(diff <= tol))) {
        ++out.mismatches;
        if (out.first_mismatch.empty())
          out.first_mismatch = "column " + name + ", frame " + std::to_string(ref.column("frame").as_int64(row)) +
                               ", id " + std::to_string(ref.column("id").as_int64(row)) + ": got " + std::to_string(a) +
                               " expected " + std::to_string(b);
        continue;
      }
      worst = std::max(worst, diff);
    }
  }
  return out;
}

void expect_reproduces(const ImportedSequence& seq, const fs::path& reference_csv) {
  Comparison c = compare_with_reference(seq.tracks, reference_csv);
  EXPECT_EQ(c.mismatches, 0u) << "first mismatch: " << c.first_mismatch;
  // The per-group figures go to the log: they are what the importer report quotes.
  std::cout << "[compare] " << reference_csv.filename().string() << ": " << c.rows << " rows;";
  for (const auto& [group, diff] : c.max_abs) std::cout << " " << group << " max|diff| " << diff << ";";
  std::cout << "\n";
  EXPECT_GT(c.rows, 0u);
}

std::string joined(const std::vector<std::string>& notes) { return join_names(notes, " | "); }

// =================================================================================================
// Golden: the shared datasets

TEST(ImporterDlc, MultiAnimalReproducesSharedCsv) {
  REQUIRE_SHARED_DATA();
  const fs::path raw = kShared / "deepof_mice2/raw/testDLC_csv_table_madlc_long.csv";
  ImportOptions opt;
  opt.format = "dlc";
  opt.fps = 30.0;
  ImportedSequence seq = import_dlc_csv(raw, opt);
  EXPECT_EQ(seq.sequence, "testDLC_csv_table_madlc_long");
  EXPECT_EQ(seq.fps, 30.0);
  ASSERT_EQ(seq.keypoints.size(), 14u);
  EXPECT_EQ(seq.keypoints[0], "Nose");
  EXPECT_EQ(seq.keypoints[13], "Right_fhip");
  EXPECT_THAT(joined(seq.notes), HasSubstr("ANGLE from 'Tail_base' (6) to 'Spine_1' (3)"));
  EXPECT_THAT(joined(seq.notes), HasSubstr("ids: 0 = 'mouse_black_tail', 1 = 'mouse_white_tail'"));
  expect_reproduces(seq, kShared / "deepof_mice2/tracks/madlc_CSDS_SI.csv");
}

TEST(ImporterDlc, PrefixLayoutReproducesSharedCsvWithoutFps) {
  REQUIRE_SHARED_DATA();
  const fs::path raw = kShared / "deepof_mice2/raw/testDLC_csv_table_multi.csv";
  ImportOptions opt;
  opt.format = "dlc";
  ImportedSequence seq = import_dlc_csv(raw, opt);
  EXPECT_FALSE(seq.fps.has_value());
  EXPECT_THAT(joined(seq.notes), HasSubstr("auto-detected): B_, W_"));
  EXPECT_THAT(joined(seq.notes), HasSubstr("ids: 0 = 'B', 1 = 'W'"));
  EXPECT_THAT(joined(seq.notes), HasSubstr("fps unknown"));
  ASSERT_EQ(seq.keypoints.size(), 14u);
  EXPECT_EQ(seq.keypoints[6], "Tail_base");
  const auto time = seq.tracks.column("time").f64();
  EXPECT_TRUE(std::all_of(time.begin(), time.end(), [](double t) { return std::isnan(t); }));
  expect_reproduces(seq, kShared / "deepof_mice2/tracks/multi_topview_BW.csv");

  // Explicit prefixes give the same table; {""} forces a single animal with 28 keypoints.
  opt.individual_prefixes = {"B_", "W_"};
  EXPECT_TRUE(import_dlc_csv(raw, opt).tracks.equals(seq.tracks));
  opt.individual_prefixes = {""};
  ImportedSequence one = import_dlc_csv(raw, opt);
  EXPECT_EQ(one.keypoints.size(), 28u);
  EXPECT_EQ(one.tracks.num_rows(), 98u);
  // Prefixes in the other order swap the ids.
  opt.individual_prefixes = {"W_", "B_"};
  ImportedSequence swapped = import_dlc_csv(raw, opt);
  EXPECT_EQ(swapped.tracks.column("X").f64()[0], seq.tracks.column("X").f64()[1]);
}

TEST(ImporterSleap, AnalysisH5ReproducesSharedCsv) {
  REQUIRE_SHARED_DATA();
  const fs::path raw = kShared / "sleap_flies2/raw/centered_pair_standard.analysis.h5";
  ImportOptions opt;
  opt.format = "sleap";
  opt.fps = 15.0;
  ImportedSequence seq = import_sleap_analysis_h5(raw, opt);
  EXPECT_EQ(seq.sequence, "centered_pair_standard");
  ASSERT_EQ(seq.keypoints.size(), 24u);
  EXPECT_EQ(seq.keypoints[2], "thorax");
  EXPECT_EQ(seq.keypoints[6], "forelegL1");  // fills its 9-byte fixed-length field
  EXPECT_EQ(seq.keypoints[23], "hindlegR3");
  const std::string notes = joined(seq.notes);
  EXPECT_THAT(notes, HasSubstr("dropped 25 of 27 SLEAP tracks"));
  EXPECT_THAT(notes, HasSubstr("'3' (4)"));
  EXPECT_THAT(notes, HasSubstr("ids: 0 = track '1', 1 = track '2'"));
  EXPECT_THAT(notes, HasSubstr("ANGLE from 'thorax' (2) to 'head' (0)"));
  expect_reproduces(seq, kShared / "sleap_flies2/tracks/centered_pair.csv");
}

TEST(ImporterSleap, MinTrackFractionKeepsOrDropsTracks) {
  REQUIRE_SHARED_DATA();
  const fs::path raw = kShared / "sleap_flies2/raw/centered_pair_standard.analysis.h5";
  ImportOptions opt;
  opt.min_track_fraction = 0.0;
  ImportedSequence all = import_sleap_analysis_h5(raw, opt);
  EXPECT_EQ(all.tracks.num_rows(), 1100u * 27u);
  opt.min_track_fraction = 1.0;
  EXPECT_EQ(import_sleap_analysis_h5(raw, opt).tracks.num_rows(), 1100u * 2u);
  opt.min_track_fraction = 1.5;
  EXPECT_THAT(error_of<InputError>([&] { import_sleap_analysis_h5(raw, opt); }),
              HasSubstr("min_track_fraction must be in [0, 1], got 1.5"));
}

TEST(ImporterJabs, PoseV5ReproducesSharedCsv) {
  REQUIRE_SHARED_DATA();
  const fs::path raw = kShared / "jabs_mice4/raw/example_pose_est_v5.h5";
  ImportOptions opt;
  opt.format = "jabs";
  ImportedSequence seq = import_jabs_h5(raw, opt);
  EXPECT_EQ(seq.sequence, "example");
  EXPECT_EQ(seq.fps, 30.0);
  const std::string notes = joined(seq.notes);
  EXPECT_THAT(notes, HasSubstr("assumed 30"));
  EXPECT_THAT(notes, HasSubstr("ANGLE from 'BASE_TAIL' (9) to 'BASE_NECK' (3)"));
  expect_reproduces(seq, kShared / "jabs_mice4/tracks/jabs_v5_example.csv");
}

TEST(ImporterCanonical, SharedCsvsImportUnchanged) {
  REQUIRE_SHARED_DATA();
  for (const char* rel : {"jabs_mice4/tracks/jabs_v5_example.csv", "deepof_mice2/tracks/multi_topview_BW.csv",
                          "sleap_flies2/tracks/centered_pair.csv"}) {
    ImportedSequence seq = import_canonical_csv(kShared / rel, ImportOptions{.format = "csv"});
    EXPECT_EQ(seq.sequence, fs::path(rel).stem().string());
    expect_reproduces(seq, kShared / rel);
  }
}

TEST(ImporterCanonical, ParquetRoundTrip) {
  REQUIRE_SHARED_DATA();
  ScratchDir dir;
  const fs::path csv = kShared / "deepof_mice2/tracks/madlc_CSDS_SI.csv";
  ImportedSequence from_csv = import_canonical_csv(csv, ImportOptions{.format = "csv"});
  Table with_keys = from_csv.tracks;
  with_keys.add_column("group", Column::constant_string("g", with_keys.num_rows()));
  with_keys.add_column("sequence", Column::constant_string("s", with_keys.num_rows()));
  const fs::path pq = dir.path() / "madlc.parquet";
  write_parquet(with_keys, pq);
  ImportedSequence from_pq = import_canonical_parquet(pq, ImportOptions{.format = "parquet"});
  EXPECT_EQ(from_pq.sequence, "madlc");
  EXPECT_THAT(joined(from_pq.notes), HasSubstr("dropped the file's group, sequence column(s)"));
  expect_reproduces(from_pq, csv);
}

// =================================================================================================
// Dispatcher and wrong inputs

TEST(ImportTracks, FormatsAndDispatch) {
  EXPECT_EQ(import_formats(), (std::vector<std::string>{"csv", "dlc", "idtrackerai", "jabs", "parquet", "sleap", "trex"}));
  REQUIRE_SHARED_DATA();
  ImportOptions opt;
  opt.format = "jabs";
  opt.group = "g1";
  auto seqs = import_tracks({kShared / "jabs_mice4/raw/example_pose_est_v5.h5"}, opt);
  ASSERT_EQ(seqs.size(), 1u);
  EXPECT_EQ(seqs[0].group, "g1");
  EXPECT_EQ(seqs[0].sequence, "example");
  ASSERT_EQ(seqs[0].sources.size(), 1u);
  opt.sequence = "mice";
  EXPECT_EQ(import_tracks({kShared / "jabs_mice4/raw/example_pose_est_v5.h5"}, opt)[0].sequence, "mice");
}

TEST(ImportTracks, UnknownFormatSuggestsAndLists) {
  ImportOptions opt;
  opt.format = "sleep";
  std::string msg = error_of<InputError>([&] { import_tracks({"x.csv"}, opt); });
  EXPECT_THAT(msg, HasSubstr("unknown import format 'sleep' (did you mean 'sleap'?)"));
  EXPECT_THAT(msg, HasSubstr("formats: csv, dlc, idtrackerai, jabs, parquet, sleap, trex"));
}

TEST(ImportTracks, MissingFileIsIoError) {
  ScratchDir dir;
  for (const char* format : {"csv", "parquet", "dlc", "sleap", "jabs", "idtrackerai", "trex"}) {
    ImportOptions opt;
    opt.format = format;
    std::string msg = error_of<IoError>([&] { import_tracks({dir.path() / "nope.dat"}, opt); });
    EXPECT_THAT(msg, HasSubstr("nope.dat: no such file")) << format;
  }
  ImportOptions opt;
  opt.format = "dlc";
  EXPECT_THAT(error_of<IoError>([&] { import_tracks({dir.path()}, opt); }), HasSubstr("is a directory"));
}

TEST(ImportTracks, WrongFormatSaysExpectedAndFound) {
  REQUIRE_SHARED_DATA();
  const fs::path dlc = kShared / "deepof_mice2/raw/testDLC_csv_table_multi.csv";
  const fs::path jabs = kShared / "jabs_mice4/raw/example_pose_est_v5.h5";
  const fs::path sleap = kShared / "sleap_flies2/raw/centered_pair_standard.analysis.h5";
  const fs::path canonical = kShared / "jabs_mice4/tracks/jabs_v5_example.csv";
  auto run = [](const fs::path& file, const std::string& format) {
    ImportOptions opt;
    opt.format = format;
    return error_of<InputError>([&] { import_tracks({file}, opt); });
  };
  // A DLC CSV as SLEAP / JABS: not HDF5 at all.
  std::string msg = run(dlc, "sleap");
  EXPECT_THAT(msg, HasSubstr(dlc.string() + ": expected a SLEAP analysis HDF5 file"));
  EXPECT_THAT(msg, HasSubstr("found a text file starting with 'scorer,DLC_resnet50"));
  EXPECT_THAT(msg, HasSubstr("(looks like format 'dlc')"));
  EXPECT_THAT(run(dlc, "jabs"), HasSubstr("expected a JABS pose HDF5 file"));
  // HDF5 files of the other kind: the missing dataset and what the file holds.
  msg = run(jabs, "sleap");
  EXPECT_THAT(msg, HasSubstr("(with dataset 'tracks'), found an HDF5 file with top-level objects: poseest, "
                             "static_objects (looks like format 'jabs')"));
  msg = run(sleap, "jabs");
  EXPECT_THAT(msg, HasSubstr("(with dataset 'poseest/points')"));
  EXPECT_THAT(msg, HasSubstr("(looks like format 'sleap')"));
  // HDF5 / canonical CSV as DLC.
  EXPECT_THAT(run(sleap, "dlc"), HasSubstr("expected a DeepLabCut CSV (header rows scorer, [individuals,] bodyparts, "
                                           "coords), found an HDF5 file"));
  msg = run(canonical, "dlc");
  EXPECT_THAT(msg, HasSubstr("found a text file starting with 'frame,time,id,X,Y,ANGLE"));
  EXPECT_THAT(msg, HasSubstr("(looks like format 'csv')"));
  // DLC CSV / HDF5 as canonical CSV or Parquet.
  EXPECT_THAT(run(dlc, "csv"), HasSubstr("expected a canonical track CSV (header frame,time,id,X,Y,...), found a text "
                                         "file starting with 'scorer,"));
  EXPECT_THAT(run(jabs, "csv"), HasSubstr("found an HDF5 file"));
  EXPECT_THAT(run(canonical, "parquet"), HasSubstr("expected a Parquet track table, found a text file"));
}

TEST(ImportTracks, PlainTextAsJabs) {
  ScratchDir dir;
  fs::path txt = dir.file("notes.txt", "hello\nworld\n");
  ImportOptions opt;
  opt.format = "jabs";
  EXPECT_THAT(error_of<InputError>([&] { import_tracks({txt}, opt); }),
              HasSubstr("notes.txt: expected a JABS pose HDF5 file (poseest/points, poseest/confidence), found a text "
                        "file starting with 'hello'"));
  fs::path empty = dir.file("empty.h5", "");
  EXPECT_THAT(error_of<InputError>([&] { import_tracks({empty}, opt); }), HasSubstr("found an empty file"));
}

TEST(ImportTracks, TruncatedHdf5IsIoError) {
  REQUIRE_SHARED_DATA();
  ScratchDir dir;
  for (const char* rel : {"jabs_mice4/raw/example_pose_est_v5.h5", "sleap_flies2/raw/centered_pair_standard.analysis.h5"}) {
    std::string bytes = read_file_text(kShared / rel);
    fs::path cut = dir.file(fs::path(rel).filename().string(), bytes.substr(0, bytes.size() / 2));
    for (const char* format : {"jabs", "sleap"}) {
      ImportOptions opt;
      opt.format = format;
      std::string msg = error_of<IoError>([&] { import_tracks({cut}, opt); });
      EXPECT_THAT(msg, HasSubstr(cut.string() + ": cannot open HDF5 file (truncated or corrupt?)")) << format;
      EXPECT_THAT(msg, HasSubstr("truncated file")) << format;
    }
  }
}

TEST(ImportTracks, SequenceNamesMustBeDistinct) {
  REQUIRE_SHARED_DATA();
  const fs::path jabs = kShared / "jabs_mice4/raw/example_pose_est_v5.h5";
  ImportOptions opt;
  opt.format = "jabs";
  opt.sequence = "one";
  EXPECT_THAT(error_of<InputError>([&] { import_tracks({jabs, jabs}, opt); }),
              HasSubstr("sequence 'one' names one sequence but 2 files were given"));
  opt.sequence.clear();
  EXPECT_THAT(error_of<InputError>([&] { import_tracks({jabs, jabs}, opt); }), HasSubstr("both give sequence 'example'"));
}

TEST(ImportTracks, HeadingAngle) {
  EXPECT_DOUBLE_EQ(heading_angle(0, 0, 1, 0), 0.0);
  EXPECT_DOUBLE_EQ(heading_angle(0, 0, 0, 1), std::numbers::pi / 2);  // y down: "below" is +pi/2
  EXPECT_DOUBLE_EQ(heading_angle(0, 0, -1, 0), std::numbers::pi);
  EXPECT_DOUBLE_EQ(heading_angle(0, 0.0, -1, -0.0), std::numbers::pi);  // never -pi
  EXPECT_TRUE(std::isnan(heading_angle(NAN, 0, 1, 1)));
  EXPECT_TRUE(std::isnan(heading_angle(0, 0, 1, NAN)));
}

// =================================================================================================
// HDF5 layouts the shared data lacks: tiny fixtures from tests/data/importers/make_h5_fixtures.c

const fs::path kFixtures = fs::path(MOSAIC_SOURCE_DIR) / "tests" / "data" / "importers";

// The SLEAP fixtures' formulas (see make_h5_fixtures.c).
bool sleap_present(int t, int k, int f) { return !(t == 0 && k == 2 && f == 1) && !(t == 1 && f == 3) && !(t == 2 && f != 2); }

void expect_sleap_fixture(const Table& t, int n_tracks) {
  const int n_frames = 20, n_nodes = 3;
  ASSERT_EQ(t.num_rows(), static_cast<std::size_t>(n_frames * n_tracks));
  for (int f = 0; f < n_frames; ++f) {
    for (int a = 0; a < n_tracks; ++a) {
      const std::size_t row = static_cast<std::size_t>(f * n_tracks + a);
      ASSERT_EQ(t.column("frame").i64()[row], f);
      ASSERT_EQ(t.column("id").i64()[row], a);
      double sx = 0, sy = 0;
      int present = 0;
      for (int k = 0; k < n_nodes; ++k) {
        const double x = t.column("poseX" + std::to_string(k)).f64()[row];
        const double y = t.column("poseY" + std::to_string(k)).f64()[row];
        const double p = t.column("poseP" + std::to_string(k)).f64()[row];
        if (!sleap_present(a, k, f)) {
          EXPECT_TRUE(std::isnan(x) && std::isnan(y)) << "frame " << f << " id " << a << " k " << k;
          EXPECT_EQ(p, 0.0);
          continue;
        }
        EXPECT_EQ(x, 100.0 * a + 10.0 * k + f);
        EXPECT_EQ(y, 500.0 + 100.0 * a + 10.0 * k + f);
        EXPECT_DOUBLE_EQ(p, 0.5 + 0.01 * k + 0.1 * a);
        sx += x;
        sy += y;
        ++present;
      }
      const double angle = t.column("ANGLE").f64()[row];
      if (present == 0) {
        EXPECT_TRUE(std::isnan(t.column("X").f64()[row]));
        EXPECT_TRUE(std::isnan(angle));
      } else {
        EXPECT_DOUBLE_EQ(t.column("X").f64()[row], sx / present);
        EXPECT_DOUBLE_EQ(t.column("Y").f64()[row], sy / present);
        EXPECT_DOUBLE_EQ(angle, -3 * std::numbers::pi / 4);  // thorax -> head: (-10, -10)
      }
    }
  }
}

TEST(ImporterSleap, LegacyLayoutsWithoutDims) {
  Table first;
  for (const char* name : {"sleap_legacy.analysis.h5", "sleap_transpose0.analysis.h5"}) {
    SCOPED_TRACE(name);
    ImportedSequence seq = import_sleap_analysis_h5(kFixtures / name, ImportOptions{});
    EXPECT_THAT(joined(seq.notes), HasSubstr("dropped 1 of 3 SLEAP tracks with an instance in fewer than 10% of the 20 "
                                             "frames (min_track_fraction = 0.1); track (frames): 'c' (1)"));
    EXPECT_THAT(joined(seq.notes), HasSubstr("fps unknown"));
    expect_sleap_fixture(seq.tracks, 2);
    if (first.num_columns() == 0) first = seq.tracks;
    else EXPECT_TRUE(seq.tracks.equals(first));
    ImportOptions all;
    all.min_track_fraction = 0.0;
    expect_sleap_fixture(import_sleap_analysis_h5(kFixtures / name, all).tracks, 3);
    ImportOptions full;  // track 'a' has an instance in every frame (head and thorax in frame 1)
    full.min_track_fraction = 1.0;
    ImportedSequence only_a = import_sleap_analysis_h5(kFixtures / name, full);
    EXPECT_EQ(only_a.tracks.num_rows(), 20u);
    EXPECT_THAT(joined(only_a.notes), HasSubstr("track (frames): 'b' (19), 'c' (1)"));
  }
}

TEST(ImporterJabs, V2SingleMouse) {
  ImportOptions opt;
  opt.fps = 25.0;
  ImportedSequence seq = import_jabs_h5(kFixtures / "jabs_v2_pose_est_v2.h5", opt);
  EXPECT_EQ(seq.sequence, "jabs_v2");
  EXPECT_EQ(seq.fps, 25.0);
  const Table& t = seq.tracks;
  ASSERT_EQ(t.num_rows(), 3u);
  for (std::size_t f = 0; f < 3; ++f) {
    EXPECT_EQ(t.column("id").i64()[f], 0);
    EXPECT_DOUBLE_EQ(t.column("time").f64()[f], static_cast<double>(f) / 25.0);
    for (int k = 0; k < 11; ++k) {
      EXPECT_EQ(t.column("poseX" + std::to_string(k)).f64()[f], 10.0 * k + static_cast<double>(f));
      EXPECT_EQ(t.column("poseY" + std::to_string(k)).f64()[f], 50.0 + k);
      EXPECT_EQ(t.column("poseP" + std::to_string(k)).f64()[f], static_cast<double>(0.9f));
    }
    EXPECT_TRUE(std::isnan(t.column("poseX11").f64()[f]));  // confidence 0 -> missing, not (0, 0)
    EXPECT_EQ(t.column("poseP11").f64()[f], 0.0);
    EXPECT_DOUBLE_EQ(t.column("X").f64()[f], 50.0 + static_cast<double>(f));  // mean of 10 k + f, k = 0..10
  }
}

TEST(ImporterJabs, V3WithoutIdentitiesIsRefused) {
  const fs::path file = kFixtures / "jabs_v3_pose_est_v3.h5";
  EXPECT_THAT(error_of<InputError>([&] { import_jabs_h5(file, ImportOptions{}); }),
              HasSubstr(file.string() + ": JABS pose v3 has no 'poseest/instance_embed_id' (animal identities); "
                                        "expected pose version 4 or later"));
}

TEST(ImporterJabs, V4IdentityClashAndInstanceCount) {
  ImportedSequence seq = import_jabs_h5(kFixtures / "jabs_v4_pose_est_v4.h5", ImportOptions{});
  EXPECT_THAT(joined(seq.notes), HasSubstr("1 frames have one JABS identity in two instance slots; the first slot was kept"));
  const Table& t = seq.tracks;
  ASSERT_EQ(t.num_rows(), 4u);  // 2 frames x ids 0..1 (largest embed id 2)
  auto x0 = t.column("poseX0").f64();
  auto y0 = t.column("poseY0").f64();
  EXPECT_EQ(x0[0], 1000.0);  // frame 0, id 0: slot 0 (slot 1 repeats identity 1)
  EXPECT_EQ(y0[0], 0.0);     // a real 0 coordinate with confidence 1 is kept
  EXPECT_EQ(x0[1], 1200.0);  // frame 0, id 1: slot 2
  EXPECT_EQ(y0[1], 200.0);
  EXPECT_TRUE(std::isnan(x0[2]));  // frame 1, id 0: only in slot 1, beyond instance_count
  EXPECT_EQ(x0[3], 1010.0);        // frame 1, id 1: slot 0
}

// =================================================================================================
// DLC on small generated files

const char* kMaDlcHeader =
    "scorer,S,S,S,S,S,S,S,S,S,S,S,S\n"
    "individuals,m1,m1,m1,m1,m1,m1,m2,m2,m2,m2,m2,m2\n"
    "bodyparts,tailbase,tailbase,tailbase,neck,neck,neck,tailbase,tailbase,tailbase,neck,neck,neck\n"
    "coords,x,y,likelihood,x,y,likelihood,x,y,likelihood,x,y,likelihood\n";

TEST(ImporterDlc, SmallMultiAnimalFile) {
  ScratchDir dir;
  fs::path f = dir.file("videoS.csv", std::string(kMaDlcHeader) +
                                          "0,0,0,0.9,1,0,0.8,10,10,0.5,,,0.0\n"
                                          "1,0,0,0.9,0,1,0.7,,,0,,,0\n");
  ImportOptions opt;
  opt.fps = 10.0;
  ImportedSequence seq = import_dlc_csv(f, opt);
  EXPECT_EQ(seq.sequence, "video");  // scorer suffix removed
  const Table& t = seq.tracks;
  ASSERT_EQ(t.num_rows(), 4u);
  EXPECT_EQ(t.column("frame").i64()[3], 1);
  EXPECT_EQ(t.column("id").i64()[3], 1);
  EXPECT_DOUBLE_EQ(t.column("time").f64()[2], 0.1);
  EXPECT_DOUBLE_EQ(t.column("X").f64()[0], 0.5);
  EXPECT_DOUBLE_EQ(t.column("ANGLE").f64()[0], 0.0);
  EXPECT_DOUBLE_EQ(t.column("ANGLE").f64()[2], std::numbers::pi / 2);
  EXPECT_DOUBLE_EQ(t.column("X").f64()[1], 10.0);  // only the present keypoint
  EXPECT_TRUE(std::isnan(t.column("ANGLE").f64()[1]));
  EXPECT_TRUE(std::isnan(t.column("X").f64()[3]));  // no keypoint at all: empty row
  EXPECT_DOUBLE_EQ(t.column("poseP1").f64()[1], 0.0);
  EXPECT_DOUBLE_EQ(t.column("poseP0").f64()[1], 0.5);

  // Explicit keypoints, by normalised name and by index; errors name the option and list names.
  opt.angle_from = "Neck";
  opt.angle_to = "0";
  EXPECT_DOUBLE_EQ(import_dlc_csv(f, opt).tracks.column("ANGLE").f64()[0], std::numbers::pi);  // neck -> tailbase
  opt.angle_to = "nek";
  EXPECT_THAT(error_of<InputError>([&] { import_dlc_csv(f, opt); }),
              HasSubstr("angle_to 'nek' is not a keypoint (did you mean 'neck'?) (keypoints: tailbase, neck;"));
  opt.angle_to = "7";
  EXPECT_THAT(error_of<InputError>([&] { import_dlc_csv(f, opt); }),
              HasSubstr("angle_to index 7 is out of range (the file has 2 keypoints, 0..1)"));
  opt.angle_to.clear();
  EXPECT_THAT(error_of<InputError>([&] { import_dlc_csv(f, opt); }),
              HasSubstr("set both angle_from and angle_to (got angle_from='Neck', angle_to='')"));
}

TEST(ImporterDlc, LabelledDataLayoutAndSingleIndividual) {
  ScratchDir dir;
  // Three index columns (labelled-data paths), no likelihood, a "single" individual with a unique
  // body part, rows out of order is impossible here (no integer frame): frame = row number.
  fs::path f = dir.file("CollectedData.csv",
                        "scorer,,,me,me,me,me,me,me\n"
                        "individuals,,,a,a,a,a,single,single\n"
                        "bodyparts,,,nose,nose,tail_base,tail_base,corner,corner\n"
                        "coords,,,x,y,x,y,x,y\n"
                        "labeled-data,v1,img010.png,4,0,0,0,100,100\n"
                        "labeled-data,v1,img011.png,,,2,2,100,100\n");
  ImportedSequence seq = import_dlc_csv(f, ImportOptions{});
  const std::string notes = joined(seq.notes);
  EXPECT_THAT(notes, HasSubstr("dropped the unique body parts of DLC individual 'single' (not an animal): corner"));
  EXPECT_THAT(notes, HasSubstr("frame = row number"));
  EXPECT_EQ(seq.keypoints, (std::vector<std::string>{"nose", "tail_base"}));
  const Table& t = seq.tracks;
  ASSERT_EQ(t.num_rows(), 2u);
  EXPECT_EQ(t.column("frame").i64()[1], 1);
  EXPECT_DOUBLE_EQ(t.column("poseP0").f64()[0], 1.0);  // present, no likelihood column -> 1
  EXPECT_DOUBLE_EQ(t.column("poseP0").f64()[1], 0.0);  // missing -> 0
  EXPECT_DOUBLE_EQ(t.column("X").f64()[0], 2.0);
}

TEST(ImporterDlc, SingleAnimalWithoutPrefixesAndUnsortedFrames) {
  ScratchDir dir;
  fs::path f = dir.file("single.csv",
                        "scorer,S,S,S,S,S,S\n"
                        "bodyparts,Left_ear,Left_ear,Right_ear,Right_ear,Nose,Nose\n"
                        "coords,x,y,x,y,x,y\n"
                        "5,1,1,3,3,2,0\n"
                        "2,1,1,3,3,2,0\n");
  ImportedSequence seq = import_dlc_csv(f, ImportOptions{});
  EXPECT_EQ(seq.keypoints.size(), 3u);  // "Nose" has no prefix: one animal
  ASSERT_EQ(seq.tracks.num_rows(), 2u);
  EXPECT_EQ(seq.tracks.column("frame").i64()[0], 2);
  EXPECT_THAT(joined(seq.notes), HasSubstr("sorted them by frame"));
  EXPECT_THAT(joined(seq.notes), HasSubstr("ANGLE left empty"));

  // A UTF-8 byte-order mark (spreadsheet exports) is ignored.
  fs::path bom = dir.file("bom.csv", "\xEF\xBB\xBFscorer,S,S\nbodyparts,a,a\ncoords,x,y\n0,1,2\n");
  EXPECT_EQ(import_dlc_csv(bom, ImportOptions{}).tracks.num_rows(), 1u);

  fs::path dup = dir.file("dup.csv",
                          "scorer,S,S\nbodyparts,a,a\ncoords,x,y\n"
                          "3,1,1\n4,1,1\n3,2,2\n");
  EXPECT_THAT(error_of<InputError>([&] { import_dlc_csv(dup, ImportOptions{}); }),
              HasSubstr("dup.csv: frame 3 appears twice (lines 4 and 6)"));
}

TEST(ImporterDlc, BadFilesNameLineColumnAndValue) {
  ScratchDir dir;
  auto msg_for = [&](const std::string& name, const std::string& text) {
    fs::path f = dir.file(name, text);
    return error_of<InputError>([&] { import_dlc_csv(f, ImportOptions{}); });
  };
  EXPECT_THAT(msg_for("ragged.csv", std::string(kMaDlcHeader) + "0,0,0,0.9,1,0,0.8,10,10,0.5,,,0.0\n1,0,0,0.9\n"),
              HasSubstr("ragged.csv: line 6: expected 13 fields, got 4 (ragged row)"));
  EXPECT_THAT(msg_for("ragged_header.csv", "scorer,S,S,S\nbodyparts,a,a\ncoords,x,y,likelihood\n"),
              HasSubstr("ragged_header.csv: line 2: expected 4 fields (like line 1), got 3 (ragged header row)"));
  EXPECT_THAT(msg_for("text.csv", std::string(kMaDlcHeader) + "0,0,0,0.9,1,zero,0.8,10,10,0.5,,,0.0\n"),
              HasSubstr("text.csv: line 5, column 6 (m1 neck y): not a number: 'zero'"));
  EXPECT_THAT(msg_for("coords.csv", "scorer,S,S,S\nbodyparts,a,a,a\ncoords,x,y,z\n0,1,2,3\n"),
              HasSubstr("coords.csv: column 4 (a): unsupported coordinate 'z' (expected x, y or likelihood)"));
  EXPECT_THAT(msg_for("noy.csv", "scorer,S,S\nbodyparts,a,b\ncoords,x,x\n0,1,2\n"),
              HasSubstr("noy.csv: individual '', body part 'a' has an x column but no y column"));
  EXPECT_THAT(msg_for("level.csv", "scorer,S,S\nanimals,a,a\ncoords,x,y\n"),
              HasSubstr("level.csv: line 2: expected the 'individuals' or 'bodyparts' header row"));
  EXPECT_THAT(msg_for("short.csv", "scorer,S,S\n"), HasSubstr("the file ends after line 1"));
  EXPECT_THAT(msg_for("empty.csv", ""), HasSubstr("empty.csv: expected a DeepLabCut CSV"));
  fs::path f = dir.file("prefix.csv", "scorer,S,S\nbodyparts,X_a,X_a\ncoords,x,y\n0,1,1\n");
  ImportOptions opt;
  opt.individual_prefixes = {"B_", "W_"};
  EXPECT_THAT(error_of<InputError>([&] { import_dlc_csv(f, opt); }),
              HasSubstr("body part 'X_a' matches none of the individual prefixes (B_, W_)"));
}

// =================================================================================================
// Canonical CSV on small generated files

TEST(ImporterCanonical, ValidatesColumns) {
  ScratchDir dir;
  auto schema_msg = [&](const std::string& name, const std::string& text) {
    fs::path f = dir.file(name, text);
    return error_of<SchemaError>([&] { import_canonical_csv(f, ImportOptions{}); });
  };
  std::string msg = schema_msg("noframe.csv", "time,id,X,Y\n0,0,1,1\n");
  EXPECT_THAT(msg, HasSubstr("noframe.csv: missing column 'frame'"));
  EXPECT_THAT(msg, HasSubstr("available: time, id, X, Y"));
  EXPECT_THAT(schema_msg("noid.csv", "frame,X,Y\n0,1,1\n"), HasSubstr("noid.csv: missing column 'id'"));
  EXPECT_THAT(schema_msg("noxy.csv", "frame,id,speed\n0,0,1\n"),
              HasSubstr("noxy.csv: missing column 'X' (expected X and Y, or poseX<k>/poseY<k> pairs; available: "
                        "frame, id, speed)"));
  EXPECT_THAT(schema_msg("noy.csv", "frame,id,X\n0,0,1\n"), HasSubstr("noy.csv: missing column 'Y'"));
  EXPECT_THAT(schema_msg("posey.csv", "frame,id,poseX0\n0,0,1\n"), HasSubstr("posey.csv: missing column 'poseY0'"));
}

TEST(ImporterCanonical, BadCellsAndDuplicates) {
  ScratchDir dir;
  auto input_msg = [&](const std::string& name, const std::string& text) {
    fs::path f = dir.file(name, text);
    return error_of<InputError>([&] { import_canonical_csv(f, ImportOptions{}); });
  };
  EXPECT_THAT(input_msg("text.csv", "frame,id,X,Y\n0,0,1,1\n1,0,abc,1\n"),
              HasSubstr("text.csv: column 'X', line 3: non-numeric value 'abc' (expected a number)"));
  EXPECT_THAT(input_msg("textid.csv", "frame,id,X,Y\n0,0,1,1\n1,b,1,1\n"),
              HasSubstr("textid.csv: column 'id', line 3: non-numeric value 'b'"));
  EXPECT_THAT(input_msg("frac.csv", "frame,id,X,Y\n0,0,1,1\n1.5,0,1,1\n"),
              HasSubstr("frac.csv: column 'frame', line 3: non-integer value 1.5"));
  EXPECT_THAT(input_msg("gap.csv", "frame,id,X,Y\n0,0,1,1\n,0,1,1\n"),
              HasSubstr("gap.csv: column 'frame', line 3: missing value"));
  EXPECT_THAT(input_msg("dup.csv", "frame,id,X,Y\n0,0,1,1\n0,1,1,1\n1,0,1,1\n0,1,2,2\n"),
              HasSubstr("dup.csv: duplicate row for (frame 0, id 1) at line 3 and line 5"));
  EXPECT_THAT(input_msg("ragged.csv", "frame,id,X,Y\n0,0,1,1\n1,0,1\n"), HasSubstr("ragged.csv: line 3"));
}

TEST(ImporterCanonical, SortsFillsTimeAndDropsKeys) {
  ScratchDir dir;
  fs::path f = dir.file("unsorted.csv",
                        "group,sequence,frame,id,poseX0,poseY0,poseX1,poseY1,extra\n"
                        "g,s,1,1,0,0,2,2,a\n"
                        "g,s,0,1,0,0,,,b\n"
                        "g,s,1,0,4,4,6,6,c\n");
  ImportOptions opt;
  opt.fps = 4.0;
  opt.angle_from = "0";
  opt.angle_to = "1";
  ImportedSequence seq = import_canonical_csv(f, opt);
  const Table& t = seq.tracks;
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"frame", "time", "id", "X", "Y", "ANGLE", "poseX0", "poseY0",
                                                        "poseP0", "poseX1", "poseY1", "poseP1", "extra"}));
  ASSERT_EQ(t.num_rows(), 3u);
  EXPECT_EQ(t.column("frame").i64()[0], 0);
  EXPECT_EQ(t.column("id").i64()[1], 0);
  EXPECT_EQ(t.column("extra").str(0), "b");
  EXPECT_EQ(t.column("extra").str(1), "c");
  EXPECT_DOUBLE_EQ(t.column("time").f64()[2], 0.25);
  EXPECT_DOUBLE_EQ(t.column("X").f64()[0], 0.0);  // only keypoint 0 present
  EXPECT_DOUBLE_EQ(t.column("X").f64()[1], 5.0);
  EXPECT_DOUBLE_EQ(t.column("poseP1").f64()[0], 0.0);
  EXPECT_DOUBLE_EQ(t.column("poseP1").f64()[1], 1.0);
  EXPECT_DOUBLE_EQ(t.column("ANGLE").f64()[1], std::numbers::pi / 4);
  EXPECT_TRUE(std::isnan(t.column("ANGLE").f64()[0]));
  const std::string notes = joined(seq.notes);
  EXPECT_THAT(notes, HasSubstr("rows were not sorted by (frame, id): sorted them (stable)"));
  EXPECT_THAT(notes, HasSubstr("dropped the file's group, sequence column(s)"));

  // Without fps and without a time column, time is empty.
  fs::path g = dir.file("notime.csv", "frame,id,X,Y\n0,0,1,1\n");
  ImportedSequence seq2 = import_canonical_csv(g, ImportOptions{});
  EXPECT_TRUE(std::isnan(seq2.tracks.column("time").f64()[0]));
  EXPECT_THAT(joined(seq2.notes), HasSubstr("no ANGLE column"));
}

}  // namespace
}  // namespace mosaic

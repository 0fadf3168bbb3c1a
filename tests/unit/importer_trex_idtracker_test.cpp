// Tests for the TRex (.npz per individual) and idtracker.ai (.npy) importers: value-by-value
// comparison with the shared canonical CSVs, plus self-contained cases on generated files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/importers.hpp"
#include "mosaic/npz.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const fs::path kSharedData = fs::path(MOSAIC_SOURCE_DIR) / ".." / "shared" / "data";

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("mosaic_importer_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// The canonical CSVs are plain: a header, then numbers and empty cells (no quoting).
struct SimpleCsv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

SimpleCsv read_simple_csv(const fs::path& path) {
  std::ifstream in(path);
  SimpleCsv csv;
  std::string line;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream ss(l);
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (!l.empty() && l.back() == ',') cells.emplace_back();
    return cells;
  };
  if (std::getline(in, line)) csv.header = split(line);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) csv.rows.push_back(split(line));
  }
  return csv;
}

// The CSV prints floats with 4 decimals (ANGLE 5, time 6): a value matches when it is within half
// a unit of the last printed digit (plus a hair for binary rounding).
double tolerance_for(const std::string& column) {
  if (column == "time") return 0.5e-6 + 1e-9;
  if (column == "ANGLE") return 0.5e-5 + 1e-9;
  return 0.5e-4 + 1e-9;
}

void expect_matches_csv(const Table& table, const fs::path& csv_path) {
  SimpleCsv csv = read_simple_csv(csv_path);
  ASSERT_EQ(table.column_names(), csv.header);
  ASSERT_EQ(table.num_rows(), csv.rows.size());
  std::map<std::string, double> max_diff;
  std::size_t mismatches = 0;
  std::size_t missing_cells = 0;
  for (std::size_t c = 0; c < csv.header.size(); ++c) {
    const std::string& name = csv.header[c];
    const Column& col = table.column(name);
    const double tol = tolerance_for(name);
    double& worst = max_diff[name];
    for (std::size_t r = 0; r < csv.rows.size(); ++r) {
      const std::string& cell = c < csv.rows[r].size() ? csv.rows[r][c] : std::string();
      if (name == "frame" || name == "id") {
        ASSERT_EQ(col.type(), DType::kInt64) << name;
        if (col.as_int64(r) != std::stoll(cell)) {
          if (++mismatches <= 10)
            ADD_FAILURE() << csv_path.filename() << " row " << r << " " << name << ": got " << col.as_int64(r)
                          << ", csv " << cell;
        }
        continue;
      }
      ASSERT_EQ(col.type(), DType::kFloat64) << name;
      const double got = col.as_double(r);
      if (cell.empty()) {
        ++missing_cells;
        if (!std::isnan(got) && ++mismatches <= 10)
          ADD_FAILURE() << csv_path.filename() << " row " << r << " " << name << ": got " << got << ", csv empty";
        continue;
      }
      const double want = std::stod(cell);
      const double diff = std::isnan(got) ? std::numeric_limits<double>::infinity() : std::fabs(got - want);
      worst = std::max(worst, diff);
      if (diff > tol && ++mismatches <= 10)
        ADD_FAILURE() << csv_path.filename() << " row " << r << " (frame " << csv.rows[r][0] << ", id "
                      << csv.rows[r][2] << ") " << name << ": got " << got << ", csv " << cell;
    }
  }
  EXPECT_EQ(mismatches, 0u);
  std::ostringstream summary;
  summary << "[compare] " << csv_path.filename().string() << ": " << csv.rows.size() << " rows, "
          << missing_cells << " empty cells matched; max |diff|";
  for (const auto& name : csv.header)
    if (name != "frame" && name != "id") summary << " " << name << "=" << max_diff[name];
  std::cout << summary.str() << std::endl;
}

std::vector<fs::path> npz_files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".npz") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// ------------------------------------------------------------------------------------------
// TRex
// ------------------------------------------------------------------------------------------
TEST(ImporterTrexTest, MatchesSharedCanonicalCsv) {
  const fs::path root = kSharedData / "trex_guppies8";
  if (!fs::exists(root)) GTEST_SKIP() << "needs ../shared/data (absent)";
  for (const auto& [folder, sequence] : {std::pair{"corrected", "guppy8_corrected"}, std::pair{"raw", "guppy8_raw"}}) {
    SCOPED_TRACE(sequence);
    ImportOptions opt{.format = "trex", .group = "g", .sequence = sequence};
    std::vector<fs::path> files = npz_files_in(root / "raw" / folder);
    ASSERT_EQ(files.size(), 8u);
    ImportedSequence seq = import_trex_npz(files, opt);
    EXPECT_EQ(seq.sequence, sequence);
    EXPECT_EQ(seq.group, "g");
    ASSERT_TRUE(seq.fps.has_value());
    EXPECT_DOUBLE_EQ(*seq.fps, 25.0);
    EXPECT_EQ(seq.sources.size(), 8u);
    expect_matches_csv(seq.tracks, root / "tracks" / (std::string(sequence) + ".csv"));
  }
}

TEST(ImporterTrexTest, DefaultSequenceIsTrexOutputName) {
  const fs::path dir = kSharedData / "trex_guppies8" / "raw" / "raw";
  if (!fs::exists(dir)) GTEST_SKIP() << "needs ../shared/data (absent)";
  ImportedSequence seq = import_trex_npz(npz_files_in(dir), ImportOptions{.format = "trex"});
  EXPECT_EQ(seq.sequence, "test");  // test_fish<N>.npz
}

// A TRex-like archive: float32 per-row arrays as TRex writes them.
void write_trex(const fs::path& file, std::vector<float> frames, std::vector<float> x, std::vector<float> y,
                std::vector<float> angle, std::optional<int64_t> id = std::nullopt, float fps = 10.0f) {
  const auto n = static_cast<int64_t>(frames.size());
  std::vector<float> time(frames.size()), missing(frames.size());
  for (std::size_t r = 0; r < frames.size(); ++r) {
    time[r] = frames[r] / fps;
    missing[r] = std::isfinite(x[r]) ? 0.0f : 1.0f;
  }
  std::vector<std::pair<std::string, NpyArray>> arrays = {
      {"frame", NpyArray::from_float32({n}, frames)}, {"time", NpyArray::from_float32({n}, time)},
      {"X", NpyArray::from_float32({n}, x)},          {"Y", NpyArray::from_float32({n}, y)},
      {"ANGLE", NpyArray::from_float32({n}, angle)},  {"missing", NpyArray::from_float32({n}, missing)},
      {"SPEED", NpyArray::from_float32({n}, std::vector<float>(frames.size(), 1.0f))}};
  if (id) arrays.emplace_back("id", NpyArray::from_int64({n}, std::vector<int64_t>(frames.size(), *id)));
  write_npz(file, arrays, /*compressed=*/false);
}

TEST(ImporterTrexTest, GridPaddingInfAndTime) {
  TempDir dir;
  const float inf = std::numeric_limits<float>::infinity();
  // fish0 has frames 0..3 (frame 1 untracked), fish1 starts late at frame 2 and ends at 4.
  write_trex(dir.path() / "rec1_fish0.npz", {0, 1, 2, 3}, {1.0f, inf, 3.0f, 4.0f}, {10, inf, 30, 40}, {0.5f, inf, -0.5f, 3.0f});
  write_trex(dir.path() / "rec1_fish1.npz", {2, 3, 4}, {5, 6, 7}, {50, 60, 70}, {1, 2, inf});
  ImportedSequence seq = import_trex_npz({dir.path() / "rec1_fish1.npz", dir.path() / "rec1_fish0.npz"}, {.format = "trex"});
  EXPECT_EQ(seq.sequence, "rec1");
  ASSERT_TRUE(seq.fps);
  EXPECT_DOUBLE_EQ(*seq.fps, 10.0);
  const Table& t = seq.tracks;
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"frame", "time", "id", "X", "Y", "ANGLE"}));
  ASSERT_EQ(t.num_rows(), 10u);  // frames 0..4 x ids 0,1
  auto frame = t.column("frame").i64();
  auto id = t.column("id").i64();
  auto x = t.column("X").f64();
  auto angle = t.column("ANGLE").f64();
  auto time = t.column("time").f64();
  EXPECT_EQ(std::vector<int64_t>(frame.begin(), frame.end()), (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}));
  EXPECT_EQ(std::vector<int64_t>(id.begin(), id.end()), (std::vector<int64_t>{0, 1, 0, 1, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(x[0], 1.0);
  EXPECT_TRUE(std::isnan(x[1]));  // fish1 absent at frame 0
  EXPECT_TRUE(std::isnan(x[2]));  // fish0 inf at frame 1
  EXPECT_EQ(x[5], 5.0);
  EXPECT_TRUE(std::isnan(x[8]));  // fish0 absent at frame 4
  EXPECT_EQ(x[9], 7.0);
  EXPECT_TRUE(std::isnan(angle[9]));  // inf ANGLE
  EXPECT_EQ(angle[4], -0.5);
  // TRex's own time (float32 frame / 10) on every row of a frame, also for absent individuals.
  EXPECT_EQ(time[8], static_cast<double>(4.0f / 10.0f));
  EXPECT_EQ(time[9], time[8]);
  EXPECT_EQ(time[1], 0.0);

  // options.fps overrides TRex's time.
  ImportedSequence at20 = import_trex_npz({dir.path() / "rec1_fish0.npz"}, {.format = "trex", .fps = 20.0});
  EXPECT_EQ(at20.tracks.column("time").f64()[3], 3.0 / 20.0);
  EXPECT_EQ(*at20.fps, 20.0);
}

TEST(ImporterTrexTest, IdFromKeyOrFileName) {
  TempDir dir;
  write_trex(dir.path() / "whatever.npz", {0}, {1}, {2}, {0}, /*id=*/5);
  write_trex(dir.path() / "session_id12.npz", {0}, {3}, {4}, {0});
  ImportedSequence seq = import_trex_npz({dir.path() / "whatever.npz", dir.path() / "session_id12.npz"}, {.format = "trex"});
  auto id = seq.tracks.column("id").i64();
  EXPECT_EQ(std::vector<int64_t>(id.begin(), id.end()), (std::vector<int64_t>{5, 12}));

  // Files named only fish<N>: the folder names the sequence.
  fs::create_directories(dir.path() / "trial3");
  write_trex(dir.path() / "trial3" / "fish0.npz", {0}, {1}, {2}, {0});
  EXPECT_EQ(import_trex_npz({dir.path() / "trial3" / "fish0.npz"}, {.format = "trex"}).sequence, "trial3");
}

TEST(ImporterTrexTest, BadInputMessages) {
  TempDir dir;
  const fs::path other = dir.path() / "other_fish0.npz";
  write_npz(other, {{"c", NpyArray::from_int32({1}, {1})}, {"a", NpyArray::from_int32({1}, {1})}, {"b", NpyArray::from_int32({1}, {1})}});
  EXPECT_EQ(error_of([&] { import_trex_npz({other}, {.format = "trex"}); }),
            other.string() + ": not a TRex per-individual .npz (missing key 'X'; found: a, b, c)");

  const fs::path text = dir.path() / "tracks_fish0.npz";
  write_file_atomic(text, "frame,X,Y\n0,1,2\n");
  EXPECT_EQ(error_of([&] { import_trex_npz({text}, {.format = "trex"}); }),
            text.string() + ": not a valid .npz archive (truncated or corrupt zip: Not a zip archive) (expected a TRex "
                            "per-individual .npz)");

  write_trex(dir.path() / "a_fish1.npz", {0}, {1}, {2}, {0});
  write_trex(dir.path() / "b_fish1.npz", {0}, {1}, {2}, {0});
  EXPECT_EQ(error_of([&] { import_trex_npz({dir.path() / "a_fish1.npz", dir.path() / "b_fish1.npz"}, {.format = "trex"}); }),
            (dir.path() / "a_fish1.npz").string() + " and " + (dir.path() / "b_fish1.npz").string() +
                ": both hold individual id 1");

  write_trex(dir.path() / "noid.npz", {0}, {1}, {2}, {0});
  EXPECT_EQ(error_of([&] { import_trex_npz({dir.path() / "noid.npz"}, {.format = "trex"}); }),
            (dir.path() / "noid.npz").string() +
                ": cannot tell the individual's id (no key 'id', and the file name does not end in fish<N> or _id<N>)");

  const fs::path ragged = dir.path() / "r_fish0.npz";
  write_npz(ragged, {{"X", NpyArray::from_float32({2}, {1, 2})}, {"Y", NpyArray::from_float32({3}, {1, 2, 3})}});
  EXPECT_EQ(error_of([&] { import_trex_npz({ragged}, {.format = "trex"}); }),
            ragged.string() + ": key 'Y' has 3 rows but 'X' has 2");
  EXPECT_EQ(error_of([&] { import_trex_npz({}, {.format = "trex"}); }),
            "trex import: no files given (expected TRex per-individual .npz files)");
}

// ------------------------------------------------------------------------------------------
// idtracker.ai
// ------------------------------------------------------------------------------------------
TEST(ImporterIdtrackeraiTest, MatchesSharedCanonicalCsv) {
  const fs::path root = kSharedData / "idtrackerai_fish";
  if (!fs::exists(root)) GTEST_SKIP() << "needs ../shared/data (absent)";
  struct Case {
    const char* file;
    const char* sequence;
    double fps;
    std::size_t animals;
  };
  for (const Case& c : {Case{"test_trajectories_idtrackerai_with_border.npy", "fish8_idtrackerai_example", 28.0, 8},
                        Case{"trajectories_with_points.npy", "fish15_with_points", 32.0, 15}}) {
    SCOPED_TRACE(c.sequence);
    ImportedSequence seq = import_idtrackerai_npy(root / "raw" / c.file, {.format = "idtrackerai", .sequence = c.sequence});
    EXPECT_EQ(seq.sequence, c.sequence);
    ASSERT_TRUE(seq.fps);
    EXPECT_EQ(*seq.fps, c.fps);
    EXPECT_EQ(seq.tracks.column("id").i64().back(), static_cast<int64_t>(c.animals - 1));
    expect_matches_csv(seq.tracks, root / "tracks" / (std::string(c.sequence) + ".csv"));
  }
  // Without options.sequence: the file stem.
  EXPECT_EQ(import_idtrackerai_npy(root / "raw" / "trajectories_with_points.npy", {.format = "idtrackerai"}).sequence,
            "trajectories_with_points");
}

fs::path fixture(const char* name) { return fs::path(MOSAIC_SOURCE_DIR) / "tests" / "data" / "npz" / name; }

TEST(ImporterIdtrackeraiTest, TrajectoriesDictFixture) {
  // 3 frames x 2 animals, animal 1 missing in frame 1, frames_per_second 25 (make_fixtures.py).
  ImportedSequence seq = import_idtrackerai_npy(fixture("idtracker_like.npy"), {.format = "idtrackerai"});
  EXPECT_EQ(seq.sequence, "idtracker_like");
  ASSERT_TRUE(seq.fps);
  EXPECT_EQ(*seq.fps, 25.0);
  const Table& t = seq.tracks;
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"frame", "time", "id", "X", "Y", "ANGLE"}));
  ASSERT_EQ(t.num_rows(), 6u);
  auto frame = t.column("frame").i64();
  auto id = t.column("id").i64();
  EXPECT_EQ(std::vector<int64_t>(frame.begin(), frame.end()), (std::vector<int64_t>{0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(std::vector<int64_t>(id.begin(), id.end()), (std::vector<int64_t>{0, 1, 0, 1, 0, 1}));
  auto x = t.column("X").f64();
  auto y = t.column("Y").f64();
  EXPECT_EQ(x[0], 10.5);
  EXPECT_EQ(y[0], 20.25);
  EXPECT_EQ(x[5], 32.0);
  EXPECT_TRUE(std::isnan(x[3]) && std::isnan(y[3]));
  EXPECT_EQ(t.column("time").f64()[4], 2.0 / 25.0);
  EXPECT_EQ(t.column("ANGLE").null_count(), 6u);

  ImportedSequence fast = import_idtrackerai_npy(fixture("idtracker_like.npy"), {.format = "idtrackerai", .sequence = "s", .fps = 50.0});
  EXPECT_EQ(fast.sequence, "s");
  EXPECT_EQ(fast.tracks.column("time").f64()[4], 2.0 / 50.0);
}

void write_npy(const fs::path& file, const NpyArray& a) {
  std::vector<uint8_t> bytes = serialize_npy(a);
  write_file_atomic(file, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

TEST(ImporterIdtrackeraiTest, BareArrayAndSessionFolderName) {
  TempDir dir;
  const fs::path session = dir.path() / "session_fish8" / "trajectories";
  fs::create_directories(session);
  const fs::path file = session / "trajectories.npy";
  write_npy(file, NpyArray::from_float64({2, 1, 2}, {1.0, 2.0, kNaN, std::numeric_limits<double>::infinity()}));
  ImportedSequence seq = import_idtrackerai_npy(file, {.format = "idtrackerai"});
  EXPECT_EQ(seq.sequence, "fish8");
  EXPECT_FALSE(seq.fps.has_value());
  EXPECT_EQ(seq.tracks.num_rows(), 2u);
  EXPECT_EQ(seq.tracks.column("time").null_count(), 2u);  // fps unknown
  EXPECT_TRUE(std::isnan(seq.tracks.column("Y").f64()[1]));  // inf -> missing
  ImportedSequence with_fps = import_idtrackerai_npy(file, {.format = "idtrackerai", .fps = 4.0});
  EXPECT_EQ(with_fps.tracks.column("time").f64()[1], 0.25);
}

TEST(ImporterIdtrackeraiTest, BadInputMessages) {
  TempDir dir;
  const fs::path flat = dir.path() / "flat.npy";
  write_npy(flat, NpyArray::from_float64({3, 2}, std::vector<double>(6, 0.0)));
  EXPECT_EQ(error_of([&] { import_idtrackerai_npy(flat, {.format = "idtrackerai"}); }),
            flat.string() + ": not an idtracker.ai trajectories file (expected a frames x individuals x 2 numeric "
                            "array, found a float64 array of shape (3, 2))");

  const fs::path text = dir.path() / "t.npy";
  write_file_atomic(text, "frame,x\n");
  EXPECT_EQ(error_of([&] { import_idtrackerai_npy(text, {.format = "idtrackerai"}); }),
            text.string() + ": not a .npy file (no \\x93NUMPY magic) (expected an idtracker.ai trajectories .npy)");

  // np.save(np.array({'foo': 1, 'bar': 2})): a 0-d object array holding a dict without 'trajectories'.
  static const char kPickle[] =
      "\x80\x02"
      "cnumpy.core.multiarray\n_reconstruct\n" "cnumpy\nndarray\n" "K\x00\x85" "C\x01" "b" "\x87" "R"
      "(K\x01)" "cnumpy\ndtype\n" "X\x02\x00\x00\x00" "O8" "K\x00K\x01\x87R"
      "(K\x03X\x01\x00\x00\x00" "|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb"
      "\x89]}(X\x03\x00\x00\x00" "fooK\x01X\x03\x00\x00\x00" "barK\x02ua" "tb.";
  const std::string pk(kPickle, sizeof kPickle - 1);  // holds NUL bytes
  std::string header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string npy = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header + pk;
  const fs::path dict = dir.path() / "dict.npy";
  write_file_atomic(dict, npy);
  EXPECT_EQ(error_of([&] { import_idtrackerai_npy(dict, {.format = "idtrackerai"}); }),
            dict.string() + ": not an idtracker.ai trajectories file (dict has no key 'trajectories'; found: foo, bar)");
}

}  // namespace
}  // namespace mosaic

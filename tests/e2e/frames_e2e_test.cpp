// End to end: `mosaic import-video` and `mosaic sample-frames` on a temporary dataset, and the
// CLI giving the same run id, frames and bytes as the library.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "common/test_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/files.hpp"
#include "mosaic/frames.hpp"
#include "mosaic/json.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using testing::run_mosaic;
using testing::TempDir;

bool have_ffmpeg() { return std::system("ffmpeg -hide_banner -version >/dev/null 2>&1") == 0; }

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

TEST(FramesE2eTest, ImportVideoThenSampleFramesMatchesTheLibrary) {
  if (!have_ffmpeg()) GTEST_SKIP() << "needs the ffmpeg command (absent)";
  TempDir tmp;
  const fs::path video = tmp / "clip.mp4";
  const std::string make = "ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=64x48:rate=25:d=4 "
                           "-c:v libx264 -preset fast -g 10 -pix_fmt yuv420p " + q(video);
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  auto r = run_mosaic("init " + q(tmp / "ds"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_mosaic("import-video " + q(tmp / "ds") + " --group lab --sequence m1 --json " + q(video));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json imported = python_json_loads(r.out);
  EXPECT_EQ(imported["videos"][0]["stored_as"], "hard link");
  EXPECT_EQ(imported["videos"][0]["width"], 64);
  EXPECT_EQ(imported["videos"][0]["frame_count"], 100);

  r = run_mosaic("sample-frames " + q(tmp / "ds") + " --n-frames 6 --method kmeans --seed 3 -j 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json out = python_json_loads(r.out);
  EXPECT_EQ(out["method"], "kmeans");
  EXPECT_TRUE(out["finished"].get<bool>());
  ASSERT_EQ(out["sequences"].size(), 1u);
  EXPECT_EQ(out["sequences"][0]["status"], "extracted");
  EXPECT_EQ(out["sequences"][0]["key"], "lab__m1");
  const std::vector<int64_t> cli_frames = out["sequences"][0]["selected_frame_indices"].get<std::vector<int64_t>>();
  ASSERT_EQ(cli_frames.size(), 6u);

  // The library with the same parameters: same run id and frames; its PNGs equal the CLI's.
  Dataset ds = Dataset::open(tmp / "ds");
  FrameSamplingOptions opt;
  opt.n_frames = 6;
  opt.method = "kmeans";
  opt.random_state = 3;
  opt.parallel_workers = 1;
  opt.log = false;
  EXPECT_EQ(frame_sampling_run_id(opt), out["run_id"].get<std::string>());
  const fs::path cli_dir = fs::path(out["sequences"][0]["dir"].get<std::string>());
  char first_png[32];
  std::snprintf(first_png, sizeof first_png, "frame_%06lld.png", static_cast<long long>(cli_frames.front()));
  const std::vector<uint8_t> cli_bytes = read_file_bytes(cli_dir / first_png);
  opt.overwrite = true;
  FrameSamplingResult lib = extract_frames(ds, opt);
  EXPECT_EQ(lib.sequences[0].selected_frames, cli_frames);
  EXPECT_EQ(read_file_bytes(cli_dir / first_png), cli_bytes);

  // A rerun is served from the cache; the text output says so.
  r = run_mosaic("sample-frames " + q(tmp / "ds") + " --n-frames 6 --method kmeans --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[extract_frames] skip lab__m1 (exists, overwrite=False)"), std::string::npos) << r.out;

  // Uniform with a crop through the CLI.
  r = run_mosaic("sample-frames " + q(tmp / "ds") + " --n-frames 3 --crop 8,8,32,16 --start-frame 10 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  out = python_json_loads(r.out);
  // Candidates 10..99: linspace(0, 89, 3) = 0, 44.5 -> 44 (half to even), 89.
  EXPECT_EQ(out["sequences"][0]["selected_frame_indices"], Json::array({10, 54, 99}));
  EXPECT_EQ(fs::path(out["run_root"].get<std::string>()).parent_path().filename(), "uniform");

  // User mistakes: clear message, non-zero exit.
  r = run_mosaic("sample-frames " + q(tmp / "ds") + " --n-frames 3 --method random");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("method must be one of: 'uniform', 'kmeans'"), std::string::npos) << r.err;
  r = run_mosaic("sample-frames " + q(tmp / "ds") + " --n-frames 3 --crop 1,2,3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--crop: expected x,y,w,h"), std::string::npos) << r.err;
  write_file_atomic(tmp / "bad.mp4", "not a video");
  r = run_mosaic("import-video " + q(tmp / "ds") + " --sequence m2 " + q(tmp / "bad.mp4"));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("Failed to open video: " + (tmp / "bad.mp4").string()), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mosaic

// Frame sampling and video decoding (pipeline.md §9): exact frame numbers, the uniform rule,
// k-means diversity, run identity, layout, caching, multi-video sequences and error messages.
//
// The test videos are generated here with the `ffmpeg` command from raw frames whose number is
// drawn as a 4 x 3 grid of black/white 16 x 16 blocks (12 bits), so every decoded frame or PNG
// says which frame it is. They are tiny (64 x 48, <= 150 frames) and made once per suite.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "common/test_util.hpp"
#include "media/minibatch_kmeans.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/frames.hpp"
#include "mosaic/json.hpp"
#include "mosaic/run_id.hpp"
#include "mosaic/video.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr int kW = 64;
constexpr int kH = 48;

// The test binary does not link fmt; these two helpers cover what the tests format.
std::string frame_name(int64_t f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "frame_%06lld.png", static_cast<long long>(f));
  return buf;
}
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

bool have_ffmpeg() {
  static const bool ok = std::system("ffmpeg -hide_banner -version >/dev/null 2>&1") == 0;
  return ok;
}

#define REQUIRE_FFMPEG() \
  if (!have_ffmpeg()) GTEST_SKIP() << "needs the ffmpeg command (absent)"

using Painter = std::function<void(int frame, std::vector<uint8_t>& bgr, int w, int h)>;

// Frame number as 12 blocks of 16 x 16: bit b is block (b % 4, b / 4), white = 1.
void paint_code(int code, std::vector<uint8_t>& bgr, int w, int h) {
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int b = (y / 16) * 4 + (x / 16);
      const uint8_t v = (b < 12 && ((code >> b) & 1)) ? 255 : 0;
      uint8_t* px = &bgr[static_cast<std::size_t>((y * w + x) * 3)];
      px[0] = px[1] = px[2] = v;
    }
}

// Read the frame number back from an image of the full 64 x 48 frame (any format).
int read_code(const Image& img) {
  int code = 0;
  const int ch = img.channels();
  for (int b = 0; b < 12; ++b) {
    const int bx = (b % 4) * 16, by = (b / 4) * 16;
    double sum = 0;
    for (int y = by + 4; y < by + 12; ++y)
      for (int x = bx + 4; x < bx + 12; ++x) sum += img.row(y)[x * ch];
    if (sum / 64.0 > 128) code |= 1 << b;
  }
  return code;
}

const char* kH264 = "-c:v libx264 -preset fast -crf 12 -g 12 -bf 2 -pix_fmt yuv420p";

// Encode `frames` painted frames with the ffmpeg command (raw BGR on its stdin).
void make_video(const fs::path& out, int frames, const Painter& paint, const std::string& args = kH264,
                const std::string& filter = "", int w = kW, int h = kH, int first = 0) {
  const std::string cmd = "ffmpeg -hide_banner -loglevel error -y -f rawvideo -pix_fmt bgr24 -s " +
                          std::to_string(w) + "x" + std::to_string(h) + " -r 25 -i - " + filter + " " + args + " " +
                          q(out);
  FILE* pipe = ::popen(cmd.c_str(), "w");
  ASSERT_NE(pipe, nullptr) << cmd;
  std::vector<uint8_t> bgr(static_cast<std::size_t>(w * h * 3));
  for (int f = 0; f < frames; ++f) {
    paint(first + f, bgr, w, h);
    ASSERT_EQ(std::fwrite(bgr.data(), 1, bgr.size(), pipe), bgr.size());
  }
  ASSERT_EQ(::pclose(pipe), 0) << cmd;
}

// Five scenes of 20 frames: a saturated background per scene and a small grey square moving
// inside it, so frames of one scene are similar but not identical.
void paint_scene(int frame, std::vector<uint8_t>& bgr, int w, int h) {
  static const uint8_t colours[5][3] = {{0, 0, 255}, {0, 255, 0}, {255, 0, 0}, {0, 255, 255}, {255, 0, 255}};
  const int scene = frame / 20;
  const int sx = (frame % 20) * 2, sy = 20;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* px = &bgr[static_cast<std::size_t>((y * w + x) * 3)];
      const bool square = x >= sx && x < sx + 8 && y >= sy && y < sy + 8;
      for (int c = 0; c < 3; ++c) px[c] = square ? 128 : colours[scene % 5][c];
    }
}

std::string expect_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a mosaic::Error";
  return "";
}

class FramesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_ffmpeg()) return;
    dir_ = new TempDir();
    const fs::path d = dir_->path();
    make_video(d / "code150.mp4", 150, paint_code);
    make_video(d / "scenes.mp4", 100, paint_scene);
    // Variable frame rate: frame N at (N + floor(N^2 / 40)) / 25 s, gaps growing.
    const std::string vfr = "-vf \"setpts='(N+floor(N*N/40))/(25*TB)'\" -fps_mode passthrough";
    make_video(d / "vfr.mkv", 60, paint_code, kH264, vfr);
    make_video(d / "vfr.mp4", 60, paint_code, kH264, vfr);
    make_video(d / "raw.h264", 40, paint_code, "-c:v libx264 -preset fast -crf 12 -bf 2 -pix_fmt yuv420p -f h264");
    make_video(d / "part_a.mp4", 40, paint_code);
    make_video(d / "part_b.mp4", 30, paint_code, kH264, "", kW, kH, 40);  // frames 40..69
    make_video(d / "small.mp4", 10, paint_code, kH264, "", 32, 24);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!have_ffmpeg()) GTEST_SKIP() << "needs the ffmpeg command (absent)";
  }
  static fs::path video(const std::string& name) { return dir_->path() / name; }

  static Dataset make_dataset(const TempDir& tmp, const std::vector<std::pair<std::string, std::vector<std::string>>>& seqs,
                              const std::string& group = "") {
    Dataset ds = Dataset::create(tmp / "ds", {.name = "t"});
    for (const auto& [seq, files] : seqs) {
      std::vector<fs::path> paths;
      for (const auto& f : files) paths.push_back(video(f));
      import_videos(ds, paths, {.group = group, .sequence = seq});
    }
    return ds;
  }

  static TempDir* dir_;
};

TempDir* FramesTest::dir_ = nullptr;

// ---------------------------------------------------------------------------------------------
// Run identity and the uniform rule (no video needed)

TEST(FramesRunIdTest, SpecVectorsAndParamsOrder) {
  FrameSamplingOptions u;
  u.n_frames = 100;
  EXPECT_EQ(frame_sampling_run_id(u), "uniform-a797ec3569");
  EXPECT_EQ(canonical_payload_string(frame_sampling_params(u)),
            R"({"candidate_step": 1, "crop": null, "end_frame": null, "method": "uniform", "n_frames": 100, )"
            R"("random_state": 42, "start_frame": null})");
  FrameSamplingOptions k;
  k.n_frames = 20;
  k.method = "  KMeans ";
  EXPECT_EQ(frame_sampling_run_id(k), "kmeans-69035a927b");
  // run_params.json: insertion order, indent 2.
  EXPECT_EQ(python_json_dumps(frame_sampling_params(k), {.indent = 2}),
            "{\n  \"n_frames\": 20,\n  \"method\": \"kmeans\",\n  \"start_frame\": null,\n  \"end_frame\": null,\n"
            "  \"candidate_step\": 1,\n  \"crop\": null,\n  \"random_state\": 42,\n  \"kmeans_resize\": [\n    64,\n"
            "    64\n  ],\n  \"kmeans_grayscale\": true,\n  \"kmeans_max_candidates\": 5000,\n"
            "  \"kmeans_batch_size\": 1024,\n  \"kmeans_max_iter\": 100,\n  \"kmeans_n_init\": \"auto\"\n}");
  // Scope, overwrite and workers are not hashed; crop is hashed as a list.
  u.parallel_workers = 3;
  u.overwrite = true;
  u.sequences = std::set<std::string>{"x"};
  EXPECT_EQ(frame_sampling_run_id(u), "uniform-a797ec3569");
  u.crop = CropRect{1, 2, 3, 4};
  EXPECT_EQ(canonical_payload_string(frame_sampling_params(u)).find(R"("crop": [1, 2, 3, 4])") != std::string::npos,
            true);
  FrameSamplingOptions bad;
  bad.n_frames = 1;
  bad.method = "random";
  EXPECT_EQ(expect_error([&] { frame_sampling_run_id(bad); }), "method must be one of: 'uniform', 'kmeans'");
}

TEST(FramesUniformTest, PositionsFollowNumpyLinspaceAndBankersRounding) {
  using V = std::vector<int64_t>;
  // Expected values computed with CPython's float arithmetic and round() (half to even), which
  // is numpy's np.round(np.linspace(...)).
  EXPECT_EQ(uniform_positions(150, 7), (V{0, 25, 50, 74, 99, 124, 149}));  // 74.5 -> 74
  EXPECT_EQ(uniform_positions(11, 5), (V{0, 2, 5, 8, 10}));                // 2.5 -> 2, 7.5 -> 8
  // 11 * (25 / 22) is 12.500000000000002 in float64, so it rounds up, unlike exact 12.5.
  EXPECT_EQ(uniform_positions(26, 23), (V{0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 22,
                                          23, 24, 25}));
  EXPECT_EQ(uniform_positions(30, 15), (V{0, 2, 4, 6, 8, 10, 12, 15, 17, 19, 21, 23, 25, 27, 29}));
  EXPECT_EQ(uniform_positions(100, 1), (V{0}));
  EXPECT_EQ(uniform_positions(5, 5), (V{0, 1, 2, 3, 4}));
  EXPECT_EQ(uniform_positions(5, 9), (V{0, 1, 2, 3, 4}));
  // An independent float64 computation of the rule over many sizes.
  for (int64_t len = 2; len < 300; len += 7)
    for (int64_t n = 1; n < len; n += 3) {
      V expect;
      const double step = n > 1 ? double(len - 1) / double(n - 1) : 0.0;
      for (int64_t i = 0; i < n; ++i) {
        double v = (n > 1 && i == n - 1) ? double(len - 1) : double(i) * step;
        double r = std::floor(v);
        const double frac = v - r;
        if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0)) r += 1;
        expect.push_back(static_cast<int64_t>(r));
      }
      ASSERT_EQ(uniform_positions(len, n), expect) << len << " " << n;
    }
}

TEST(MiniBatchKMeansTest, SeparatesBlobsAndIsDeterministic) {
  // 4 well separated blobs of 60 points in 16 dimensions.
  media::RowMatrixXf x(240, 16);
  uint32_t state = 7;
  auto noise = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / static_cast<float>(1u << 24) - 0.5f;
  };
  for (int i = 0; i < 240; ++i)
    for (int j = 0; j < 16; ++j) x(i, j) = static_cast<float>((i / 60) * 10 * ((j % 4) == (i / 60))) + 0.3f * noise();
  media::MiniBatchKMeansOptions opt;
  opt.n_clusters = 4;
  opt.batch_size = 64;
  opt.seed = 42;
  media::KMeansFit a = media::minibatch_kmeans(x, opt);
  media::KMeansFit b = media::minibatch_kmeans(x, opt);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_TRUE(a.centers.isApprox(b.centers, 0.0f));
  // Each blob is one cluster, and the clusters are different.
  std::set<int> used;
  for (int blob = 0; blob < 4; ++blob) {
    const int label = a.labels[static_cast<std::size_t>(blob * 60)];
    used.insert(label);
    for (int i = blob * 60; i < blob * 60 + 60; ++i) ASSERT_EQ(a.labels[static_cast<std::size_t>(i)], label) << i;
  }
  EXPECT_EQ(used.size(), 4u);
  EXPECT_GT(a.n_steps, 1);
  opt.n_clusters = 241;
  EXPECT_NE(expect_error([&] { media::minibatch_kmeans(x, opt); }).find("n_clusters"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// VideoReader

TEST_F(FramesTest, ReaderGivesExactFramesWithBFramesAndSeeks) {
  VideoReader r(video("code150.mp4"));
  EXPECT_EQ(r.info().width, kW);
  EXPECT_EQ(r.info().height, kH);
  EXPECT_DOUBLE_EQ(r.info().fps, 25.0);
  EXPECT_EQ(r.info().codec, "h264");
  EXPECT_EQ(r.info().nominal_frame_count, 150);
  EXPECT_EQ(r.frame_count(), 150);
  // Every frame in one forward pass.
  std::vector<int64_t> all(150);
  std::iota(all.begin(), all.end(), 0);
  std::vector<int> codes;
  r.read_frames(all, {}, [&](std::size_t, Image& img) { codes.push_back(read_code(img)); });
  for (int f = 0; f < 150; ++f) ASSERT_EQ(codes[static_cast<std::size_t>(f)], f);
  // Backwards and jumping around (each read seeks to the keyframe before it).
  for (int64_t f : {149, 0, 77, 12, 11, 13, 100, 5, 148, 60})
    EXPECT_EQ(read_code(r.read_frame(f)), f) << "frame " << f;
  EXPECT_NE(expect_error([&] { r.read_frame(150); }).find("Failed to decode frame 150 from"), std::string::npos);
  // Sparse frames decode far fewer than all frames (seeks instead of decoding everything).
  VideoReader sparse(video("code150.mp4"));
  const std::vector<int64_t> few = {3, 70, 140};
  sparse.read_frames(few, {}, [&](std::size_t i, Image& img) { EXPECT_EQ(read_code(img), few[i]); });
  EXPECT_LT(sparse.frames_decoded(), 60);
  // A frame just after a keyframe costs a couple of decoded frames: the seek lands on that
  // keyframe, not on the one before (mov keyframes are found by pts, not by dts).
  VideoReader fresh(video("code150.mp4"));
  auto index = fresh.shared_index();
  ASSERT_GE(index->keyframe_index.size(), 5u);
  const int64_t key = index->keyframe_index[4];
  EXPECT_EQ(read_code(fresh.read_frame(key + 1)), key + 1);
  EXPECT_LE(fresh.frames_decoded(), 3) << "keyframe " << key;
}

TEST_F(FramesTest, ReaderNumbersVariableFrameRateFilesByPresentationOrder) {
  for (const char* name : {"vfr.mkv", "vfr.mp4"}) {
    SCOPED_TRACE(name);
    VideoReader r(video(name));
    EXPECT_EQ(r.frame_count(), 60);
    // A constant-rate assumption would put frame 40 at 3.2 s * 25 = frame 80, past the end.
    for (int64_t f : {0, 1, 17, 40, 59, 30, 2}) EXPECT_EQ(read_code(r.read_frame(f)), f) << "frame " << f;
    std::vector<int64_t> odd;
    for (int64_t f = 1; f < 60; f += 2) odd.push_back(f);
    r.read_frames(odd, {}, [&](std::size_t i, Image& img) { EXPECT_EQ(read_code(img), odd[i]); });
  }
}

TEST_F(FramesTest, ReaderCountsRawStreamsByDecoding) {
  VideoReader r(video("raw.h264"));
  EXPECT_EQ(r.frame_count(), 40);
  for (int64_t f : {0, 39, 10, 11, 3}) EXPECT_EQ(read_code(r.read_frame(f)), f) << "frame " << f;
}

TEST_F(FramesTest, ReaderConvertsCropsAndResizes) {
  VideoReader r(video("code150.mp4"));
  // Frame 5 = bits 0 and 2: blocks (0,0) and (2,0) white.
  Image gray = r.read_frame(5, {.format = PixelFormat::kGray8});
  EXPECT_EQ(gray.channels(), 1);
  EXPECT_EQ(read_code(gray), 5);
  Image rgb = r.read_frame(5, {.format = PixelFormat::kRgb24});
  EXPECT_EQ(read_code(rgb), 5);
  // Crop block (2,0) exactly: all white; crop with an odd corner (not chroma aligned).
  Image block = r.read_frame(5, {.format = PixelFormat::kBgr24, .crop = CropRect{32, 0, 16, 16}});
  ASSERT_EQ(block.width, 16);
  ASSERT_EQ(block.height, 16);
  EXPECT_GT(block.row(8)[8 * 3], 200);
  Image odd = r.read_frame(5, {.format = PixelFormat::kGray8, .crop = CropRect{33, 1, 13, 13}, .width = 4, .height = 4});
  ASSERT_EQ(odd.width, 4);
  EXPECT_GT(odd.row(2)[2], 200);
  // Area resize to one pixel per block: block averages.
  Image thumb = r.read_frame(5, {.format = PixelFormat::kGray8, .width = 4, .height = 3});
  ASSERT_EQ(thumb.pixels.size(), 12u);
  for (int b = 0; b < 12; ++b) {
    const bool white = (5 >> b) & 1;
    EXPECT_EQ(thumb.pixels[static_cast<std::size_t>(b)] > 128, white) << "block " << b;
  }
  // Crop + resize taken in the source format equals convert-then-crop-then-resize closely.
  Image aligned = r.read_frame(5, {.format = PixelFormat::kGray8, .crop = CropRect{32, 16, 32, 32}, .width = 2, .height = 2});
  EXPECT_LT(aligned.pixels[0], 40);  // block (2,1): bit 6 of 5 = 0
  EXPECT_EQ(expect_error([&] { r.read_frame(5, {.crop = CropRect{60, 0, 10, 10}}); }),
            "crop (60, 0, 10, 10) is outside the 64x48 frame");
}

TEST_F(FramesTest, PngShowsTheFrameAndMatchesFfmpegExtraction) {
  TempDir tmp;
  VideoReader r(video("code150.mp4"));
  Image img = r.read_frame(37);
  write_png(tmp / "ours.png", img);
  Image back = read_image(tmp / "ours.png");
  EXPECT_EQ(back.pixels, img.pixels);  // PNG is lossless, BGR order kept through RGB storage
  EXPECT_EQ(read_code(back), 37);
  const std::string cmd = "ffmpeg -hide_banner -loglevel error -y -i " + q(video("code150.mp4")) +
                          " -vf 'select=eq(n\\,37)' -fps_mode passthrough -frames:v 1 " + q(tmp / "ref.png");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  Image ref = read_image(tmp / "ref.png");
  ASSERT_EQ(ref.pixels.size(), img.pixels.size());
  int max_diff = 0;
  for (std::size_t i = 0; i < ref.pixels.size(); ++i)
    max_diff = std::max(max_diff, std::abs(int(ref.pixels[i]) - int(img.pixels[i])));
  EXPECT_LE(max_diff, 2) << "our frame 37 differs from ffmpeg's";
}

TEST_F(FramesTest, ReaderErrorsNameTheFile) {
  TempDir tmp;
  auto check = [&](const fs::path& p, const std::string& why) {
    std::string msg = expect_error([&] { VideoReader r(p); r.frame_count(); });
    EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(why), std::string::npos) << msg;
  };
  check(tmp / "missing.mp4", "file not found");
  check(tmp.path(), "is a directory");
  write_file_atomic(tmp / "notes.txt", "not a video at all\n");
  check(tmp / "notes.txt", "Failed to open video");
  std::string garbage(4096, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919) % 251);
  write_file_atomic(tmp / "garbage.mp4", garbage);
  check(tmp / "garbage.mp4", "Failed to open video");
  // A truncated mp4 (the moov atom is at the end).
  std::string whole = read_file_text(video("code150.mp4"));
  write_file_atomic(tmp / "truncated.mp4", whole.substr(0, whole.size() / 2));
  check(tmp / "truncated.mp4", "Failed to open video");
  ASSERT_EQ(std::system(("ffmpeg -hide_banner -loglevel error -y -f lavfi -i sine=d=0.2 " + q(tmp / "audio.wav")).c_str()),
            0);
  check(tmp / "audio.wav", "no video stream");
}

// ---------------------------------------------------------------------------------------------
// Media index

TEST_F(FramesTest, ImportVideoWritesTheMediaIndex) {
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "ds", {.name = "t"});
  // Given in reverse name order: video_order ranks by file name.
  auto done = import_videos(ds, {video("part_b.mp4"), video("part_a.mp4")}, {.group = "g 1", .sequence = "s 1"});
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(done[0].hard_linked);  // same filesystem
  EXPECT_EQ(done[0].video_order, 1);
  EXPECT_EQ(done[1].video_order, 0);
  EXPECT_EQ(done[0].stored, ds.media_root() / "g%201__s%201" / "part_b.mp4");
  TextCsv idx = TextCsv::read(ds.media_root() / "index.csv");
  EXPECT_EQ(idx.header, media_index_columns());
  EXPECT_EQ(join_names(idx.header, ","),
            "name,group,sequence,group_safe,sequence_safe,abs_path,size_bytes,mtime_iso,width,height,fps,codec,"
            "video_order");
  ASSERT_EQ(idx.rows.size(), 2u);
  EXPECT_EQ(idx.cell(0, "name"), "part_b.mp4");
  EXPECT_EQ(idx.cell(0, "group_safe"), "g%201");
  EXPECT_EQ(idx.cell(0, "sequence_safe"), "s%201");
  EXPECT_EQ(idx.cell(0, "width"), "64");
  EXPECT_EQ(idx.cell(0, "fps"), "25.0");
  EXPECT_EQ(idx.cell(0, "codec"), "h264");
  EXPECT_EQ(idx.cell(0, "video_order"), "1");
  EXPECT_EQ(idx.cell(0, "size_bytes"), std::to_string(fs::file_size(video("part_b.mp4"))));
  EXPECT_TRUE(fs::path(std::string(idx.cell(0, "abs_path"))).is_absolute());
  EXPECT_EQ(idx.cell(0, "mtime_iso").substr(19).find("+00:00") != std::string::npos, true);
  // Importing the same file again changes nothing; a different file under the same name needs
  // --overwrite; a non-video is refused before anything is stored.
  import_videos(ds, {video("part_a.mp4")}, {.group = "g 1", .sequence = "s 1"});
  EXPECT_EQ(TextCsv::read(ds.media_root() / "index.csv").rows.size(), 2u);
  fs::create_directories(tmp / "other");
  fs::copy_file(video("code150.mp4"), tmp / "other" / "part_a.mp4");
  std::string msg = expect_error(
      [&] { import_videos(ds, {tmp / "other" / "part_a.mp4"}, {.group = "g 1", .sequence = "s 1"}); });
  EXPECT_NE(msg.find("already stored"), std::string::npos) << msg;
  auto replaced = import_videos(ds, {tmp / "other" / "part_a.mp4"}, {.group = "g 1", .sequence = "s 1", .overwrite = true, .copy = true});
  EXPECT_FALSE(replaced[0].hard_linked);
  EXPECT_EQ(TextCsv::read(ds.media_root() / "index.csv").rows.size(), 2u);
  write_file_atomic(tmp / "bad.mp4", "nope");
  msg = expect_error([&] { import_videos(ds, {video("scenes.mp4"), tmp / "bad.mp4"}, {.sequence = "s2"}); });
  EXPECT_NE(msg.find((tmp / "bad.mp4").string()), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(ds.media_root() / "s2" / "scenes.mp4"));
  auto rows = read_media_index(ds);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].group, "g 1");
  EXPECT_EQ(rows[0].sequence, "s 1");
}

// ---------------------------------------------------------------------------------------------
// extract_frames

Json load_json(const fs::path& p) { return python_json_loads(read_file_text(p)); }

std::vector<std::string> keys_of(const Json& obj) {
  std::vector<std::string> out;
  for (auto it = obj.begin(); it != obj.end(); ++it) out.push_back(it.key());
  return out;
}

TEST_F(FramesTest, UniformPicksTheSpecifiedFramesAndWritesTheLayout) {
  TempDir tmp;
  Dataset ds = make_dataset(tmp, {{"m01", {"code150.mp4"}}}, "cohort");
  FrameSamplingOptions opt;
  opt.n_frames = 7;
  ::testing::internal::CaptureStdout();
  FrameSamplingResult r = extract_frames(ds, opt);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(r.run_id, "uniform-" + r.params_hash);
  const fs::path run_root = ds.root("frames") / "uniform" / r.run_id;
  EXPECT_EQ(r.run_root, run_root);
  EXPECT_NE(out.find("[extract_frames:uniform] completed run_id=" + r.run_id + " (1/1 sequences) -> " +
                     run_root.string()),
            std::string::npos)
      << out;
  ASSERT_EQ(r.sequences.size(), 1u);
  EXPECT_EQ(r.sequences[0].status, FrameSequenceResult::Status::kExtracted) << r.sequences[0].message;
  const std::vector<int64_t> expect = {0, 25, 50, 74, 99, 124, 149};
  EXPECT_EQ(r.sequences[0].selected_frames, expect);
  EXPECT_TRUE(r.finished);

  const fs::path seq_dir = run_root / "cohort__m01";
  for (int64_t f : expect) {
    const fs::path png = seq_dir / frame_name(f);
    ASSERT_TRUE(fs::exists(png)) << png;
    EXPECT_EQ(read_code(read_image(png)), f) << png;
  }
  EXPECT_EQ(get_frame_paths(ds, "uniform").size(), 7u);
  EXPECT_EQ(get_frame_paths(ds, "uniform", r.run_id, "cohort", "m01").front(), seq_dir / "frame_000000.png");

  EXPECT_EQ(read_file_text(run_root / "run_params.json"), python_json_dumps(frame_sampling_params(opt), {.indent = 2}));
  Json info = load_json(seq_dir / "run_info.json");
  EXPECT_EQ(join_names(keys_of(info), ","),
            "run_id,method,video_path,output_dir,manifest_path,n_requested,n_extracted,selected_frame_indices,"
            "start_frame,end_frame,candidate_step,crop,created_utc,files,video_meta,sampling,random_state");
  EXPECT_EQ(info["video_path"], "media_raw/cohort__m01/code150.mp4");
  EXPECT_EQ(info["output_dir"], "media/frames/uniform/" + r.run_id + "/cohort__m01");
  EXPECT_EQ(info["n_requested"], 7);
  EXPECT_EQ(info["n_extracted"], 7);
  EXPECT_EQ(info["start_frame"], 0);
  EXPECT_EQ(info["end_frame"], 149);
  EXPECT_TRUE(info["crop"].is_null());
  const std::string created = info["created_utc"].get<std::string>();
  ASSERT_EQ(created.size(), 20u) << created;
  EXPECT_EQ(created[10], 'T');
  EXPECT_EQ(created.back(), 'Z');
  EXPECT_EQ(python_json_dumps(info["files"][3]),
            R"({"frame_index": 74, "path": "frame_000074.png", "width": 64, "height": 48})");
  EXPECT_EQ(python_json_dumps(info["video_meta"]), R"({"width": 64, "height": 48, "fps": 25.0, "frame_count": 150})");
  EXPECT_EQ(python_json_dumps(info["sampling"]), "{}");
  EXPECT_EQ(info["random_state"], 42);

  TextCsv idx = TextCsv::read(ds.root("frames") / "uniform" / "index.csv");
  EXPECT_EQ(idx.header, frames_index_columns());
  EXPECT_EQ(join_names(idx.header, ","),
            "abs_path,run_id,started_at,finished_at,method,group,sequence,video_abs_path,params_hash,"
            "n_frames_extracted,n_frames_requested");
  ASSERT_EQ(idx.rows.size(), 1u);
  EXPECT_EQ(idx.cell(0, "abs_path"), seq_dir.string());
  EXPECT_EQ(idx.cell(0, "run_id"), r.run_id);
  EXPECT_EQ(idx.cell(0, "method"), "uniform");
  EXPECT_EQ(idx.cell(0, "group"), "cohort");
  EXPECT_EQ(idx.cell(0, "sequence"), "m01");
  EXPECT_EQ(idx.cell(0, "video_abs_path"), (ds.media_root() / "cohort__m01" / "code150.mp4").string());
  EXPECT_EQ(idx.cell(0, "params_hash"), r.params_hash);
  EXPECT_EQ(idx.cell(0, "n_frames_extracted"), "7");
  EXPECT_EQ(idx.cell(0, "n_frames_requested"), "7");
  EXPECT_FALSE(idx.cell(0, "started_at").empty());
  EXPECT_FALSE(idx.cell(0, "finished_at").empty());
  // No temporary folders left behind.
  for (const auto& e : fs::directory_iterator(run_root))
    EXPECT_FALSE(is_temp_file_name(e.path().filename().string())) << e.path();
}

TEST_F(FramesTest, UniformHonoursRangeStepAndCrop) {
  TempDir tmp;
  Dataset ds = make_dataset(tmp, {{"m01", {"code150.mp4"}}});
  FrameSamplingOptions opt;
  opt.n_frames = 3;
  opt.start_frame = 10;
  opt.end_frame = 500;  // clamped to 149
  opt.candidate_step = 2;
  opt.crop = CropRect{-5, 16, 40, 100};  // clamped to (0, 16, 40, 32)
  opt.log = false;
  FrameSamplingResult r = extract_frames(ds, opt);
  ASSERT_EQ(r.sequences[0].status, FrameSequenceResult::Status::kExtracted) << r.sequences[0].message;
  // Candidates 10, 12, ..., 148 (70); linspace(0, 69, 3) = 0, 34.5 -> 34, 69.
  EXPECT_EQ(r.sequences[0].selected_frames, (std::vector<int64_t>{10, 78, 148}));
  const fs::path seq_dir = r.run_root / "m01";
  Json info = load_json(seq_dir / "run_info.json");
  EXPECT_EQ(python_json_dumps(info["crop"]), R"({"x": 0, "y": 16, "w": 40, "h": 32})");
  EXPECT_EQ(info["start_frame"], 10);
  EXPECT_EQ(info["end_frame"], 149);
  EXPECT_EQ(info["candidate_step"], 2);
  Image png = read_image(seq_dir / "frame_000078.png");
  ASSERT_EQ(png.width, 40);
  ASSERT_EQ(png.height, 32);
  // The crop starts at block row 1 of frame 78 = 0b1001110: blocks (0, 1) and (1, 1) are bits 4
  // and 5 (black), block (2, 1) is bit 6 (white).
  EXPECT_LT(png.row(8)[8 * 3], 60);
  EXPECT_LT(png.row(8)[24 * 3], 60);
  EXPECT_GT(png.row(8)[36 * 3], 200);
}

TEST_F(FramesTest, KmeansPicksOneFramePerScene) {
  TempDir tmp;
  Dataset ds = make_dataset(tmp, {{"scenes", {"scenes.mp4"}}});
  FrameSamplingOptions opt;
  opt.method = "kmeans";
  opt.n_frames = 5;
  opt.log = false;
  opt.parallel_workers = 1;
  FrameSamplingResult r = extract_frames(ds, opt);
  ASSERT_EQ(r.sequences[0].status, FrameSequenceResult::Status::kExtracted) << r.sequences[0].message;
  const auto selected = r.sequences[0].selected_frames;
  ASSERT_EQ(selected.size(), 5u);
  std::set<int64_t> scenes;
  for (int64_t f : selected) scenes.insert(f / 20);
  EXPECT_EQ(scenes.size(), 5u) << "frames " << join_names([&] {
    std::vector<std::string> s;
    for (auto f : selected) s.push_back(std::to_string(f));
    return s;
  }());
  Json info = load_json(r.run_root / "scenes" / "run_info.json");
  EXPECT_EQ(python_json_dumps(info["sampling"]),
            R"({"kmeans_resize": [64, 64], "kmeans_grayscale": true, "kmeans_max_candidates": 5000, )"
            R"("kmeans_effective_candidate_step": 1, "kmeans_batch_size": 1024, "kmeans_max_iter": 100, )"
            R"("kmeans_n_init": "auto", "candidate_count": 100})");

  // Same seed, two workers, colour features, another dataset: the same frames and PNG bytes.
  TempDir tmp2;
  Dataset ds2 = make_dataset(tmp2, {{"scenes", {"scenes.mp4"}}});
  opt.parallel_workers = 2;
  FrameSamplingResult r2 = extract_frames(ds2, opt);
  EXPECT_EQ(r2.run_id, r.run_id);
  EXPECT_EQ(r2.sequences[0].selected_frames, selected);
  for (int64_t f : selected) {
    const std::string name = frame_name(f);
    EXPECT_EQ(read_file_bytes(r.run_root / "scenes" / name), read_file_bytes(r2.run_root / "scenes" / name)) << name;
  }
  opt.kmeans_grayscale = false;
  opt.random_state = 7;
  FrameSamplingResult r3 = extract_frames(ds2, opt);
  EXPECT_NE(r3.run_id, r.run_id);
  std::set<int64_t> scenes3;
  for (int64_t f : r3.sequences[0].selected_frames) scenes3.insert(f / 20);
  EXPECT_EQ(scenes3.size(), 5u);
}

TEST_F(FramesTest, KmeansCandidatesFollowTheEffectiveStep) {
  TempDir tmp;
  Dataset ds = make_dataset(tmp, {{"scenes", {"scenes.mp4"}}});
  FrameSamplingOptions opt;
  opt.method = "kmeans";
  opt.n_frames = 10;
  opt.kmeans_max_candidates = 30;  // 100 > 30 -> step 1 * ceil(100 / 30) = 4 -> 25 candidates
  opt.kmeans_resize = {16, 12};
  opt.log = false;
  FrameSamplingResult r = extract_frames(ds, opt);
  ASSERT_EQ(r.sequences[0].status, FrameSequenceResult::Status::kExtracted) << r.sequences[0].message;
  Json info = load_json(r.run_root / "scenes" / "run_info.json");
  EXPECT_EQ(info["sampling"]["kmeans_effective_candidate_step"], 4);
  EXPECT_EQ(info["sampling"]["candidate_count"], 25);
  EXPECT_EQ(info["candidate_step"], 1);
  ASSERT_EQ(r.sequences[0].selected_frames.size(), 10u);
  for (int64_t f : r.sequences[0].selected_frames) EXPECT_EQ(f % 4, 0) << f;
  std::set<int64_t> scenes;
  for (int64_t f : r.sequences[0].selected_frames) scenes.insert(f / 20);
  EXPECT_EQ(scenes.size(), 5u);
  // n >= candidates: every candidate.
  opt.n_frames = 40;
  FrameSamplingResult all = extract_frames(ds, opt);
  ASSERT_EQ(all.sequences[0].selected_frames.size(), 25u);
  EXPECT_EQ(all.sequences[0].selected_frames.back(), 96);
}

TEST_F(FramesTest, RerunSkipsCachedSequencesAndOverwriteRedoesThem) {
  TempDir tmp;
  Dataset ds = make_dataset(tmp, {{"a", {"code150.mp4"}}, {"b", {"scenes.mp4"}}});
  FrameSamplingOptions opt;
  opt.n_frames = 4;
  opt.log = false;
  FrameSamplingResult first = extract_frames(ds, opt);
  ASSERT_EQ(first.sequences.size(), 2u);
  const fs::path png = first.run_root / "a" / "frame_000050.png";
  ASSERT_TRUE(fs::exists(png));
  struct stat before{};
  ::stat(png.c_str(), &before);

  opt.log = true;
  ::testing::internal::CaptureStdout();
  FrameSamplingResult second = extract_frames(ds, opt);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("[extract_frames] skip a (exists, overwrite=False)"), std::string::npos) << out;
  EXPECT_NE(out.find("[extract_frames] skip b (exists, overwrite=False)"), std::string::npos) << out;
  EXPECT_EQ(out.find("completed"), std::string::npos) << out;  // no new rows
  for (const auto& s : second.sequences) EXPECT_EQ(s.status, FrameSequenceResult::Status::kSkipped);
  EXPECT_EQ(second.frames_decoded, 0);
  struct stat after{};
  ::stat(png.c_str(), &after);
  EXPECT_EQ(before.st_ino, after.st_ino);

  opt.log = false;
  opt.overwrite = true;
  opt.sequences = std::set<std::string>{"a"};
  FrameSamplingResult third = extract_frames(ds, opt);
  ASSERT_EQ(third.sequences.size(), 1u);
  EXPECT_EQ(third.sequences[0].status, FrameSequenceResult::Status::kExtracted);
  ::stat(png.c_str(), &after);
  EXPECT_NE(before.st_ino, after.st_ino);  // rewritten (a new file renamed into place)
  TextCsv idx = TextCsv::read(ds.root("frames") / "uniform" / "index.csv");
  EXPECT_EQ(idx.rows.size(), 2u);  // deduplicated on (run_id, group, sequence)
}

TEST_F(FramesTest, InterruptedRunIsIndexedWhenSkippedAndIncompleteFolderIsRedone) {
  TempDir tmp;
  Dataset ds = make_dataset(tmp, {{"a", {"code150.mp4"}}, {"b", {"scenes.mp4"}}});
  FrameSamplingOptions opt;
  opt.n_frames = 3;
  opt.log = false;
  FrameSamplingResult first = extract_frames(ds, opt);
  // Simulate a run killed after "a" was written but before its row (the reference's failure
  // mode), and a folder "b" left half-written without run_info.json.
  const fs::path index = ds.root("frames") / "uniform" / "index.csv";
  write_file_atomic(index, join_names(frames_index_columns(), ",") + "\n");
  fs::remove(first.run_root / "b" / "run_info.json");
  FrameSamplingResult second = extract_frames(ds, opt);
  ASSERT_EQ(second.sequences.size(), 2u);
  EXPECT_EQ(second.sequences[0].status, FrameSequenceResult::Status::kSkipped);
  EXPECT_EQ(second.sequences[1].status, FrameSequenceResult::Status::kExtracted);
  EXPECT_TRUE(fs::exists(first.run_root / "b" / "run_info.json"));
  TextCsv idx = TextCsv::read(index);
  ASSERT_EQ(idx.rows.size(), 2u);
  std::set<std::string> seqs;
  for (std::size_t i = 0; i < idx.rows.size(); ++i) {
    seqs.insert(std::string(idx.cell(i, "sequence")));
    EXPECT_EQ(idx.cell(i, "n_frames_extracted"), "3");
    EXPECT_FALSE(idx.cell(i, "finished_at").empty());
  }
  EXPECT_EQ(seqs, (std::set<std::string>{"a", "b"}));
}

TEST_F(FramesTest, MultiVideoSequenceUsesGlobalFrameNumbers) {
  TempDir tmp;
  Dataset ds = make_dataset(tmp, {{"s", {"part_b.mp4", "part_a.mp4"}}});
  FrameSamplingOptions opt;
  opt.n_frames = 5;
  opt.log = false;
  FrameSamplingResult r = extract_frames(ds, opt);
  ASSERT_EQ(r.sequences[0].status, FrameSequenceResult::Status::kExtracted) << r.sequences[0].message;
  // 70 frames: linspace(0, 69, 5) = 0, 17.25, 34.5, 51.75, 69 -> 0, 17, 34, 52, 69.
  const std::vector<int64_t> expect = {0, 17, 34, 52, 69};
  EXPECT_EQ(r.sequences[0].selected_frames, expect);
  for (int64_t f : expect)
    EXPECT_EQ(read_code(read_image(r.run_root / "s" / frame_name(f))), f);
  Json info = load_json(r.run_root / "s" / "run_info.json");
  EXPECT_EQ(info["video_path"], R"(["media_raw/s/part_a.mp4", "media_raw/s/part_b.mp4"])");
  EXPECT_EQ(join_names(keys_of(info["video_meta"]), ","), "width,height,fps,total_frames,video_count,video_paths");
  EXPECT_EQ(info["video_meta"]["total_frames"], 70);
  EXPECT_EQ(info["video_meta"]["video_count"], 2);
  TextCsv idx = TextCsv::read(ds.root("frames") / "uniform" / "index.csv");
  EXPECT_EQ(idx.cell(0, "video_abs_path"),
            "[\"" + (ds.media_root() / "s" / "part_a.mp4").string() + "\", \"" +
                (ds.media_root() / "s" / "part_b.mp4").string() + "\"]");
  // k-means over the concatenation also speaks global numbers.
  opt.method = "kmeans";
  opt.n_frames = 4;
  opt.candidate_step = 3;
  FrameSamplingResult k = extract_frames(ds, opt);
  ASSERT_EQ(k.sequences[0].status, FrameSequenceResult::Status::kExtracted) << k.sequences[0].message;
  for (int64_t f : k.sequences[0].selected_frames) {
    EXPECT_EQ(f % 3, 0);
    EXPECT_EQ(read_code(read_image(k.run_root / "s" / frame_name(f))), f);
  }
}

TEST_F(FramesTest, FailuresAreReportedPerSequenceAndLeaveTheRunUnfinished) {
  TempDir tmp;
  Dataset ds = make_dataset(tmp, {{"good", {"code150.mp4"}}, {"mixed", {"part_a.mp4", "small.mp4"}}});
  // A media row pointing at a file that went missing.
  {
    TextCsv idx = TextCsv::read(ds.media_root() / "index.csv");
    std::vector<std::string> row = idx.rows.front();
    row[*idx.column_index("sequence")] = "gone";
    row[*idx.column_index("abs_path")] = (tmp / "nowhere.mp4").string();
    idx.rows.push_back(row);
    idx.write_atomic(ds.media_root() / "index.csv");
  }
  FrameSamplingOptions opt;
  opt.n_frames = 2;
  ::testing::internal::CaptureStderr();
  FrameSamplingResult r = extract_frames(ds, opt);
  const std::string err = ::testing::internal::GetCapturedStderr();
  std::map<std::string, FrameSequenceResult> by_seq;
  for (const auto& s : r.sequences) by_seq[s.sequence] = s;
  EXPECT_EQ(by_seq["good"].status, FrameSequenceResult::Status::kExtracted);
  EXPECT_EQ(by_seq["mixed"].status, FrameSequenceResult::Status::kFailed);
  EXPECT_EQ(by_seq["mixed"].message,
            "Resolution mismatch across videos in sequence: [(64, 48), (32, 24)]. All videos must have the same "
            "resolution.");
  EXPECT_EQ(by_seq["gone"].status, FrameSequenceResult::Status::kFailed);
  EXPECT_NE(by_seq["gone"].message.find((tmp / "nowhere.mp4").string()), std::string::npos) << by_seq["gone"].message;
  EXPECT_NE(err.find("[extract_frames] ERROR processing mixed: Resolution mismatch"), std::string::npos) << err;
  EXPECT_NE(err.find("[extract_frames] ERROR processing gone: Failed to open video"), std::string::npos) << err;
  EXPECT_FALSE(r.finished);
  EXPECT_FALSE(fs::exists(r.run_root / "mixed"));
  TextCsv idx = TextCsv::read(ds.root("frames") / "uniform" / "index.csv");
  ASSERT_EQ(idx.rows.size(), 1u);
  EXPECT_EQ(idx.cell(0, "sequence"), "good");
  EXPECT_EQ(idx.cell(0, "finished_at"), "");
}

TEST_F(FramesTest, ScopeAndParameterErrors) {
  TempDir tmp;
  Dataset ds = make_dataset(tmp, {{"a", {"code150.mp4"}}}, "g");
  FrameSamplingOptions opt;
  opt.n_frames = 2;
  opt.groups = std::set<std::string>{"other"};
  ::testing::internal::CaptureStderr();
  FrameSamplingResult r = extract_frames(ds, opt);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "[extract_frames] No media entries match the given scope.\n");
  EXPECT_TRUE(r.sequences.empty());
  EXPECT_TRUE(fs::exists(r.run_root / "run_params.json"));
  EXPECT_FALSE(fs::exists(ds.root("frames") / "uniform" / "index.csv"));

  opt.groups.reset();
  opt.n_frames = 0;
  EXPECT_EQ(expect_error([&] { extract_frames(ds, opt); }), "n_frames must be > 0");
  opt.n_frames = 2;
  opt.candidate_step = 0;
  EXPECT_EQ(expect_error([&] { extract_frames(ds, opt); }), "candidate_step must be > 0");
  opt.candidate_step = 1;
  opt.crop = CropRect{100, 100, 10, 10};
  opt.log = false;
  r = extract_frames(ds, opt);
  ASSERT_EQ(r.sequences.size(), 1u);
  EXPECT_EQ(r.sequences[0].message,
            "Crop rectangle is empty/out-of-bounds after clamping: (100, 100, -36, -52) for frame size (64, 48)");
  opt.crop.reset();
  opt.start_frame = 100;
  opt.end_frame = 50;
  r = extract_frames(ds, opt);
  EXPECT_EQ(r.sequences[0].message, "Invalid frame range after clamping: start=100, end=50");
}

}  // namespace
}  // namespace mosaic

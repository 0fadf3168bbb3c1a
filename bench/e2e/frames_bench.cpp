// frames_bench: video decoding throughput and frame sampling time on a 10-minute 720p video,
// next to the floor `ffmpeg -i video -f null -` (decoding only, same file, same run).
//
// The video (1280x720, 30 fps, 18000 frames, x264 veryfast: CABAC, B-frames, GOP 250) is made
// once with the ffmpeg command into `bench-cache/` next to this executable (or
// $MOSAIC_BENCH_CACHE); it is not in git. Rows:
//   FfmpegNullDecode/threads:N   ffmpeg's own decode of every frame, N decoder threads (0 = auto)
//   DecodeAll/thumbnail          VideoReader, every frame, + 64x64 grey area thumbnail (k-means path)
//   DecodeAll/bgr                VideoReader, every frame, + full-size BGR conversion
//   SampleUniform100             extract_frames uniform, n=100 (seek + decode + PNG)
//   SampleKmeans100/workers:N    extract_frames kmeans, n=100 (defaults: 5000 candidates max,
//                                64x64 grey, batch 1024), N decoding threads
// items/s = frames decoded per wall-clock second. The machine may be shared, so each row also
// reports its CPU seconds (cpu_s; for ffmpeg the child process's) and frames per CPU second
// (fps_cpu), which contention disturbs much less; peak RSS as peak_rss_mb.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>

#include "mosaic/dataset.hpp"
#include "mosaic/frames.hpp"
#include "mosaic/video.hpp"

namespace fs = std::filesystem;

namespace {

fs::path cache_dir() {
  if (const char* env = std::getenv("MOSAIC_BENCH_CACHE")) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return (ec ? fs::current_path() : exe.parent_path()) / "bench-cache";
}

const fs::path& video_path() {
  static const fs::path path = [] {
    fs::path dir = cache_dir();
    fs::create_directories(dir);
    fs::path video = dir / "video720p_10min.mp4";
    if (!fs::exists(video)) {
      std::fprintf(stderr, "frames_bench: generating %s (once; a few minutes)...\n", video.c_str());
      const fs::path tmp = dir / "video720p_10min.tmp.mp4";
      const std::string cmd =
          "ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30:duration=600 "
          "-c:v libx264 -preset veryfast -pix_fmt yuv420p '" + tmp.string() + "'";
      if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "frames_bench: ffmpeg failed: %s\n", cmd.c_str());
        std::exit(1);
      }
      fs::rename(tmp, video);
    }
    return video;
  }();
  return path;
}

double cpu_seconds(int who) {
  struct rusage ru{};
  ::getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

void report_cpu(benchmark::State& state, double cpu, int64_t frames) {
  state.counters["cpu_s"] = cpu;
  state.counters["fps_cpu"] = cpu > 0 ? static_cast<double>(frames) / cpu : 0.0;
}

double peak_rss_mb() {
  struct rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

constexpr int64_t kFrames = 18000;

void BM_FfmpegNullDecode(benchmark::State& state) {
  const std::string cmd = "ffmpeg -hide_banner -loglevel error -threads " + std::to_string(state.range(0)) +
                          " -i '" + video_path().string() + "' -f null -";
  const double cpu0 = cpu_seconds(RUSAGE_CHILDREN);
  for (auto _ : state) {
    if (std::system(cmd.c_str()) != 0) state.SkipWithError("ffmpeg failed");
  }
  state.SetItemsProcessed(state.iterations() * kFrames);
  report_cpu(state, cpu_seconds(RUSAGE_CHILDREN) - cpu0, state.iterations() * kFrames);
}
BENCHMARK(BM_FfmpegNullDecode)->ArgName("threads")->Arg(1)->Arg(0)->Unit(benchmark::kSecond)->UseRealTime()->MeasureProcessCPUTime()->Iterations(1);

void decode_all(benchmark::State& state, const mosaic::FrameConversion& conversion) {
  int64_t decoded = 0;
  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  for (auto _ : state) {
    mosaic::VideoReader reader(video_path());
    std::vector<int64_t> all(static_cast<std::size_t>(reader.frame_count()));
    std::iota(all.begin(), all.end(), 0);
    uint64_t checksum = 0;
    reader.read_frames(all, conversion, [&](std::size_t, mosaic::Image& img) { checksum += img.pixels[0]; });
    benchmark::DoNotOptimize(checksum);
    decoded += reader.frames_decoded();
  }
  state.SetItemsProcessed(decoded);
  report_cpu(state, cpu_seconds(RUSAGE_SELF) - cpu0, decoded);
  state.counters["peak_rss_mb"] = peak_rss_mb();
}

void BM_DecodeAllThumbnail(benchmark::State& state) {
  decode_all(state, {.format = mosaic::PixelFormat::kGray8, .width = 64, .height = 64});
}
BENCHMARK(BM_DecodeAllThumbnail)->Name("DecodeAll/thumbnail")->Unit(benchmark::kSecond)->UseRealTime()->MeasureProcessCPUTime()->Iterations(1);

void BM_DecodeAllBgr(benchmark::State& state) { decode_all(state, {.format = mosaic::PixelFormat::kBgr24}); }
BENCHMARK(BM_DecodeAllBgr)->Name("DecodeAll/bgr")->Unit(benchmark::kSecond)->UseRealTime()->MeasureProcessCPUTime()->Iterations(1);

// A dataset whose only sequence is the benchmark video (hard-linked), made once.
const mosaic::Dataset& dataset() {
  static const mosaic::Dataset ds = [] {
    const fs::path dir = cache_dir() / "dataset";
    fs::remove_all(dir);
    mosaic::Dataset d = mosaic::Dataset::create(dir, {.name = "frames-bench"});
    mosaic::import_videos(d, {video_path()}, {.sequence = "video720p"});
    return d;
  }();
  return ds;
}

void sample(benchmark::State& state, const std::string& method, int workers) {
  mosaic::FrameSamplingOptions opt;
  opt.n_frames = 100;
  opt.method = method;
  opt.overwrite = true;
  opt.log = false;
  opt.parallel_workers = workers;
  int64_t decoded = 0;
  (void)dataset();  // made before the clock starts
  const double cpu0 = cpu_seconds(RUSAGE_SELF);
  for (auto _ : state) {
    mosaic::FrameSamplingResult r = mosaic::extract_frames(dataset(), opt);
    if (r.sequences.empty() || r.sequences[0].status != mosaic::FrameSequenceResult::Status::kExtracted)
      state.SkipWithError(r.sequences.empty() ? "no sequence" : r.sequences[0].message.c_str());
    decoded += r.frames_decoded;
  }
  state.SetItemsProcessed(decoded);
  report_cpu(state, cpu_seconds(RUSAGE_SELF) - cpu0, decoded);
  state.counters["peak_rss_mb"] = peak_rss_mb();
}

void BM_SampleUniform100(benchmark::State& state) { sample(state, "uniform", static_cast<int>(state.range(0))); }
BENCHMARK(BM_SampleUniform100)->ArgName("workers")->Arg(1)->Arg(0)->Unit(benchmark::kSecond)->UseRealTime()->MeasureProcessCPUTime()->Iterations(1);

void BM_SampleKmeans100(benchmark::State& state) { sample(state, "kmeans", static_cast<int>(state.range(0))); }
BENCHMARK(BM_SampleKmeans100)->ArgName("workers")->Arg(1)->Arg(0)->Unit(benchmark::kSecond)->UseRealTime()->MeasureProcessCPUTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();

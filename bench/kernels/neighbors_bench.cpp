// neighbors_bench: nearest-neighbour search of one frame, brute force vs k-d tree, to place the
// crossover (NearestNeighborSearch::kDefaultTreeThreshold). items_per_second = points per second.
//
//   build-*/bench/neighbors_bench
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "features/kernels/neighbors.hpp"

namespace {

void cloud(std::size_t n, std::vector<double>& x, std::vector<double>& y) {
  std::mt19937_64 rng(n);
  std::uniform_real_distribution<double> u(0, 1000);
  x.resize(n);
  y.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = u(rng);
    y[i] = u(rng);
  }
}

void run(benchmark::State& state, std::size_t threshold) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<double> x, y;
  cloud(n, x, y);
  std::vector<int64_t> nn(n);
  mosaic::kernels::NearestNeighborSearch search(threshold);
  for (auto _ : state) {
    search.search(x, y, nn);
    benchmark::DoNotOptimize(nn.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

void BM_BruteForce(benchmark::State& state) { run(state, static_cast<std::size_t>(1) << 40); }
void BM_KdTree(benchmark::State& state) { run(state, 0); }
void BM_Default(benchmark::State& state) { run(state, mosaic::kernels::NearestNeighborSearch::kDefaultTreeThreshold); }

BENCHMARK(BM_BruteForce)->Arg(4)->Arg(10)->Arg(24)->Arg(32)->Arg(48)->Arg(64)->Arg(100)->Arg(300)->Arg(1000);
BENCHMARK(BM_KdTree)->Arg(4)->Arg(10)->Arg(24)->Arg(32)->Arg(48)->Arg(64)->Arg(100)->Arg(300)->Arg(1000);
BENCHMARK(BM_Default)->Arg(10)->Arg(100)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();

// test_models.cpp: models for end-to-end tests of `mosaic train`, built as a library the tests
// preload into the `mosaic` command (LD_PRELOAD), so the CLI's whole training path (config,
// progress bar, progress rows, exit codes) runs without a test model in the product.
//
// "test-slow-mean": per sequence of the tracks index (one "class" each), the mean X, refined by
// damped epochs m <- m + (mean - m) / 2 from 0, sleeping `sleep_ms` after each epoch so that a
// job lasts long enough to be watched from another process; `fail_at_class` makes it throw.
#include <chrono>
#include <cmath>
#include <thread>

#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/json.hpp"
#include "mosaic/table.hpp"
#include "mosaic/training.hpp"

namespace mosaic::test_models {
namespace {

class TestSlowMean final : public Model {
 public:
  static const ModelInfo& static_info() {
    static const ModelInfo i{.name = "test-slow-mean", .version = "0.1", .summary = "Mean X per sequence (test model)"};
    return i;
  }
  const ModelInfo& info() const override { return static_info(); }

  void configure(const Json& config) override {
    check_config_keys(config, {"epochs", "sleep_ms", "fail_at_class"}, info().name);
    epochs_ = config.value("epochs", int64_t{3});
    sleep_ms_ = config.value("sleep_ms", int64_t{0});
    fail_at_class_ = config.value("fail_at_class", int64_t{-1});
    if (epochs_ < 1) throw InputError("test-slow-mean: config key 'epochs' must be >= 1");
  }

  Json train(const TrainContext& ctx, ProgressCallback& progress) override {
    auto entries = ctx.dataset.tracks_index();
    progress.on_phase("load", std::to_string(entries.size()) + " sequences");
    Json means = Json::object();
    double total = 0;
    for (std::size_t k = 0; k < entries.size(); ++k) {
      progress.on_class_start(static_cast<int64_t>(k), static_cast<int64_t>(entries.size()), entries[k].sequence);
      if (static_cast<int64_t>(k) == fail_at_class_)
        throw StateError("test-slow-mean: failing at " + entries[k].sequence + " as configured");
      Table t = ctx.dataset.load_tracks(entries[k].group, entries[k].sequence);
      double sum = 0;
      int64_t n = 0;
      for (std::size_t r = 0; r < t.num_rows(); ++r) {
        const double v = t.column("X").as_double(r);
        if (!std::isnan(v)) {
          sum += v;
          ++n;
        }
      }
      const double mean = n ? sum / static_cast<double>(n) : 0.0;
      double m = 0;
      for (int64_t e = 0; e < epochs_; ++e) {
        m += (mean - m) / 2.0;
        progress.on_epoch_end(e, epochs_, Json{{"mean", m}, {"gap", std::abs(mean - m)}});
        if (sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
      }
      means[entries[k].sequence] = m;
      total += m;
    }
    write_file_atomic(ctx.run_root / "means.json", python_json_dumps(means, {.indent = 2}));
    return Json{{"n_sequences", static_cast<int64_t>(entries.size())},
                {"mean_of_means", entries.empty() ? 0.0 : total / static_cast<double>(entries.size())}};
  }

 private:
  int64_t epochs_ = 3, sleep_ms_ = 0, fail_at_class_ = -1;
};

}  // namespace
MOSAIC_REGISTER_MODEL(TestSlowMean);
}  // namespace mosaic::test_models

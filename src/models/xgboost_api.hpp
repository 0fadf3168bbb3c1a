// xgboost_api.hpp (internal): RAII owners over XGBoost's C API (Debian's libxgboost 1.7).
//
// Every C call goes through one check: a non-zero return becomes a mosaic error carrying
// XGBGetLastError()'s text and what we were doing (bad parameters -> InputError, model files
// -> IoError, anything else -> StateError). Handles are freed by the destructors, also when
// an exception unwinds.
//
//   xgb::DMatrix train = xgb::DMatrix::dense(values, rows, cols);   // float32, NaN = missing
//   train.set_labels(labels);
//   xgb::Booster booster({&train});
//   booster.set_params({{"objective", "binary:logistic"}, {"seed", "42"}});
//   for (int round = 0; round < 100; ++round) booster.update_one_iter(round, train);
//   std::vector<float> p = booster.predict(train);     // rows (x classes for softprob)
//   booster.save_model("model.json");                   // XGBoost's own JSON (or .ubj)
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mosaic::xgb {

/// \brief The library's version, e.g. "1.7.4".
std::string version();

/// \brief A dense float32 design matrix (row-major) with optional labels and weights.
class DMatrix {
 public:
  /// Copy `values` (rows x cols, row-major) into a new DMatrix; NaN marks a missing value.
  static DMatrix dense(std::span<const float> values, uint64_t rows, uint64_t cols);
  DMatrix(DMatrix&& other) noexcept;
  DMatrix& operator=(DMatrix&& other) noexcept;
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
  ~DMatrix();

  void set_labels(std::span<const float> labels);
  void set_weights(std::span<const float> weights);
  uint64_t rows() const;
  uint64_t cols() const;
  void* handle() const noexcept { return handle_; }

 private:
  explicit DMatrix(void* handle) noexcept : handle_(handle) {}
  void* handle_ = nullptr;
};

/// \brief A gradient-boosted model: train round by round, predict, save and load.
class Booster {
 public:
  /// A booster that caches `cache` (the training and evaluation matrices).
  explicit Booster(const std::vector<const DMatrix*>& cache = {});
  Booster(Booster&& other) noexcept;
  Booster& operator=(Booster&& other) noexcept;
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;
  ~Booster();

  /// Set one learner parameter; an unknown or invalid one throws InputError (at the next
  /// update, XGBoost validates; we check there too).
  void set_param(std::string_view name, std::string_view value);
  void set_params(const std::vector<std::pair<std::string, std::string>>& params);
  /// One boosting round on `train`.
  void update_one_iter(int round, const DMatrix& train);
  /// "[round]\tname-metric:value..." for the given matrices.
  std::string eval_one_iter(int round, const std::vector<std::pair<const DMatrix*, std::string>>& sets);
  /// Transformed predictions (probabilities for logistic/softprob), row-major; `shape` gets the
  /// output shape (rows, or rows x classes).
  std::vector<float> predict(const DMatrix& data, std::vector<uint64_t>* shape = nullptr) const;
  int boosted_rounds() const;
  uint64_t num_features() const;

  /// Save in XGBoost's own format: JSON for ".json", UBJSON for ".ubj" (atomically).
  void save_model(const std::filesystem::path& path) const;
  /// The model as bytes in "json" or "ubj" format.
  std::vector<char> save_raw(std::string_view format = "json") const;
  static Booster load_model(const std::filesystem::path& path);
  static Booster load_raw(std::span<const char> bytes, std::string_view source);
  /// The learner's configuration as JSON text (parameters actually in force).
  std::string config() const;
  void* handle() const noexcept { return handle_; }

 private:
  void* handle_ = nullptr;
};

}  // namespace mosaic::xgb

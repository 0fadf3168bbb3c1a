// classifier_bundle.hpp (internal): a trained XGBoost classifier as files, shared by the
// `xgboost` feature and the `behavior-xgb` model, so either one's run can be applied per frame.
//
// On disk (never pickles, DECISIONS "Out of scope"): `<stem>.json` holds our metadata (format
// version, strategy, classes, feature columns, the optional standardiser, the booster files,
// library version) and each booster is XGBoost's own JSON model file next to it
// (`<stem>.<i>.json`: one for "multiclass", one per class for "one_vs_rest").
//
//   ClassifierBundle b = ClassifierBundle::load(run_root / "xgboost_model.json");
//   std::vector<float> p = b.predict_proba(x, rows);   // rows x classes, row-major, float32
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "models/xgboost_api.hpp"
#include "mosaic/json.hpp"

namespace mosaic::models {

/// \brief Strategies of a bundle: one softmax model, or one binary model per class.
inline constexpr const char* kMulticlass = "multiclass";
inline constexpr const char* kOneVsRest = "one_vs_rest";

struct ClassifierBundle {
  static constexpr int kFormatVersion = 1;

  std::string strategy = kMulticlass;
  std::vector<int64_t> classes;              ///< class ids, in probability-column order
  std::vector<std::string> feature_columns;  ///< input columns, in matrix-column order
  std::vector<xgb::Booster> boosters;        ///< 1 (multiclass) or classes.size() (one_vs_rest)
  /// StandardScaler applied before the boosters: x' = (x - mean) / scale (empty = none).
  std::vector<double> scaler_mean, scaler_scale;
  Json extra = Json::object();  ///< producer-specific metadata (label_map, run info, ...)
  /// Serialises predictions: features apply from several threads at once, and a booster's
  /// first prediction (lazy configuration) is not safe to race.
  std::shared_ptr<std::mutex> predict_mutex = std::make_shared<std::mutex>();

  /// \brief Probabilities (rows x classes, row-major). `x` is rows x feature_columns.size(),
  /// float64 row-major; it is rounded to float32 (as XGBoost's DMatrix does), then standardised
  /// when a scaler is set (scaled_value); NaN = missing. Safe to call from several threads.
  std::vector<float> predict_proba(std::span<const double> x, std::size_t rows) const;

  /// \brief Write `<stem>.json` and the booster files (atomically, each).
  void save(const std::filesystem::path& meta_path) const;
  /// \brief Read a bundle; IoError naming the file when it or a booster file is missing or
  /// unreadable, StateError on a format-version mismatch (both versions in the message).
  static ClassifierBundle load(const std::filesystem::path& meta_path);
};

/// \brief Booster parameters as (name, value) text pairs, in the order they are set.
using BoosterParams = std::vector<std::pair<std::string, std::string>>;

/// \brief Train `rounds` boosting rounds on `train` (XGBoosterUpdateOneIter, one call per
/// round, so progress can be reported); `after_round(round, booster)` runs after each round.
xgb::Booster train_booster(const xgb::DMatrix& train, const BoosterParams& params, int rounds,
                           const std::function<void(int, xgb::Booster&)>& after_round = {});

/// \brief A number as Python's str() writes it (what the Python wrapper hands XGBoost).
std::string param_text(const Json& value);

/// \brief StandardScaler.transform on a float32 value, as numpy does it in place on a float32
/// array: (v - mean) rounded to float32, then / scale rounded to float32.
inline float scaled_value(float v, double mean, double scale) {
  const float centred = static_cast<float>(static_cast<double>(v) - mean);
  return static_cast<float>(static_cast<double>(centred) / scale);
}

/// \brief Round a float64 row-major matrix to float32 (numpy astype(float32), NaN kept).
std::vector<float> to_float32(std::span<const double> x);

}  // namespace mosaic::models

// classifier_bundle.cpp: save, load and apply a trained XGBoost classifier; see the header.
#include "models/classifier_bundle.hpp"

#include <fmt/format.h>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace mosaic::models {

namespace fs = std::filesystem;

std::vector<float> to_float32(std::span<const double> x) {
  std::vector<float> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = static_cast<float>(x[i]);
  return out;
}

xgb::Booster train_booster(const xgb::DMatrix& train, const BoosterParams& params, int rounds,
                           const std::function<void(int, xgb::Booster&)>& after_round) {
  xgb::Booster booster({&train});
  booster.set_params(params);
  for (int round = 0; round < rounds; ++round) {
    booster.update_one_iter(round, train);
    if (after_round) after_round(round, booster);
  }
  return booster;
}

std::string param_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (value.is_number()) return python_float_repr(value.get<double>());
  return value.dump();
}

std::vector<float> ClassifierBundle::predict_proba(std::span<const double> x, std::size_t rows) const {
  const std::size_t cols = feature_columns.size();
  const std::size_t k = classes.size();
  if (x.size() != rows * cols)
    throw InternalError(fmt::format("predict_proba: {} values for {} rows x {} columns", x.size(), rows, cols));
  std::vector<float> xf(x.size());
  const bool scaled = !scaler_mean.empty();
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const float v = static_cast<float>(x[r * cols + c]);
      xf[r * cols + c] = scaled ? scaled_value(v, scaler_mean[c], scaler_scale[c]) : v;
    }
  std::vector<float> probs(rows * k, 0.0F);
  if (rows == 0) return probs;
  xgb::DMatrix dm = xgb::DMatrix::dense(xf, rows, cols);
  std::lock_guard<std::mutex> lock(*predict_mutex);
  if (strategy == kMulticlass) {
    std::vector<uint64_t> shape;
    std::vector<float> p = boosters.at(0).predict(dm, &shape);
    if (p.size() != rows * k)
      throw StateError(fmt::format("multiclass model gave {} values for {} rows x {} classes", p.size(), rows, k));
    return p;
  }
  for (std::size_t c = 0; c < k; ++c) {
    std::vector<float> p = boosters.at(c).predict(dm);
    if (p.size() != rows) throw StateError(fmt::format("binary model of class {} gave {} values for {} rows",
                                                       classes[c], p.size(), rows));
    for (std::size_t r = 0; r < rows; ++r) probs[r * k + c] = p[r];
  }
  return probs;
}

void ClassifierBundle::save(const fs::path& meta_path) const {
  const std::string stem = meta_path.stem().string();
  Json meta = Json::object();
  meta["format"] = "mosaic-xgboost-classifier";
  meta["format_version"] = kFormatVersion;
  meta["strategy"] = strategy;
  meta["classes"] = classes;
  meta["feature_columns"] = feature_columns;
  Json files = Json::array();
  for (std::size_t i = 0; i < boosters.size(); ++i) {
    std::string name = fmt::format("{}.{}.json", stem, i);
    boosters[i].save_model(meta_path.parent_path() / name);
    files.push_back(name);
  }
  meta["booster_files"] = files;
  if (!scaler_mean.empty()) meta["scaler"] = {{"mean", scaler_mean}, {"scale", scaler_scale}};
  else meta["scaler"] = nullptr;
  meta["xgboost_version"] = xgb::version();
  meta["extra"] = extra;
  write_file_atomic(meta_path, meta.dump(2) + "\n");
}

ClassifierBundle ClassifierBundle::load(const fs::path& meta_path) {
  if (!fs::exists(meta_path)) throw IoError(fmt::format("Trained model not found: {}", meta_path.string()));
  Json meta;
  try {
    meta = Json::parse(read_file_text(meta_path));
  } catch (const Json::exception& e) {
    throw IoError(fmt::format("{}: not a JSON model description: {}", meta_path.string(), e.what()));
  }
  if (meta.value("format", "") != "mosaic-xgboost-classifier")
    throw IoError(fmt::format("{}: not a mosaic XGBoost classifier (format '{}')", meta_path.string(),
                              meta.value("format", "")));
  int version = meta.value("format_version", 0);
  if (version != kFormatVersion)
    throw StateError(fmt::format("{}: classifier format version {} (this build reads {})", meta_path.string(), version,
                                 kFormatVersion));
  ClassifierBundle b;
  b.strategy = meta.at("strategy").get<std::string>();
  b.classes = meta.at("classes").get<std::vector<int64_t>>();
  b.feature_columns = meta.at("feature_columns").get<std::vector<std::string>>();
  if (meta["scaler"].is_object()) {
    b.scaler_mean = meta["scaler"]["mean"].get<std::vector<double>>();
    b.scaler_scale = meta["scaler"]["scale"].get<std::vector<double>>();
  }
  for (const auto& f : meta.at("booster_files"))
    b.boosters.push_back(xgb::Booster::load_model(meta_path.parent_path() / f.get<std::string>()));
  const std::size_t expected = b.strategy == kMulticlass ? 1 : b.classes.size();
  if (b.boosters.size() != expected)
    throw StateError(fmt::format("{}: {} booster files for strategy '{}' with {} classes", meta_path.string(),
                                 b.boosters.size(), b.strategy, b.classes.size()));
  b.extra = meta.value("extra", Json::object());
  return b;
}

}  // namespace mosaic::models

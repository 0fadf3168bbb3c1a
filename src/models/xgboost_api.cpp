// xgboost_api.cpp: RAII wrappers over the XGBoost C API; see xgboost_api.hpp.
#include "models/xgboost_api.hpp"

#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <limits>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace mosaic::xgb {
namespace {

enum class Fail : uint8_t { kInput, kIo, kState };

// The single translation point from the C API's return codes to mosaic errors.
void check(int rc, Fail kind, std::string_view what) {
  if (rc == 0) return;
  const char* last = XGBGetLastError();
  std::string msg = fmt::format("XGBoost: {}: {}", what, last ? last : "(no message)");
  switch (kind) {
    case Fail::kInput: throw InputError(msg);
    case Fail::kIo: throw IoError(msg);
    case Fail::kState: throw StateError(msg);
  }
}

}  // namespace

std::string version() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

// ---------------------------------------------------------------------------------------------
DMatrix DMatrix::dense(std::span<const float> values, uint64_t rows, uint64_t cols) {
  if (values.size() != rows * cols)
    throw InternalError(fmt::format("DMatrix::dense: {} values for {} x {}", values.size(), rows, cols));
  DMatrixHandle h = nullptr;
  check(XGDMatrixCreateFromMat(values.data(), rows, cols, std::numeric_limits<float>::quiet_NaN(), &h),
        Fail::kState, fmt::format("creating a {} x {} matrix", rows, cols));
  return DMatrix(h);
}

DMatrix::DMatrix(DMatrix&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
DMatrix& DMatrix::operator=(DMatrix&& other) noexcept {
  if (this != &other) {
    if (handle_) XGDMatrixFree(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}
DMatrix::~DMatrix() {
  if (handle_) XGDMatrixFree(handle_);
}

void DMatrix::set_labels(std::span<const float> labels) {
  check(XGDMatrixSetFloatInfo(handle_, "label", labels.data(), labels.size()), Fail::kInput, "setting labels");
}
void DMatrix::set_weights(std::span<const float> weights) {
  check(XGDMatrixSetFloatInfo(handle_, "weight", weights.data(), weights.size()), Fail::kInput, "setting weights");
}
uint64_t DMatrix::rows() const {
  bst_ulong n = 0;
  check(XGDMatrixNumRow(handle_, &n), Fail::kState, "counting rows");
  return n;
}
uint64_t DMatrix::cols() const {
  bst_ulong n = 0;
  check(XGDMatrixNumCol(handle_, &n), Fail::kState, "counting columns");
  return n;
}

// ---------------------------------------------------------------------------------------------
Booster::Booster(const std::vector<const DMatrix*>& cache) {
  std::vector<DMatrixHandle> handles;
  for (const DMatrix* m : cache) handles.push_back(m->handle());
  check(XGBoosterCreate(handles.empty() ? nullptr : handles.data(), handles.size(), &handle_), Fail::kState,
        "creating a booster");
}
Booster::Booster(Booster&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
Booster& Booster::operator=(Booster&& other) noexcept {
  if (this != &other) {
    if (handle_) XGBoosterFree(handle_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}
Booster::~Booster() {
  if (handle_) XGBoosterFree(handle_);
}

void Booster::set_param(std::string_view name, std::string_view value) {
  std::string n(name), v(value);
  check(XGBoosterSetParam(handle_, n.c_str(), v.c_str()), Fail::kInput, fmt::format("parameter {}={}", n, v));
}
void Booster::set_params(const std::vector<std::pair<std::string, std::string>>& params) {
  for (const auto& [k, v] : params) set_param(k, v);
}

void Booster::update_one_iter(int round, const DMatrix& train) {
  // Parameters are validated lazily by XGBoost, on the first round: report those as input errors.
  check(XGBoosterUpdateOneIter(handle_, round, train.handle()), round == 0 ? Fail::kInput : Fail::kState,
        fmt::format("boosting round {}", round));
}

std::string Booster::eval_one_iter(int round, const std::vector<std::pair<const DMatrix*, std::string>>& sets) {
  std::vector<DMatrixHandle> handles;
  std::vector<const char*> names;
  for (const auto& [m, name] : sets) {
    handles.push_back(m->handle());
    names.push_back(name.c_str());
  }
  const char* out = nullptr;
  check(XGBoosterEvalOneIter(handle_, round, handles.data(), names.data(), handles.size(), &out), Fail::kState,
        fmt::format("evaluating round {}", round));
  return out ? std::string(out) : std::string();
}

std::vector<float> Booster::predict(const DMatrix& data, std::vector<uint64_t>* shape) const {
  // type 0 = transformed prediction (probabilities); all trees; no training-mode dropout.
  static constexpr const char* kConfig =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
  const bst_ulong* out_shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  check(XGBoosterPredictFromDMatrix(handle_, data.handle(), kConfig, &out_shape, &dim, &out), Fail::kState,
        "predicting");
  std::size_t n = 1;
  if (shape) shape->clear();
  for (bst_ulong d = 0; d < dim; ++d) {
    n *= out_shape[d];
    if (shape) shape->push_back(out_shape[d]);
  }
  return std::vector<float>(out, out + n);  // the buffer belongs to the booster: copy it now
}

int Booster::boosted_rounds() const {
  int n = 0;
  check(XGBoosterBoostedRounds(handle_, &n), Fail::kState, "counting rounds");
  return n;
}
uint64_t Booster::num_features() const {
  bst_ulong n = 0;
  check(XGBoosterGetNumFeature(handle_, &n), Fail::kState, "counting features");
  return n;
}

std::vector<char> Booster::save_raw(std::string_view format) const {
  std::string config = fmt::format(R"({{"format": "{}"}})", format);
  bst_ulong len = 0;
  const char* buf = nullptr;
  check(XGBoosterSaveModelToBuffer(handle_, config.c_str(), &len, &buf), Fail::kState,
        fmt::format("serialising the model as {}", format));
  return std::vector<char>(buf, buf + len);
}

void Booster::save_model(const std::filesystem::path& path) const {
  std::string ext = path.extension().string();
  if (ext != ".json" && ext != ".ubj")
    throw InputError(fmt::format("{}: an XGBoost model file must end in .json or .ubj", path.string()));
  std::vector<char> bytes = save_raw(ext == ".json" ? "json" : "ubj");
  write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

Booster Booster::load_raw(std::span<const char> bytes, std::string_view source) {
  Booster b;
  check(XGBoosterLoadModelFromBuffer(b.handle_, bytes.data(), bytes.size()), Fail::kIo,
        fmt::format("loading the model {}", source));
  return b;
}

Booster Booster::load_model(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw IoError(fmt::format("XGBoost model not found: {}", path.string()));
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return load_raw(std::span<const char>(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path.string());
}

std::string Booster::config() const {
  bst_ulong len = 0;
  const char* out = nullptr;
  check(XGBoosterSaveJsonConfig(handle_, &len, &out), Fail::kState, "reading the configuration");
  return std::string(out, len);
}

}  // namespace mosaic::xgb

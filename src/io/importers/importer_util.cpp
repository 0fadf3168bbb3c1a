#include "io/importers/importer_util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <system_error>

#include "mosaic/errors.hpp"

namespace fs = std::filesystem;

namespace mosaic::importer_detail {

namespace {

constexpr std::array<unsigned char, 8> kHdf5Signature = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

std::string read_head(const fs::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string head(max_bytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(max_bytes));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

bool looks_binary(std::string_view head) {
  return std::any_of(head.begin(), head.end(), [](char c) { return c == '\0'; });
}

std::string first_line(std::string_view head) {
  std::size_t end = head.find_first_of("\r\n");
  std::string line(head.substr(0, end));
  if (line.size() > 60) line = line.substr(0, 57) + "...";
  return line;
}

// Link names directly under "/", sorted by name (H5Gget_info + H5Lget_name_by_idx work the same
// in HDF5 1.10 and 1.12+, unlike the H5Literate callback types).
std::vector<std::string> list_root(hid_t file) {
  std::vector<std::string> names;
  H5GroupId root(H5Gopen2(file, "/", H5P_DEFAULT));
  if (!root.valid()) return names;
  H5G_info_t info;
  if (H5Gget_info(root.get(), &info) < 0) return names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len = H5Lget_name_by_idx(root.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) continue;
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(root.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(len));
    names.push_back(std::move(name));
  }
  return names;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// What an HDF5 file with these top-level objects most likely is: a format name, or a phrase.
std::string classify_hdf5(const std::vector<std::string>& root) {
  if (contains(root, "track_occupancy") || (contains(root, "tracks") && contains(root, "node_names")))
    return "sleap";
  if (contains(root, "poseest")) return "jabs";
  return "";
}

std::string hdf5_remark(const std::vector<std::string>& root) {
  std::string fmt_name = classify_hdf5(root);
  if (!fmt_name.empty()) return fmt::format(" (looks like format '{}')", fmt_name);
  if (contains(root, "frames") && contains(root, "instances") && contains(root, "metadata"))
    return " (looks like a SLEAP .slp labels file: export it as an analysis .h5)";
  if (contains(root, "df_with_missing"))
    return " (looks like a DeepLabCut pandas .h5: use the DeepLabCut CSV with format 'dlc')";
  return "";
}

std::string normalise_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Files

void require_regular_file(const fs::path& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw IoError(fmt::format("{}: no such file", path.string()));
  if (fs::is_directory(status)) throw IoError(fmt::format("{}: is a directory, expected a file", path.string()));
  std::ifstream probe(path, std::ios::binary);
  if (!probe) throw IoError(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
}

bool has_hdf5_signature(const fs::path& path) {
  // The superblock sits at offset 0, or 512, 1024, 2048, ... after a user block.
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::error_code ec;
  uintmax_t size = fs::file_size(path, ec);
  if (ec) return false;
  std::array<char, 8> buf{};
  for (uintmax_t offset = 0; offset + buf.size() <= size; offset = offset == 0 ? 512 : offset * 2) {
    in.seekg(static_cast<std::streamoff>(offset));
    if (!in.read(buf.data(), buf.size())) return false;
    if (std::memcmp(buf.data(), kHdf5Signature.data(), buf.size()) == 0) return true;
  }
  return false;
}

bool looks_like_text(const fs::path& path) {
  std::string head = read_head(path, 4096);
  return !looks_binary(head) && !head.starts_with("\x93NUMPY") && !has_hdf5_signature(path);
}

std::string describe_found(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "no file";
  if (fs::file_size(path, ec) == 0) return "an empty file";
  std::string head = read_head(path, 4096);
  if (has_hdf5_signature(path)) {
    Hdf5Quiet quiet;
    H5FileId file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!file.valid()) {
      take_hdf5_error();
      return "an HDF5 file that cannot be opened (truncated or corrupt)";
    }
    std::vector<std::string> root = list_root(file.get());
    take_hdf5_error();
    return fmt::format("an HDF5 file with top-level objects: {}{}", root.empty() ? "none" : join_names(root),
                       hdf5_remark(root));
  }
  if (head.starts_with("PK\x03\x04")) return "a ZIP archive (an .npz?) (looks like format 'trex')";
  if (head.starts_with("\x93NUMPY")) return "a NumPy .npy array (looks like format 'idtrackerai')";
  if (head.starts_with("PAR1")) return "a Parquet file (looks like format 'parquet')";
  if (looks_binary(head)) return "a binary file";
  std::string guess = guess_format(path);
  return fmt::format("a text file starting with '{}'{}", first_line(head),
                     guess.empty() ? "" : fmt::format(" (looks like format '{}')", guess));
}

std::string guess_format(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return "";
  if (has_hdf5_signature(path)) {
    Hdf5Quiet quiet;
    H5FileId file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!file.valid()) {
      take_hdf5_error();
      return "";
    }
    std::string out = classify_hdf5(list_root(file.get()));
    take_hdf5_error();
    return out;
  }
  std::string head = read_head(path, 4096);
  if (head.starts_with("PK\x03\x04")) return "trex";
  if (head.starts_with("\x93NUMPY")) return "idtrackerai";
  if (head.starts_with("PAR1")) return "parquet";
  if (looks_binary(head)) return "";
  if (head.starts_with("\xEF\xBB\xBF")) head.erase(0, 3);  // UTF-8 byte-order mark
  std::string line = head.substr(0, head.find_first_of("\r\n"));
  if (line.starts_with("scorer,") || line.starts_with("\"scorer\",")) return "dlc";
  // A canonical track CSV has frame and id among its header cells.
  std::vector<std::string_view> cells;
  std::string_view rest = line;
  while (true) {
    std::size_t comma = rest.find(',');
    cells.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  bool has_frame = std::find(cells.begin(), cells.end(), "frame") != cells.end();
  bool has_id = std::find(cells.begin(), cells.end(), "id") != cells.end();
  return has_frame && has_id ? "csv" : "";
}

std::string stem_without(const fs::path& path, const std::vector<std::string>& suffixes) {
  std::string stem = path.stem().string();
  for (const auto& suffix : suffixes) {
    if (stem.size() > suffix.size() && stem.ends_with(suffix)) return stem.substr(0, stem.size() - suffix.size());
  }
  return stem;
}

std::optional<double> parse_double(std::string_view cell) noexcept {
  while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
  while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
  if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);
  if (cell.empty()) return std::nullopt;
  double value = 0.0;
  auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Denormal underflow or overflow: strtod gives the nearest representable value, as pandas does.
    std::string copy(cell);
    return std::strtod(copy.c_str(), nullptr);
  }
  if (ec != std::errc() || ptr != cell.data() + cell.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> parse_int64(std::string_view cell) noexcept {
  while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
  while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
  if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);
  if (cell.empty()) return std::nullopt;
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (ec != std::errc() || ptr != cell.data() + cell.size()) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------------------------
// Pose grid -> canonical table

PoseGrid::PoseGrid(std::vector<int64_t> frame_numbers, std::size_t ids, std::size_t keypoints)
    : frames(std::move(frame_numbers)), n_ids(ids), n_keypoints(keypoints) {
  std::size_t n = frames.size() * n_ids * n_keypoints;
  x.assign(n, std::numeric_limits<double>::quiet_NaN());
  y.assign(n, std::numeric_limits<double>::quiet_NaN());
  p.assign(n, 0.0);
}

AngleKeypoints resolve_angle_keypoints(const std::vector<std::string>& names, const ImportOptions& options,
                                       const fs::path& file, std::vector<std::string>& notes) {
  AngleKeypoints out;
  const std::size_t k_count = names.size();
  std::vector<std::string> normalised;
  normalised.reserve(k_count);
  for (const auto& n : names) normalised.push_back(normalise_name(n));

  auto find_one = [&](const std::string& spec, std::string_view option) -> std::size_t {
    for (std::size_t k = 0; k < k_count; ++k)
      if (names[k] == spec) return k;
    std::string norm = normalise_name(spec);
    std::optional<std::size_t> hit;
    for (std::size_t k = 0; k < k_count && !norm.empty(); ++k) {
      if (normalised[k] != norm) continue;
      if (hit)
        throw InputError(fmt::format("{}: {} '{}' matches several keypoints ('{}' and '{}'); give the exact name or an index",
                                     file.string(), option, spec, names[*hit], names[k]));
      hit = k;
    }
    if (hit) return *hit;
    if (auto index = parse_int64(spec)) {
      if (*index >= 0 && static_cast<std::size_t>(*index) < k_count) return static_cast<std::size_t>(*index);
      throw InputError(fmt::format("{}: {} index {} is out of range (the file has {} keypoints, 0..{})", file.string(),
                                   option, *index, k_count, k_count == 0 ? 0 : k_count - 1));
    }
    std::string hint = did_you_mean(spec, names);
    throw InputError(fmt::format("{}: {} '{}' is not a keypoint{} (keypoints: {}; or give a 0-based index)", file.string(),
                                 option, spec, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                                 k_count == 0 ? "none" : join_names(names)));
  };

  if (!options.angle_from.empty() || !options.angle_to.empty()) {
    if (options.angle_from.empty() || options.angle_to.empty())
      throw InputError(fmt::format("{}: set both angle_from and angle_to (got angle_from='{}', angle_to='{}')",
                                   file.string(), options.angle_from, options.angle_to));
    out.back = find_one(options.angle_from, "angle_from");
    out.front = find_one(options.angle_to, "angle_to");
    if (out.back == out.front)
      throw InputError(fmt::format("{}: angle_from and angle_to name the same keypoint '{}'", file.string(),
                                   names[*out.back]));
    return out;
  }
  if (k_count == 0) return out;
  // The default rule (documented in importers.hpp): the first candidate present wins.
  static const std::array<std::string_view, 4> kBack = {"tailbase", "basetail", "tailroot", "thorax"};
  static const std::array<std::string_view, 6> kFront = {"spine1", "head", "baseneck", "neck", "nose", "snout"};
  auto first_of = [&](auto candidates) -> std::optional<std::size_t> {
    for (std::string_view c : candidates)
      for (std::size_t k = 0; k < k_count; ++k)
        if (normalised[k] == c) return k;
    return std::nullopt;
  };
  out.back = first_of(kBack);
  out.front = first_of(kFront);
  if (!out.back || !out.front) {
    notes.push_back(fmt::format("ANGLE left empty: no default back/front keypoint pair among {} "
                                "(set angle_from and angle_to)",
                                join_names(names)));
    out = AngleKeypoints{};
  } else {
    notes.push_back(fmt::format("ANGLE from '{}' ({}) to '{}' ({})", names[*out.back], *out.back, names[*out.front],
                                *out.front));
  }
  return out;
}

std::vector<double> time_from_frames(std::span<const int64_t> frames, std::optional<double> fps) {
  std::vector<double> time(frames.size(), std::numeric_limits<double>::quiet_NaN());
  if (fps) {
    for (std::size_t i = 0; i < frames.size(); ++i) time[i] = static_cast<double>(frames[i]) / *fps;
  }
  return time;
}

Table pose_grid_to_table(const PoseGrid& grid, std::optional<double> fps, const AngleKeypoints& angle) {
  const std::size_t n_frames = grid.num_frames();
  const std::size_t n_ids = grid.n_ids;
  const std::size_t n_kp = grid.n_keypoints;
  const std::size_t rows = n_frames * n_ids;
  const double nan = std::numeric_limits<double>::quiet_NaN();

  std::vector<int64_t> frame(rows), id(rows);
  std::vector<double> cx(rows, nan), cy(rows, nan), heading(rows, nan);
  std::vector<std::vector<double>> px(n_kp, std::vector<double>(rows, nan));
  std::vector<std::vector<double>> py(n_kp, std::vector<double>(rows, nan));
  std::vector<std::vector<double>> pp(n_kp, std::vector<double>(rows, 0.0));

  for (std::size_t f = 0; f < n_frames; ++f) {
    for (std::size_t a = 0; a < n_ids; ++a) {
      const std::size_t row = f * n_ids + a;
      frame[row] = grid.frames[f];
      id[row] = static_cast<int64_t>(a);
      const std::size_t base = grid.at(f, a, 0);
      double sx = 0.0, sy = 0.0;
      std::size_t present = 0;
      for (std::size_t k = 0; k < n_kp; ++k) {
        const double x = grid.x[base + k];
        const double y = grid.y[base + k];
        if (!std::isfinite(x) || !std::isfinite(y)) continue;  // missing: NaN x/y, P = 0
        px[k][row] = x;
        py[k][row] = y;
        const double p = grid.p[base + k];
        pp[k][row] = std::isnan(p) ? 1.0 : p;  // no confidence in the source -> 1
        sx += x;
        sy += y;
        ++present;
      }
      if (present > 0) {
        cx[row] = sx / static_cast<double>(present);
        cy[row] = sy / static_cast<double>(present);
      }
      if (angle.back && angle.front) {
        heading[row] = heading_angle(px[*angle.back][row], py[*angle.back][row], px[*angle.front][row],
                                     py[*angle.front][row]);
      }
    }
  }

  Table table;
  table.add_column("frame", Column::from_int64(frame));
  table.add_column("time", Column::from_float64(time_from_frames(frame, fps)));
  table.add_column("id", Column::from_int64(std::move(id)));
  table.add_column("X", Column::from_float64(std::move(cx)));
  table.add_column("Y", Column::from_float64(std::move(cy)));
  table.add_column("ANGLE", Column::from_float64(std::move(heading)));
  for (std::size_t k = 0; k < n_kp; ++k) {
    table.add_column(fmt::format("poseX{}", k), Column::from_float64(std::move(px[k])));
    table.add_column(fmt::format("poseY{}", k), Column::from_float64(std::move(py[k])));
    table.add_column(fmt::format("poseP{}", k), Column::from_float64(std::move(pp[k])));
  }
  return table;
}

void check_fps(const std::optional<double>& fps, const fs::path& file) {
  if (fps && !(std::isfinite(*fps) && *fps > 0.0))
    throw InputError(fmt::format("{}: fps must be a positive number, got {}", file.string(), *fps));
}

ImportedSequence make_sequence(const fs::path& file, const ImportOptions& options, std::string default_sequence,
                               Table table, std::optional<double> fps) {
  ImportedSequence seq;
  seq.group = options.group;
  seq.sequence = options.sequence.empty() ? std::move(default_sequence) : options.sequence;
  seq.tracks = std::move(table);
  seq.sources = {file};
  seq.fps = fps;
  return seq;
}

// ---------------------------------------------------------------------------------------------
// HDF5

Hdf5Quiet::Hdf5Quiet() noexcept {
  H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Hdf5Quiet::~Hdf5Quiet() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

namespace {
herr_t collect_error(unsigned /*n*/, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::vector<std::string>*>(data);
  if (err && err->desc && *err->desc) out->emplace_back(err->desc);
  return 0;
}
}  // namespace

std::string take_hdf5_error() {
  std::vector<std::string> descs;  // innermost (where the problem was found) first
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &descs);
  H5Eclear2(H5E_DEFAULT);
  if (descs.empty()) return "unknown HDF5 error";
  if (descs.size() == 1 || descs.front() == descs.back()) return descs.front();
  return fmt::format("{}: {}", descs.back(), descs.front());
}

Hdf5Reader::Hdf5Reader(fs::path path, std::string expected) : path_(std::move(path)), expected_(std::move(expected)) {
  require_regular_file(path_);
  if (!has_hdf5_signature(path_))
    throw InputError(fmt::format("{}: expected {}, found {}", path_.string(), expected_, describe_found(path_)));
  Hdf5Quiet quiet;
  file_ = H5FileId(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file_.valid())
    throw IoError(fmt::format("{}: cannot open HDF5 file (truncated or corrupt?): {}", path_.string(), take_hdf5_error()));
}

bool Hdf5Reader::has(std::string_view object_path) const {
  Hdf5Quiet quiet;
  // H5Lexists fails (rather than returning 0) when an intermediate group is missing: check each.
  std::string prefix;
  std::string_view rest = object_path;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    if (!part.empty()) {
      prefix += prefix.empty() ? std::string(part) : "/" + std::string(part);
      htri_t exists = H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT);
      if (exists <= 0) {
        take_hdf5_error();
        return false;
      }
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return true;
}

std::vector<std::string> Hdf5Reader::root_names() const {
  Hdf5Quiet quiet;
  auto names = list_root(file_.get());
  take_hdf5_error();
  return names;
}

void Hdf5Reader::require(std::string_view dataset) const {
  if (has(dataset)) return;
  std::vector<std::string> root = root_names();
  throw InputError(fmt::format("{}: expected {} (with dataset '{}'), found an HDF5 file with top-level objects: {}{}",
                               path_.string(), expected_, dataset, root.empty() ? "none" : join_names(root),
                               hdf5_remark(root)));
}

H5DatasetId Hdf5Reader::open_dataset(std::string_view dataset) const {
  require(dataset);
  Hdf5Quiet quiet;
  std::string name(dataset);
  H5DatasetId ds(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT));
  if (!ds.valid()) fail_read(dataset);
  return ds;
}

void Hdf5Reader::fail_read(std::string_view what) const {
  throw IoError(fmt::format("{}: cannot read '{}' (truncated or corrupt file?): {}", path_.string(), what,
                            take_hdf5_error()));
}

std::vector<hsize_t> Hdf5Reader::shape(std::string_view dataset) const {
  H5DatasetId ds = open_dataset(dataset);
  Hdf5Quiet quiet;
  H5SpaceId space(H5Dget_space(ds.get()));
  if (!space.valid()) fail_read(dataset);
  int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail_read(dataset);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) fail_read(dataset);
  return dims;
}

namespace {
template <typename T>
std::vector<T> read_numeric(const Hdf5Reader& reader, hid_t ds, hid_t mem_type, std::string_view dataset,
                            std::vector<hsize_t>* shape_out) {
  H5TypeId file_type(H5Dget_type(ds));
  H5T_class_t cls = file_type.valid() ? H5Tget_class(file_type.get()) : H5T_NO_CLASS;
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    throw InputError(fmt::format("{}: dataset '{}' does not hold numbers (HDF5 type class {})",
                                 reader.path().string(), dataset, static_cast<int>(cls)));
  H5SpaceId space(H5Dget_space(ds));
  int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank < 0)
    throw IoError(fmt::format("{}: cannot read the shape of '{}': {}", reader.path().string(), dataset, take_hdf5_error()));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  std::size_t count = 1;
  for (hsize_t d : dims) count *= static_cast<std::size_t>(d);
  std::vector<T> values(count);
  if (count > 0 && H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw IoError(fmt::format("{}: cannot read '{}' (truncated or corrupt file?): {}", reader.path().string(), dataset,
                              take_hdf5_error()));
  if (shape_out) *shape_out = std::move(dims);
  return values;
}

std::string trim_fixed(const char* data, std::size_t size) {
  std::size_t len = 0;
  while (len < size && data[len] != '\0') ++len;
  while (len > 0 && data[len - 1] == ' ') --len;  // H5T_STR_SPACEPAD
  return std::string(data, len);
}
}  // namespace

std::vector<double> Hdf5Reader::read_f64(std::string_view dataset, std::vector<hsize_t>* shape_out) const {
  H5DatasetId ds = open_dataset(dataset);
  Hdf5Quiet quiet;
  return read_numeric<double>(*this, ds.get(), H5T_NATIVE_DOUBLE, dataset, shape_out);
}

std::vector<int64_t> Hdf5Reader::read_i64(std::string_view dataset, std::vector<hsize_t>* shape_out) const {
  H5DatasetId ds = open_dataset(dataset);
  Hdf5Quiet quiet;
  return read_numeric<int64_t>(*this, ds.get(), H5T_NATIVE_INT64, dataset, shape_out);
}

std::vector<std::string> Hdf5Reader::read_strings(std::string_view dataset) const {
  H5DatasetId ds = open_dataset(dataset);
  Hdf5Quiet quiet;
  H5TypeId file_type(H5Dget_type(ds.get()));
  if (!file_type.valid()) fail_read(dataset);
  if (H5Tget_class(file_type.get()) != H5T_STRING)
    throw InputError(fmt::format("{}: dataset '{}' does not hold strings", path_.string(), dataset));
  H5SpaceId space(H5Dget_space(ds.get()));
  hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
  if (n < 0) fail_read(dataset);
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(n));
  if (n == 0) return out;
  H5TypeId mem_type(H5Tcopy(H5T_C_S1));
  // HDF5 converts strings only between equal character sets: read UTF-8 as UTF-8.
  H5Tset_cset(mem_type.get(), H5Tget_cset(file_type.get()));
  if (H5Tis_variable_str(file_type.get()) > 0) {
    H5Tset_size(mem_type.get(), H5T_VARIABLE);
    std::vector<char*> buf(static_cast<std::size_t>(n), nullptr);
    if (H5Dread(ds.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) fail_read(dataset);
    for (char* s : buf) out.emplace_back(s ? s : "");
    H5Dvlen_reclaim(mem_type.get(), space.get(), H5P_DEFAULT, buf.data());
  } else {
    std::size_t size = H5Tget_size(file_type.get());
    H5Tset_size(mem_type.get(), size);
    // NULLTERM (the default) would give up the last byte of a full-width NULLPAD string
    // ("forelegL1" in a 9-byte field); NULLPAD keeps every byte and trim_fixed stops at a NUL.
    H5Tset_strpad(mem_type.get(), H5T_STR_NULLPAD);
    std::vector<char> buf(static_cast<std::size_t>(n) * size);
    if (H5Dread(ds.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) fail_read(dataset);
    for (hssize_t i = 0; i < n; ++i) out.push_back(trim_fixed(buf.data() + static_cast<std::size_t>(i) * size, size));
  }
  return out;
}

std::optional<std::string> Hdf5Reader::string_attribute(std::string_view object_path, std::string_view name) const {
  std::string object(object_path), attr_name(name);
  if (object != "/" && !has(object)) return std::nullopt;
  Hdf5Quiet quiet;
  if (H5Aexists_by_name(file_.get(), object.c_str(), attr_name.c_str(), H5P_DEFAULT) <= 0) {
    take_hdf5_error();
    return std::nullopt;
  }
  H5AttrId attr(H5Aopen_by_name(file_.get(), object.c_str(), attr_name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid()) fail_read(fmt::format("{}@{}", object, name));
  H5TypeId file_type(H5Aget_type(attr.get()));
  if (!file_type.valid() || H5Tget_class(file_type.get()) != H5T_STRING) return std::nullopt;
  H5SpaceId space(H5Aget_space(attr.get()));
  if (!space.valid() || H5Sget_simple_extent_npoints(space.get()) != 1) return std::nullopt;
  H5TypeId mem_type(H5Tcopy(H5T_C_S1));
  // HDF5 converts strings only between equal character sets: read UTF-8 as UTF-8.
  H5Tset_cset(mem_type.get(), H5Tget_cset(file_type.get()));
  if (H5Tis_variable_str(file_type.get()) > 0) {
    H5Tset_size(mem_type.get(), H5T_VARIABLE);
    char* value = nullptr;
    if (H5Aread(attr.get(), mem_type.get(), &value) < 0) fail_read(fmt::format("{}@{}", object, name));
    std::string out = value ? value : "";
    if (value) H5free_memory(value);
    return out;
  }
  std::size_t size = H5Tget_size(file_type.get());
  H5Tset_size(mem_type.get(), size);
  H5Tset_strpad(mem_type.get(), H5T_STR_NULLPAD);  // see read_strings
  std::vector<char> buf(size);
  if (H5Aread(attr.get(), mem_type.get(), buf.data()) < 0) fail_read(fmt::format("{}@{}", object, name));
  return trim_fixed(buf.data(), size);
}

std::optional<std::vector<int64_t>> Hdf5Reader::int_attribute(std::string_view object_path,
                                                              std::string_view name) const {
  std::string object(object_path), attr_name(name);
  if (object != "/" && !has(object)) return std::nullopt;
  Hdf5Quiet quiet;
  if (H5Aexists_by_name(file_.get(), object.c_str(), attr_name.c_str(), H5P_DEFAULT) <= 0) {
    take_hdf5_error();
    return std::nullopt;
  }
  H5AttrId attr(H5Aopen_by_name(file_.get(), object.c_str(), attr_name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid()) fail_read(fmt::format("{}@{}", object, name));
  H5TypeId file_type(H5Aget_type(attr.get()));
  H5T_class_t cls = file_type.valid() ? H5Tget_class(file_type.get()) : H5T_NO_CLASS;
  if (cls != H5T_INTEGER) return std::nullopt;
  H5SpaceId space(H5Aget_space(attr.get()));
  hssize_t n = space.valid() ? H5Sget_simple_extent_npoints(space.get()) : -1;
  if (n < 0) fail_read(fmt::format("{}@{}", object, name));
  std::vector<int64_t> values(static_cast<std::size_t>(n));
  if (n > 0 && H5Aread(attr.get(), H5T_NATIVE_INT64, values.data()) < 0) fail_read(fmt::format("{}@{}", object, name));
  return values;
}

}  // namespace mosaic::importer_detail

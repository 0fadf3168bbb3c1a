// npz.hpp: numpy .npy arrays and .npz archives, without Python.
//
// Numeric, bool and fixed-width unicode (`<U`) arrays are read and written. Object arrays
// (`|O`, i.e. pickles) are read through a restricted unpickler that accepts only what numpy
// writes for arrays of str/int/float and for idtracker.ai-style dicts of arrays; anything else
// is refused with a clear error and never executed. Reading also accepts big-endian (`>`)
// numeric/unicode dtypes (byte-swapped), Fortran-order arrays (converted to C order), .npy
// format versions 1.0/2.0/3.0, and byte strings (`|S{n}`, read as kUnicode). Written files are
// what numpy writes: version 1.0 headers padded to 64 bytes, little-endian, C order, so
// Python's np.load reads them.
//
//   NpzArchive npz = read_npz("labels/behavior/g__s.npz");
//   const NpyArray& labels = npz.at("labels");   // throws IoError naming the key and file
//   std::vector<int64_t> v = labels.to_int64();
//   write_npz("out.npz", {{"labels", NpyArray::from_int64({3}, {0, 1, 2})}});
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mosaic {

enum class NpyDType : uint8_t {
  kFloat64, kFloat32, kInt64, kInt32, kInt16, kInt8, kUInt64, kUInt32, kUInt16, kUInt8, kBool,
  kUnicode,  ///< fixed-width `<U{n}` strings
  kObject    ///< pickled Python objects (read only)
};

struct PyValue;  // a decoded pickle value; see src/io/pickle.hpp

/// \brief One numpy array, stored in C (row-major) order.
struct NpyArray {
  NpyDType dtype = NpyDType::kFloat64;
  std::vector<int64_t> shape;  ///< empty = 0-d scalar
  std::vector<uint8_t> data;   ///< little-endian payload for numeric/bool types
  std::vector<std::string> strings;  ///< kUnicode values, and kObject arrays of str (UTF-8)
  /// For kObject arrays: the decoded objects (flat, C order).
  std::vector<std::shared_ptr<PyValue>> objects;

  int64_t size() const;  ///< product of shape (1 for 0-d)
  std::size_t item_size() const;
  /// Convert numeric/bool values to double / int64 (throws IoError for strings/objects).
  std::vector<double> to_double() const;
  std::vector<float> to_float32() const;
  std::vector<int64_t> to_int64() const;
  /// The strings of a unicode array or of an object array of str.
  const std::vector<std::string>& to_strings() const;
  /// A 0-d or 1-element array's single string (e.g. `label_format`).
  std::string scalar_string() const;
  /// For messages: "float64 array of shape (508, 8, 2)".
  std::string describe() const;

  static NpyArray from_float64(std::vector<int64_t> shape, std::vector<double> values);
  static NpyArray from_float32(std::vector<int64_t> shape, std::vector<float> values);
  static NpyArray from_int64(std::vector<int64_t> shape, std::vector<int64_t> values);
  static NpyArray from_int32(std::vector<int64_t> shape, std::vector<int32_t> values);
  static NpyArray from_bool(std::vector<int64_t> shape, std::vector<uint8_t> values);
  /// Fixed-width unicode (`<U{max length}`); shape {} makes a 0-d scalar string.
  static NpyArray from_strings(std::vector<int64_t> shape, std::vector<std::string> values);
};

/// \brief The members of an .npz archive by key (the `.npy` suffix removed).
class NpzArchive {
 public:
  std::map<std::string, NpyArray> arrays;
  std::filesystem::path path;
  bool contains(const std::string& key) const { return arrays.count(key) > 0; }
  /// The keys in sorted order (for "found: a, b, c" messages).
  std::vector<std::string> keys() const;
  /// Throws IoError "Key '<k>' not found in <path>".
  const NpyArray& at(const std::string& key) const;
};

/// \brief Read an .npz (stored or deflated members named `<key>.npy`; other members are
/// skipped). Throws IoError naming the file for a missing, truncated or corrupt archive, and
/// naming the file and key for a member that is not a valid .npy.
NpzArchive read_npz(const std::filesystem::path& path);
/// \brief Read one .npy file (e.g. idtracker.ai trajectories).
NpyArray read_npy(const std::filesystem::path& path);
/// \brief Parse .npy bytes; `source` names the file (and member) in error messages.
NpyArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& source);

/// \brief Write an .npz (deflate-compressed like np.savez_compressed when `compressed`, else
/// stored like np.savez), atomically: to a temporary sibling, then renamed. Members are written
/// in the given order with a fixed timestamp, so equal inputs give equal bytes. Throws
/// InputError for a duplicate or empty key or an object array (write strings with
/// from_strings), IoError when the file cannot be written.
void write_npz(const std::filesystem::path& path,
               const std::vector<std::pair<std::string, NpyArray>>& arrays, bool compressed = true);
/// \brief The .npy bytes numpy would write for `array` (kObject arrays throw InputError).
std::vector<uint8_t> serialize_npy(const NpyArray& array);

}  // namespace mosaic

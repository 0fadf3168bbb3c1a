// pickle.hpp (internal): a restricted unpickler for numpy object arrays, plus the .npy helpers
// that npz.cpp and pickle.cpp share.
//
// numpy stores `|O` arrays as a pickle of the ndarray, and idtracker.ai stores its trajectories as
// a 0-d object array holding a pickled dict of arrays and scalars. We decode exactly that: the
// pickle opcodes of protocols 2-5 that such files use, and an allow-list of globals
// (numpy's `_reconstruct`, `ndarray`, `dtype`, `scalar`, `_frombuffer`, `_codecs.encode` with
// latin1, `collections.OrderedDict`, and the builtins set/frozenset/bytes/bytearray). Nothing is
// ever executed: every allowed global is interpreted by our own code, and anything else (any
// other global, an unknown opcode) throws IoError
// "<file>: refusing to unpickle <what> (only numpy arrays and plain containers are supported)".
//
//   auto value = unpickle(bytes, "traj.npy");
//   const PyValue* traj = value->find("trajectories");   // a PyValue of kind kArray
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mosaic/npz.hpp"

namespace mosaic {

/// \brief A numpy dtype as far as we support it: element type, bytes per element, byte order.
struct NpyDTypeDesc {
  NpyDType type = NpyDType::kFloat64;
  std::size_t item_size = 8;  ///< bytes per element (4 x characters for kUnicode)
  bool big_endian = false;
  bool byte_string = false;  ///< `|S{n}`: bytes read as latin-1 text into a kUnicode array
};

/// \brief One decoded pickle value. Containers hold shared pointers because the pickle memo lets
/// one object appear in several places.
struct PyValue {
  enum class Kind : uint8_t {
    kNone, kBool, kInt, kFloat, kStr, kBytes, kTuple, kList, kDict, kSet,
    kArray,   ///< a numpy ndarray (or the result of _reconstruct before its BUILD)
    kDType,   ///< a numpy dtype object
    kGlobal,  ///< an allow-listed callable; never left inside a returned value
  };
  Kind kind = Kind::kNone;
  bool b = false;     ///< kBool
  int64_t i = 0;      ///< kInt
  double f = 0.0;     ///< kFloat
  std::string s;      ///< kStr (UTF-8), kBytes (raw), kGlobal ("module.name")
  std::vector<std::shared_ptr<PyValue>> items;  ///< kTuple, kList, kSet
  /// kDict, in insertion order (Python dicts are ordered); a repeated key replaces the value.
  std::vector<std::pair<std::shared_ptr<PyValue>, std::shared_ptr<PyValue>>> dict;
  std::shared_ptr<NpyArray> array;  ///< kArray
  NpyDTypeDesc dtype;               ///< kDType

  /// \brief The value of the str key `key` of a dict, or nullptr.
  const PyValue* find(std::string_view key) const;
  /// \brief The keys of a dict, as text (str keys verbatim, others by type name).
  std::vector<std::string> keys() const;
  /// \brief A short type name for messages: "dict", "ndarray", "str", ...
  std::string type_name() const;
  /// \brief The number an int/float/bool or a one-element numeric array holds, if any.
  std::optional<double> as_number() const;
};

using PyValuePtr = std::shared_ptr<PyValue>;

/// \brief Bounds against malicious or corrupt input.
struct UnpickleLimits {
  std::size_t max_depth = 64;            ///< nesting of containers
  std::size_t max_objects = 50'000'000;  ///< values created in total
  std::size_t max_stack = 1'000'000;     ///< values on the stack at once
};

/// \brief Decode a pickle restricted to numpy arrays and plain containers. `source` names the
/// file (and member) in error messages. Throws IoError for refused, truncated or malformed input.
PyValuePtr unpickle(std::span<const uint8_t> bytes, const std::string& source,
                    const UnpickleLimits& limits = {});

/// Helpers shared by npz.cpp and pickle.cpp (implemented in npz.cpp).
namespace npy_detail {

/// \brief The dtype for a numpy kind character and item size ('f', 8), or nullopt when
/// unsupported. `item_size` for 'U' is in bytes (4 per character).
std::optional<NpyDTypeDesc> dtype_from_kind(char kind, std::size_t item_size, bool big_endian);
/// \brief The numpy descr string, e.g. "<f8", "|b1", "<U5", "|O".
std::string descr_of(const NpyDTypeDesc& desc);
/// \brief Python's repr of a shape tuple: "()", "(3,)", "(3, 2)".
std::string shape_repr(const std::vector<int64_t>& shape);
/// \brief Product of the dims; throws IoError naming `source` on negative dims or overflow.
int64_t checked_size(const std::vector<int64_t>& shape, const std::string& source);
/// \brief Build an array from raw element bytes in the given order and byte order: numeric
/// data is byte-swapped to little-endian, unicode decoded to UTF-8, Fortran order made C order.
/// Throws IoError naming `source` when `raw` is shorter than the shape needs.
NpyArray array_from_raw(const NpyDTypeDesc& desc, std::vector<int64_t> shape,
                        std::span<const uint8_t> raw, bool fortran_order, const std::string& source);
/// \brief UTF-8 encoding of one code point (throws IoError naming `source` when invalid).
void append_utf8(std::string& out, uint32_t code_point, const std::string& source);

}  // namespace npy_detail

}  // namespace mosaic

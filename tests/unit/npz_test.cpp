// Tests for .npy/.npz reading and writing (include/mosaic/npz.hpp).
#include "mosaic/npz.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <unistd.h>
#include <vector>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("mosaic_npz_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

template <typename T>
NpyArray make_array(NpyDType type, std::vector<int64_t> shape, std::vector<T> values) {
  NpyArray a;
  a.dtype = type;
  a.shape = std::move(shape);
  a.data.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

std::string header_of(const std::vector<uint8_t>& npy) {
  std::size_t len = npy[8] | (std::size_t{npy[9]} << 8);
  return std::string(npy.begin() + 10, npy.begin() + 10 + static_cast<std::ptrdiff_t>(len));
}

std::vector<uint8_t> npy_bytes(std::string_view header_dict, std::string_view payload, int major = 1) {
  std::string header(header_dict);
  const std::size_t prefix = major == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  for (std::size_t k = 0; k < prefix - 8; ++k) out.push_back(static_cast<uint8_t>((header.size() >> (8 * k)) & 0xFF));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

template <typename T>
std::string raw_of(std::initializer_list<T> values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

std::string io_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  }
  return "(no IoError)";
}

// ------------------------------------------------------------------------------------------

TEST(NpzTest, RoundTripEveryDtype) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::pair<std::string, NpyArray>> arrays = {
      {"f8", NpyArray::from_float64({2, 3}, {1.5, -2.25, nan, 1e300, -0.0, 3.0})},
      {"f4", NpyArray::from_float32({3}, {1.5f, std::numeric_limits<float>::infinity(), -7.0f})},
      {"i8", NpyArray::from_int64({2}, {std::numeric_limits<int64_t>::min(), 42})},
      {"i4", NpyArray::from_int32({2, 2}, {-1, 0, 1, 2147483647})},
      {"i2", make_array<int16_t>(NpyDType::kInt16, {3}, {-32768, 0, 32767})},
      {"i1", make_array<int8_t>(NpyDType::kInt8, {2}, {-128, 127})},
      {"u8", make_array<uint64_t>(NpyDType::kUInt64, {1}, {18446744073709551615ull})},
      {"u4", make_array<uint32_t>(NpyDType::kUInt32, {2}, {0u, 4294967295u})},
      {"u2", make_array<uint16_t>(NpyDType::kUInt16, {2}, {0, 65535})},
      {"u1", make_array<uint8_t>(NpyDType::kUInt8, {3}, {0, 128, 255})},
      {"b1", NpyArray::from_bool({4}, {1, 0, 7, 0})},
      {"U", NpyArray::from_strings({3}, {"attack", "", "\xc3\xa4\xe2\x82\xac\xf0\x9f\x90\x9f"})},
      {"U0d", NpyArray::from_strings({}, {"individual_pair_v1"})},
      {"empty", NpyArray::from_float64({0}, {})},
      {"scalar", NpyArray::from_int64({}, {7})},
      {"empty2d", NpyArray::from_int32({0, 3}, {})},
  };
  for (bool compressed : {true, false}) {
    SCOPED_TRACE(compressed);
    TempDir dir;
    const fs::path file = dir.path() / "all.npz";
    write_npz(file, arrays, compressed);
    NpzArchive npz = read_npz(file);
    ASSERT_EQ(npz.arrays.size(), arrays.size());
    EXPECT_EQ(npz.path, file);
    for (const auto& [key, want] : arrays) {
      SCOPED_TRACE(key);
      const NpyArray& got = npz.at(key);
      EXPECT_EQ(got.dtype, want.dtype);
      EXPECT_EQ(got.shape, want.shape);
      if (want.dtype == NpyDType::kUnicode) {
        EXPECT_EQ(got.strings, want.strings);
      } else if (want.dtype == NpyDType::kBool) {
        EXPECT_EQ(got.data, (std::vector<uint8_t>{1, 0, 1, 0}));  // stored as numpy bools
      } else {
        EXPECT_EQ(got.data, want.data);  // byte-exact, NaN and -0.0 included
      }
    }
    EXPECT_EQ(npz.at("U").to_strings()[2], "\xc3\xa4\xe2\x82\xac\xf0\x9f\x90\x9f");
    EXPECT_EQ(npz.at("U0d").scalar_string(), "individual_pair_v1");
    EXPECT_EQ(npz.at("u8").item_size(), 8u);
    EXPECT_EQ(npz.at("U").item_size(), 4u * 6);
    // No temporaries are left next to the file.
    int entries = 0;
    for (const auto& e : fs::directory_iterator(dir.path())) {
      ++entries;
      EXPECT_FALSE(is_temp_file_name(e.path().filename().string())) << e.path();
    }
    EXPECT_EQ(entries, 1);
  }
}

TEST(NpzTest, HeaderMatchesNumpyLayout) {
  // numpy 1.23+ writes exactly this for np.save(f, np.arange(3.0)): the dict repr, 21 - len("3")
  // spaces of growth room, then padding to 64 bytes with a final newline.
  std::vector<uint8_t> npy = serialize_npy(NpyArray::from_float64({3}, {0, 1, 2}));
  ASSERT_GE(npy.size(), 10u);
  EXPECT_EQ(std::string(npy.begin(), npy.begin() + 8), std::string("\x93NUMPY\x01\x00", 8));
  std::string header = header_of(npy);
  EXPECT_EQ(header.size(), 118u);
  EXPECT_EQ((10 + header.size()) % 64, 0u);
  EXPECT_EQ(header.substr(0, header.find('}') + 1), "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }");
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(npy.size(), 128u + 24u);

  auto dict_of = [](const NpyArray& a) {
    std::string h = header_of(serialize_npy(a));
    return h.substr(0, h.find('}') + 1);
  };
  EXPECT_EQ(dict_of(NpyArray::from_strings({}, {"g1"})), "{'descr': '<U2', 'fortran_order': False, 'shape': (), }");
  EXPECT_EQ(dict_of(NpyArray::from_int32({4, 2}, std::vector<int32_t>(8))),
            "{'descr': '<i4', 'fortran_order': False, 'shape': (4, 2), }");
  EXPECT_EQ(dict_of(NpyArray::from_bool({1}, {1})), "{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }");
  EXPECT_EQ(dict_of(NpyArray::from_int64({}, {1})), "{'descr': '<i8', 'fortran_order': False, 'shape': (), }");
}

TEST(NpzTest, WritesAreDeterministicAndAtomic) {
  TempDir dir;
  std::vector<std::pair<std::string, NpyArray>> arrays = {{"labels", NpyArray::from_int32({3}, {0, 1, 2})},
                                                          {"names", NpyArray::from_strings({2}, {"a", "bb"})}};
  const fs::path a = dir.path() / "a.npz";
  const fs::path b = dir.path() / "b.npz";
  write_npz(a, arrays);
  write_npz(b, arrays);
  EXPECT_EQ(read_file_bytes(a), read_file_bytes(b));
  // Overwrite in place.
  write_npz(a, {{"labels", NpyArray::from_int32({1}, {9})}});
  EXPECT_EQ(read_npz(a).at("labels").to_int64(), std::vector<int64_t>{9});
  EXPECT_FALSE(read_npz(a).contains("names"));
  // An empty archive is valid (np.savez with no arrays).
  write_npz(dir.path() / "empty.npz", {});
  EXPECT_TRUE(read_npz(dir.path() / "empty.npz").arrays.empty());

  // Failures name the file and leave nothing behind.
  const fs::path missing_dir = dir.path() / "no" / "such" / "x.npz";
  std::string msg = io_error([&] { write_npz(missing_dir, arrays); });
  EXPECT_NE(msg.find(missing_dir.string()), std::string::npos) << msg;
  EXPECT_THROW(write_npz(dir.path() / "d.npz", {{"k", NpyArray::from_int32({1}, {1})}, {"k", NpyArray::from_int32({1}, {2})}}),
               InputError);
  NpyArray obj;
  obj.dtype = NpyDType::kObject;
  obj.shape = {0};
  try {
    write_npz(dir.path() / "o.npz", {{"names", obj}});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("(key 'names'): cannot write an object array"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path() / "d.npz"));
  EXPECT_FALSE(fs::exists(dir.path() / "o.npz"));
}

fs::path fixture(const char* name) { return fs::path(MOSAIC_SOURCE_DIR) / "tests" / "data" / "npz" / name; }

TEST(NpzTest, ReadsPythonWrittenNpz) {
  // Written by Python's zipfile as np.savez_compressed does (deflate, force_zip64), with members
  // in numpy's header layout; see tests/data/npz/make_fixtures.py.
  NpzArchive npz = read_npz(fixture("python_labels.npz"));
  EXPECT_EQ(npz.keys(), (std::vector<std::string>{"big_endian", "flags", "fortran", "frames", "group",
                                                  "individual_ids", "label_format", "label_ids", "label_names",
                                                  "labels", "sequence", "v2"}));
  EXPECT_EQ(npz.at("group").scalar_string(), "g1");
  EXPECT_TRUE(npz.at("group").shape.empty());
  EXPECT_EQ(npz.at("sequence").scalar_string(), "seq_\xc3\xa4");
  EXPECT_EQ(npz.at("label_format").scalar_string(), "individual_pair_v1");
  EXPECT_EQ(npz.at("frames").dtype, NpyDType::kInt32);
  EXPECT_EQ(npz.at("frames").to_int64(), (std::vector<int64_t>{10, 11, 250}));
  EXPECT_EQ(npz.at("labels").to_int64(), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(npz.at("individual_ids").shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(npz.at("individual_ids").to_int64(), (std::vector<int64_t>{0, 1, 1, -1, -1, -1}));
  EXPECT_EQ(npz.at("label_ids").dtype, NpyDType::kInt64);
  const NpyArray& names = npz.at("label_names");
  EXPECT_EQ(names.dtype, NpyDType::kObject);
  EXPECT_EQ(names.to_strings(), (std::vector<std::string>{"attack", "investigation", "other_interaction"}));
  // Fortran order is converted to C order.
  EXPECT_EQ(npz.at("fortran").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(npz.at("fortran").to_double(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  // Big-endian is byte-swapped.
  EXPECT_EQ(npz.at("big_endian").dtype, NpyDType::kInt32);
  EXPECT_EQ(npz.at("big_endian").to_int64(), (std::vector<int64_t>{7, -8}));
  EXPECT_EQ(npz.at("flags").to_int64(), (std::vector<int64_t>{1, 0, 0, 1}));
  EXPECT_EQ(npz.at("v2").to_int64(), (std::vector<int64_t>{1, 65535}));
}

TEST(NpzTest, ReadsRealTrexArchive) {
  const fs::path file = fs::path(MOSAIC_SOURCE_DIR) / ".." / "shared" / "data" / "trex_guppies8" / "raw" /
                        "corrected" / "test_fish7.npz";
  if (!fs::exists(file)) GTEST_SKIP() << "needs ../shared/data (absent)";
  NpzArchive npz = read_npz(file);  // stored (uncompressed) members written by TRex
  EXPECT_EQ(npz.arrays.size(), 31u);
  EXPECT_EQ(npz.at("X").dtype, NpyDType::kFloat32);
  EXPECT_EQ(npz.at("X").shape, std::vector<int64_t>{491});
  EXPECT_EQ(npz.at("frame").to_int64().front(), 9);
  EXPECT_EQ(npz.at("frame_segments").shape, (std::vector<int64_t>{29, 2}));
}

TEST(NpzTest, MissingTruncatedAndCorruptFilesNameTheFile) {
  TempDir dir;
  const fs::path missing = dir.path() / "nope.npz";
  EXPECT_EQ(io_error([&] { read_npz(missing); }), missing.string() + ": file not found");
  EXPECT_EQ(io_error([&] { read_npy(dir.path() / "nope.npy"); }), (dir.path() / "nope.npy").string() + ": file not found");

  const fs::path good = dir.path() / "good.npz";
  std::vector<double> values(2000);
  for (std::size_t k = 0; k < values.size(); ++k) values[k] = std::sin(static_cast<double>(k));
  write_npz(good, {{"a", NpyArray::from_float64({2000}, values)}, {"b", NpyArray::from_int64({1}, {5})}});
  const std::vector<uint8_t> bytes = read_file_bytes(good);

  for (std::size_t keep : {std::size_t{0}, std::size_t{10}, bytes.size() / 2, bytes.size() - 10}) {
    SCOPED_TRACE(keep);
    const fs::path cut = dir.path() / ("cut" + std::to_string(keep) + ".npz");
    write_file_atomic(cut, std::string_view(reinterpret_cast<const char*>(bytes.data()), keep));
    std::string msg = io_error([&] { read_npz(cut); });
    EXPECT_EQ(msg.rfind(cut.string() + ": not a valid .npz archive (truncated or corrupt zip: ", 0), 0u) << msg;
  }

  // A flipped byte inside the compressed data of member 'a': CRC or inflate error naming the key.
  std::vector<uint8_t> flipped = bytes;
  flipped[200] ^= 0x5A;
  const fs::path bad = dir.path() / "flipped.npz";
  write_file_atomic(bad, std::string_view(reinterpret_cast<const char*>(flipped.data()), flipped.size()));
  std::string msg = io_error([&] { read_npz(bad); });
  EXPECT_EQ(msg.rfind(bad.string() + " (key 'a'): ", 0), 0u) << msg;

  // Not a zip at all.
  const fs::path text = dir.path() / "text.npz";
  write_file_atomic(text, "frame,x\n0,1\n");
  msg = io_error([&] { read_npz(text); });
  EXPECT_EQ(msg, text.string() + ": not a valid .npz archive (truncated or corrupt zip: Not a zip archive)");
}

TEST(NpzTest, UnknownKeyMessage) {
  TempDir dir;
  const fs::path file = dir.path() / "k.npz";
  write_npz(file, {{"labels", NpyArray::from_int32({1}, {1})}});
  NpzArchive npz = read_npz(file);
  EXPECT_TRUE(npz.contains("labels"));
  EXPECT_FALSE(npz.contains("frames"));
  EXPECT_EQ(io_error([&] { npz.at("frames"); }), "Key 'frames' not found in " + file.string());
}

TEST(NpzTest, NpyHeaderVariantsAndErrors) {
  // Format 2.0 and 3.0 headers (4-byte length).
  NpyArray v2 = parse_npy(npy_bytes("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", raw_of<int16_t>({-3, 4}), 2), "v2.npy");
  EXPECT_EQ(v2.to_int64(), (std::vector<int64_t>{-3, 4}));
  NpyArray v3 = parse_npy(npy_bytes("{\"descr\": \"<u4\", \"fortran_order\": False, \"shape\": (1,)}", raw_of<uint32_t>({9}), 3), "v3.npy");
  EXPECT_EQ(v3.to_int64(), std::vector<int64_t>{9});
  // Python 2 longs in the shape, '=' byte order, no trailing comma.
  NpyArray py2 = parse_npy(npy_bytes("{'descr': '=f4', 'fortran_order': False, 'shape': (2L,)}", raw_of<float>({1.5f, 2.5f})), "py2.npy");
  EXPECT_EQ(py2.to_float32(), (std::vector<float>{1.5f, 2.5f}));
  // Big-endian float64 and unicode.
  std::string be(8, '\0');
  double x = -1.25;
  std::memcpy(be.data(), &x, 8);
  std::reverse(be.begin(), be.end());
  EXPECT_EQ(parse_npy(npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (), }", be), "be.npy").to_double(),
            std::vector<double>{-1.25});
  EXPECT_EQ(parse_npy(npy_bytes("{'descr': '>U2', 'fortran_order': False, 'shape': (1,), }", std::string("\0\0\0h\0\0\0i", 8)), "u.npy")
                .scalar_string(),
            "hi");
  // Byte strings are read as text.
  EXPECT_EQ(parse_npy(npy_bytes("{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }", std::string("ab\0xyz", 6)), "s.npy")
                .to_strings(),
            (std::vector<std::string>{"ab", "xyz"}));
  // Fortran order, 3-D: element (i,j,k) at i + 2*j + 6*k in the file.
  std::vector<int64_t> fvals(24);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) fvals[static_cast<std::size_t>(i + 2 * j + 6 * k)] = 100 * i + 10 * j + k;
  std::string fraw(24 * 8, '\0');
  std::memcpy(fraw.data(), fvals.data(), fraw.size());
  NpyArray f3 = parse_npy(npy_bytes("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3, 4), }", fraw), "f.npy");
  std::vector<int64_t> c = f3.to_int64();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) EXPECT_EQ(c[static_cast<std::size_t>(i * 12 + j * 4 + k)], 100 * i + 10 * j + k);

  // Errors name the source and say what is wrong.
  auto err = [](std::vector<uint8_t> bytes) { return io_error([&] { parse_npy(bytes, "x.npy"); }); };
  EXPECT_EQ(err({'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0}), "x.npy: not a .npy file (no \\x93NUMPY magic)");
  EXPECT_EQ(err(npy_bytes("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", std::string(16, '\0'))),
            "x.npy: unsupported dtype '<c16' (supported: <f8 <f4 <i8 <i4 <i2 |i1 <u8 <u4 <u2 |u1 |b1 <U{n} |S{n} |O, "
            "also big-endian)");
  EXPECT_EQ(err(npy_bytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0'))),
            "x.npy: unsupported dtype (structured arrays are not supported): {'descr': [('a', '<f8')], "
            "'fortran_order': False, 'shape': (1,), }");
  EXPECT_EQ(err(npy_bytes("{'descr': '<f8', 'shape': (1,), }", std::string(8, '\0'))),
            "x.npy: bad .npy header (missing key 'fortran_order'): {'descr': '<f8', 'shape': (1,), }");
  EXPECT_EQ(err(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", std::string(16, '\0'))),
            "x.npy: truncated array data: shape (3,) of <f8 needs 24 bytes, found 16");
  EXPECT_NE(err(npy_bytes("{'descr': '<f8' 'fortran_order': False}", "")).find("x.npy: bad .npy header (expected ',' or '}'"),
            std::string::npos);
  std::vector<uint8_t> v9 = npy_bytes("{}", "");
  v9[6] = 9;
  EXPECT_EQ(err(v9), "x.npy: unsupported .npy format version 9.0 (supported: 1.0, 2.0, 3.0)");
  std::vector<uint8_t> cut = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", "");
  cut.resize(30);
  EXPECT_EQ(err(cut).rfind("x.npy: truncated .npy header", 0), 0u);
}

TEST(NpzTest, Conversions) {
  NpyArray f = NpyArray::from_float64({3}, {1.0, -2.0, 3.0});
  EXPECT_EQ(f.to_int64(), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.describe(), "float64 array of shape (3,)");
  NpyArray frac = NpyArray::from_float64({1}, {1.5});
  EXPECT_EQ(io_error([&] { frac.to_int64(); }), "cannot convert float64 array of shape (1,) element 0 (value 1.5) to an integer");
  EXPECT_EQ(io_error([&] { f.to_strings(); }), "cannot read a float64 array of shape (3,) as strings");
  NpyArray s = NpyArray::from_strings({2}, {"a", "b"});
  EXPECT_EQ(io_error([&] { s.to_double(); }), "cannot convert a unicode array of shape (2,) to numbers");
  EXPECT_EQ(io_error([&] { s.scalar_string(); }), "expected a single string, got a unicode array of shape (2,)");
  EXPECT_EQ(NpyArray::from_bool({2}, {0, 1}).to_double(), (std::vector<double>{0.0, 1.0}));
  EXPECT_EQ(NpyArray::from_int32({2}, {-4, 5}).to_float32(), (std::vector<float>{-4.0f, 5.0f}));
  EXPECT_THROW(NpyArray::from_float64({2, 2}, {1.0}), InputError);
  EXPECT_THROW(NpyArray::from_strings({1}, {std::string("\xff")}), InputError);
}

}  // namespace
}  // namespace mosaic

// Tests for the restricted unpickler (src/io/pickle.hpp): what numpy writes decodes; anything that
// could run code is refused with the documented message and is never executed.
#include "io/pickle.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "mosaic/errors.hpp"
#include "mosaic/npz.hpp"

namespace mosaic {
namespace {

using Kind = PyValue::Kind;

std::vector<uint8_t> from_hex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// Hand assembly of pickle opcodes (names as in CPython's pickletools).
struct Pickle {
  std::vector<uint8_t> b;
  Pickle& op(uint8_t c) {
    b.push_back(c);
    return *this;
  }
  Pickle& raw(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Pickle& le(uint64_t v, int n) {
    for (int k = 0; k < n; ++k) b.push_back(static_cast<uint8_t>(v >> (8 * k)));
    return *this;
  }
  Pickle& proto(int p) { return op(0x80).op(static_cast<uint8_t>(p)); }
  Pickle& global(std::string_view module, std::string_view name) {
    return op('c').raw(module).op('\n').raw(name).op('\n');
  }
  Pickle& unicode(std::string_view s) { return op('X').le(s.size(), 4).raw(s); }
  Pickle& short_unicode(std::string_view s) { return op(0x8c).le(s.size(), 1).raw(s); }
  Pickle& bytes(std::string_view s) { return op('B').le(s.size(), 4).raw(s); }
  Pickle& int1(int v) { return op('K').le(static_cast<uint64_t>(v), 1); }
  Pickle& binint(int32_t v) { return op('J').le(static_cast<uint32_t>(v), 4); }
  Pickle& mark() { return op('('); }
  Pickle& tuple() { return op('t'); }
  Pickle& stop() { return op('.'); }
  // numpy.dtype(code, False, True) followed by BUILD with the byte order.
  Pickle& dtype(std::string_view code, std::string_view order) {
    global("numpy", "dtype").unicode(code).int1(0).int1(1).op(0x87).op('R');
    mark().int1(3).unicode(order).op('N').op('N').op('N').binint(-1).binint(-1).int1(0).tuple();
    return op('b');
  }
  // _reconstruct(ndarray, (0,), b'b'), i.e. an array waiting for its BUILD.
  Pickle& reconstruct(std::string_view module = "numpy.core.multiarray") {
    global(module, "_reconstruct").global("numpy", "ndarray").int1(0).op(0x85).op('C').le(1, 1).raw("b").op(0x87);
    return op('R');
  }
  std::span<const uint8_t> span() const { return b; }
};

std::string le_doubles(std::initializer_list<double> values) {
  std::string out;
  for (double v : values) {
    char buf[8];
    std::memcpy(buf, &v, 8);
    out.append(buf, 8);
  }
  return out;
}

std::string error_of(std::span<const uint8_t> bytes, const UnpickleLimits& limits = {}) {
  try {
    unpickle(bytes, "t.npy", limits);
  } catch (const IoError& e) {
    return e.what();
  }
  return "(no error)";
}

// ------------------------------------------------------------------------------------------
// Plain containers: golden bytes from CPython's pickle.dumps for protocols 2-5 of
// {'a': [1, 2.5, True, None, -5, 2**40, -2**63], 'b': (b'xy',), 'c': 'üe', 'd': {3},
//  'e': OrderedDict([('k', 0)]), 'f': b''}
// ------------------------------------------------------------------------------------------
constexpr std::string_view kPlainHex[] = {
    "80027d71002858010000006171015d7102284b01474004000000000000884e4afbffffff8a060000000000018a0800000000000000806558"
    "0100000062710363"
    "5f636f646563730a656e636f64650a710458020000007879710558060000006c6174696e317106867107527108857109580100000063710a"
    "5805000000c3bce282ac710b580100000064710c635f5f6275696c74696e5f5f0a7365740a710d5d710e4b036185710f5271105801000000"
    "65711163636f6c6c656374696f6e730a4f726465726564446963740a71122952711358010000006b71144b00735801000000667115635f5f"
    "6275696c74696e5f5f0a62797465730a711629527117752e",
    "80037d71002858010000006171015d7102284b01474004000000000000884e4afbffffff8a060000000000018a0800000000000000806558"
    "0100000062710343027879710485710558010000006371065805000000c3bce282ac71075801000000647108636275696c74696e730a7365"
    "740a71095d710a4b036185710b52710c580100000065710d63636f6c6c656374696f6e730a4f726465726564446963740a710e2952710f58"
    "010000006b71104b0073580100000066711143007112752e",
    "80049585000000000000007d94288c0161945d94284b01474004000000000000884e4afbffffff8a060000000000018a0800000000000000"
    "80658c016294430278799485948c0163948c05c3bce282ac948c0164948f94284b03908c0165948c0b636f6c6c656374696f6e73948c0b4f"
    "726465726564446963749493942952948c016b944b00738c016694430094752e",
    "80059585000000000000007d94288c0161945d94284b01474004000000000000884e4afbffffff8a060000000000018a0800000000000000"
    "80658c016294430278799485948c0163948c05c3bce282ac948c0164948f94284b03908c0165948c0b636f6c6c656374696f6e73948c0b4f"
    "726465726564446963749493942952948c016b944b00738c016694430094752e",
};

TEST(PickleTest, PlainContainersEveryProtocol) {
  for (int proto = 2; proto <= 5; ++proto) {
    SCOPED_TRACE(proto);
    auto bytes = from_hex(kPlainHex[proto - 2]);
    PyValuePtr v = unpickle(bytes, "plain.pkl");
    ASSERT_EQ(v->kind, Kind::kDict);
    EXPECT_EQ(v->keys(), (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
    const PyValue* a = v->find("a");
    ASSERT_NE(a, nullptr);
    ASSERT_EQ(a->kind, Kind::kList);
    ASSERT_EQ(a->items.size(), 7u);
    EXPECT_EQ(a->items[0]->i, 1);
    EXPECT_EQ(a->items[1]->f, 2.5);
    EXPECT_EQ(a->items[2]->kind, Kind::kBool);
    EXPECT_TRUE(a->items[2]->b);
    EXPECT_EQ(a->items[3]->kind, Kind::kNone);
    EXPECT_EQ(a->items[4]->i, -5);
    EXPECT_EQ(a->items[5]->i, int64_t{1} << 40);
    EXPECT_EQ(a->items[6]->i, std::numeric_limits<int64_t>::min());
    const PyValue* b = v->find("b");
    ASSERT_EQ(b->kind, Kind::kTuple);
    ASSERT_EQ(b->items.size(), 1u);
    EXPECT_EQ(b->items[0]->kind, Kind::kBytes);
    EXPECT_EQ(b->items[0]->s, "xy");
    EXPECT_EQ(v->find("c")->s, "\xc3\xbc\xe2\x82\xac");  // "ü€" in UTF-8
    const PyValue* d = v->find("d");
    ASSERT_EQ(d->kind, Kind::kSet);
    ASSERT_EQ(d->items.size(), 1u);
    EXPECT_EQ(d->items[0]->i, 3);
    const PyValue* e = v->find("e");
    ASSERT_EQ(e->kind, Kind::kDict);
    ASSERT_NE(e->find("k"), nullptr);
    EXPECT_EQ(e->find("k")->i, 0);
    EXPECT_EQ(v->find("f")->kind, Kind::kBytes);
    EXPECT_EQ(v->find("f")->s, "");
  }
}

// numpy 2's np.save of np.array(['attack', 'investigation', 'other_interaction'], dtype=object):
// protocol 4 with FRAME, STACK_GLOBAL and MEMOIZE, names under numpy._core (see
// tests/data/npz/make_fixtures.py for how these bytes were produced).
constexpr std::string_view kObjectArrayProto4 =
    "800495b7000000000000008c166e756d70792e5f636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e"
    "756d7079948c076e6461727261799493944b0085944301629487945294284b014b03859468038c0564747970659493948c024f3894898887"
    "945294284b038c017c944e4e4e4affffffff4affffffff4b3f749462895d94288c0661747461636b948c0d696e7665737469676174696f6e"
    "948c116f746865725f696e746572616374696f6e94657494622e";

TEST(PickleTest, NumpyObjectArrayOfStrings) {
  auto bytes = from_hex(kObjectArrayProto4);
  PyValuePtr v = unpickle(bytes, "names.npy");
  ASSERT_EQ(v->kind, Kind::kArray);
  ASSERT_TRUE(v->array);
  EXPECT_EQ(v->array->dtype, NpyDType::kObject);
  EXPECT_EQ(v->array->shape, std::vector<int64_t>{3});
  EXPECT_EQ(v->array->to_strings(), (std::vector<std::string>{"attack", "investigation", "other_interaction"}));
}

TEST(PickleTest, NumericArrayFromRawBytesAndLatin1Text) {
  // Protocol 3 style: the data as BINBYTES.
  Pickle p;
  p.proto(3).reconstruct().mark().int1(1).int1(2).int1(2).op(0x86);
  p.dtype("f8", "<").op(0x89).bytes(le_doubles({1.0, 2.0, 3.0, 4.5})).tuple().op('b').stop();
  PyValuePtr v = unpickle(p.span(), "a.npy");
  ASSERT_EQ(v->kind, Kind::kArray);
  EXPECT_EQ(v->array->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(v->array->to_double(), (std::vector<double>{1.0, 2.0, 3.0, 4.5}));

  // Protocol 2 from Python 3: the data as _codecs.encode(<latin-1 text as UTF-8>, 'latin1').
  std::string raw = le_doubles({0.5, -2.0});
  std::string as_text;  // each byte as one code point, UTF-8 encoded
  for (unsigned char c : raw) {
    if (c < 0x80) as_text.push_back(static_cast<char>(c));
    else {
      as_text.push_back(static_cast<char>(0xC0 | (c >> 6)));
      as_text.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  Pickle q;
  q.proto(2).reconstruct().mark().int1(1).int1(2).op(0x85);
  q.dtype("f8", "<").op(0x89).global("_codecs", "encode").unicode(as_text).unicode("latin1").op(0x86).op('R');
  q.tuple().op('b').stop();
  v = unpickle(q.span(), "b.npy");
  EXPECT_EQ(v->array->to_double(), (std::vector<double>{0.5, -2.0}));
}

TEST(PickleTest, FortranOrderAndBigEndianState) {
  // 2x3 int32 stored column-major and big-endian: logical [[1,2,3],[4,5,6]].
  std::string raw;
  for (int32_t x : {1, 4, 2, 5, 3, 6}) {
    raw.push_back(static_cast<char>((x >> 24) & 0xFF));
    raw.push_back(static_cast<char>((x >> 16) & 0xFF));
    raw.push_back(static_cast<char>((x >> 8) & 0xFF));
    raw.push_back(static_cast<char>(x & 0xFF));
  }
  Pickle p;
  p.proto(3).reconstruct().mark().int1(1).int1(2).int1(3).op(0x86);
  p.dtype("i4", ">").op(0x88).bytes(raw).tuple().op('b').stop();
  PyValuePtr v = unpickle(p.span(), "f.npy");
  EXPECT_EQ(v->array->dtype, NpyDType::kInt32);
  EXPECT_EQ(v->array->to_int64(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST(PickleTest, NumpyScalarAndFromBuffer) {
  // {'fps': scalar(dtype('f8'), b'...'), 'arr': _frombuffer(bytearray(...), dtype('u2'), (2,), 'C')}
  // in protocol 5 (BYTEARRAY8 is how an in-band PickleBuffer travels).
  Pickle q;
  q.proto(5).op(0x7d).mark();
  q.short_unicode("fps").global("numpy.core.multiarray", "scalar");
  q.dtype("f8", "<").bytes(le_doubles({28.0})).op(0x86).op('R');
  q.short_unicode("arr").global("numpy._core.numeric", "_frombuffer").mark();
  q.op(0x96).le(4, 8).raw(std::string("\x01\x00\xff\xff", 4));
  q.dtype("u2", "<").int1(2).op(0x85).short_unicode("C").tuple().op('R');
  q.op('u').stop();
  PyValuePtr v = unpickle(q.span(), "s.npy");
  ASSERT_EQ(v->kind, Kind::kDict);
  ASSERT_EQ(v->find("fps")->kind, Kind::kFloat);
  EXPECT_EQ(v->find("fps")->f, 28.0);
  EXPECT_EQ(v->find("fps")->as_number(), 28.0);
  const PyValue* arr = v->find("arr");
  ASSERT_EQ(arr->kind, Kind::kArray);
  EXPECT_EQ(arr->array->dtype, NpyDType::kUInt16);
  EXPECT_EQ(arr->array->to_int64(), (std::vector<int64_t>{1, 65535}));
}

// ------------------------------------------------------------------------------------------
// Refusals
// ------------------------------------------------------------------------------------------
TEST(PickleTest, RefusesOsSystemAndNeverRunsIt) {
  namespace fs = std::filesystem;
  const fs::path marker = fs::temp_directory_path() / "mosaic_pickle_test_pwned";
  fs::remove(marker);
  // GLOBAL 'os system', then REDUCE with ('touch <marker>',): what an exploit looks like.
  Pickle p;
  p.proto(2).global("os", "system").unicode("touch " + marker.string()).op(0x85).op('R').stop();
  EXPECT_EQ(error_of(p.span()),
            "t.npy: refusing to unpickle global 'os.system' (only numpy arrays and plain containers are supported)");
  EXPECT_FALSE(fs::exists(marker));

  // CPython's own pickle.dumps(os.system, protocol=2) names the module 'posix'.
  EXPECT_EQ(error_of(from_hex("800263706f7369780a73797374656d0a71002e")),
            "t.npy: refusing to unpickle global 'posix.system' (only numpy arrays and plain containers are supported)");
  // pickle.dumps(eval, protocol=4): STACK_GLOBAL 'builtins' 'eval'.
  EXPECT_EQ(error_of(from_hex("80049515000000000000008c086275696c74696e73948c046576616c9493942e")),
            "t.npy: refusing to unpickle global 'builtins.eval' (only numpy arrays and plain containers are supported)");
}

TEST(PickleTest, RefusesUnknownOpcodesAndMisuse) {
  // INST ('i'), the protocol 0 way to call a class, is not supported.
  Pickle inst;
  inst.proto(2).mark().raw("ios\nsystem\n").stop();
  EXPECT_EQ(error_of(inst.span()),
            "t.npy: refusing to unpickle opcode 0x69 ('i') at byte 3 (only numpy arrays and plain containers are "
            "supported)");
  // _codecs.encode is allowed for latin1 only.
  Pickle enc;
  enc.proto(2).global("_codecs", "encode").unicode("x").unicode("rot13").op(0x86).op('R').stop();
  EXPECT_NE(error_of(enc.span()).find("refusing to unpickle _codecs.encode with encoding 'rot13'"), std::string::npos);
  // numpy.ndarray cannot be called directly, only named as _reconstruct's argument.
  Pickle nd;
  nd.proto(2).global("numpy", "ndarray").op(')').op('R').stop();
  EXPECT_NE(error_of(nd.span()).find("refusing to unpickle a call of 'numpy.ndarray'"), std::string::npos);
  // A bare allowed global as the result is a callable, not data.
  Pickle bare;
  bare.proto(2).global("numpy", "dtype").stop();
  EXPECT_NE(error_of(bare.span()).find("refusing to unpickle a bare reference to 'numpy.dtype'"), std::string::npos);
  // Protocol 6 does not exist yet.
  Pickle p6;
  p6.proto(6).op('N').stop();
  EXPECT_NE(error_of(p6.span()).find("refusing to unpickle pickle protocol 6"), std::string::npos);
}

TEST(PickleTest, LimitsAgainstHostileInput) {
  // Nesting deeper than the limit.
  Pickle deep;
  deep.proto(2);
  for (int k = 0; k < 100; ++k) deep.op(']');
  for (int k = 0; k < 99; ++k) deep.op('a');
  deep.stop();
  EXPECT_NE(error_of(deep.span()).find("refusing to unpickle data nested deeper than 64 levels"), std::string::npos);

  // A list that contains itself (would be a reference cycle).
  Pickle cyc;
  cyc.proto(2).op(']').op('q').le(0, 1).op('h').le(0, 1).op('a').stop();
  EXPECT_NE(error_of(cyc.span()).find("refusing to unpickle a self-referencing structure"), std::string::npos);

  // Too many objects for the configured limit.
  Pickle many;
  many.proto(2).op(']').mark();
  for (int k = 0; k < 50; ++k) many.int1(k);
  many.op('e').stop();
  UnpickleLimits small;
  small.max_objects = 20;
  EXPECT_NE(error_of(many.span(), small).find("refusing to unpickle more than 20 objects"), std::string::npos);

  // A length field far beyond the data: an error, not a 4 GB allocation.
  Pickle huge;
  huge.proto(2).op('X').le(0xFFFFFFF0u, 4).raw("abc");
  EXPECT_NE(error_of(huge.span()).find("t.npy: corrupt pickle: truncated pickle"), std::string::npos);

  // No STOP.
  Pickle nostop;
  nostop.proto(2).op('N');
  EXPECT_NE(error_of(nostop.span()).find("truncated pickle (no STOP opcode)"), std::string::npos);

  // BINGET of a memo slot never stored.
  Pickle memo;
  memo.proto(2).op('h').le(7, 1).stop();
  EXPECT_NE(error_of(memo.span()).find("memo key 7 was never stored"), std::string::npos);

  // Array data shorter than its shape needs.
  Pickle shortdata;
  shortdata.proto(3).reconstruct().mark().int1(1).int1(3).op(0x85);
  shortdata.dtype("f8", "<").op(0x89).bytes(le_doubles({1.0})).tuple().op('b').stop();
  EXPECT_NE(error_of(shortdata.span()).find("array data has 8 bytes, shape (3,) of <f8 needs 24"), std::string::npos);
}

TEST(PickleTest, ObjectNpyThroughParseNpy) {
  // A full .npy: '|O' header + the protocol 4 pickle above.
  std::string header = "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }";
  header.append(21 - 1, ' ');
  std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string file = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
  for (uint8_t c : from_hex(kObjectArrayProto4)) file.push_back(static_cast<char>(c));
  const std::vector<uint8_t> bytes(file.begin(), file.end());
  NpyArray a = parse_npy(bytes, "names.npy");
  EXPECT_EQ(a.dtype, NpyDType::kObject);
  EXPECT_EQ(a.shape, std::vector<int64_t>{3});
  EXPECT_EQ(a.to_strings(), (std::vector<std::string>{"attack", "investigation", "other_interaction"}));
  EXPECT_THROW(a.to_double(), IoError);

  // The header and the pickled array must agree on the shape.
  std::string bad(bytes.begin(), bytes.end());
  bad.replace(bad.find("(3,)"), 4, "(4,)");
  try {
    parse_npy(std::vector<uint8_t>(bad.begin(), bad.end()), "names.npy");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_STREQ(e.what(), "names.npy: pickled array has shape (3,) but the .npy header says (4,)");
  }
}

}  // namespace
}  // namespace mosaic

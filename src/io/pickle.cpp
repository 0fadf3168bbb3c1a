// pickle.cpp: a restricted unpickler (see pickle.hpp for what it accepts and why).
//
// It is a small stack machine over the opcodes of pickle protocols 2-5 (CPython's
// Lib/pickletools.py documents each one). Python's Unpickler imports and calls any global the
// stream names; this one only recognises a fixed allow-list and interprets each allowed callable
// itself, so a hostile file can at worst produce an error.
//
// Two structural guards keep hostile input bounded:
//  * a value becomes frozen once it is placed inside another value, and frozen values cannot be
//    modified (APPEND/SETITEM/BUILD). Honest pickles always fill a container before using it,
//    so this refuses only self-referencing structures, which also rules out reference cycles;
//  * nesting depth, the number of values and the stack size are capped (UnpickleLimits), and
//    every length field is checked against the bytes that remain before anything is allocated.
#include "io/pickle.hpp"

#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "mosaic/errors.hpp"

namespace mosaic {

// ---------------------------------------------------------------------------------------------
// PyValue helpers
// ---------------------------------------------------------------------------------------------
const PyValue* PyValue::find(std::string_view key) const {
  if (kind != Kind::kDict) return nullptr;
  for (const auto& [k, v] : dict)
    if (k && k->kind == Kind::kStr && k->s == key) return v.get();
  return nullptr;
}

std::vector<std::string> PyValue::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : dict) out.push_back(k && k->kind == Kind::kStr ? k->s : "<" + (k ? k->type_name() : "?") + ">");
  return out;
}

std::string PyValue::type_name() const {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kSet: return "set";
    case Kind::kArray: return array ? "ndarray (" + array->describe() + ")" : "ndarray";
    case Kind::kDType: return "numpy.dtype";
    case Kind::kGlobal: return "global '" + s + "'";
  }
  return "?";
}

std::optional<double> PyValue::as_number() const {
  switch (kind) {
    case Kind::kBool: return b ? 1.0 : 0.0;
    case Kind::kInt: return static_cast<double>(i);
    case Kind::kFloat: return f;
    case Kind::kArray:
      if (array && array->size() == 1 && array->dtype != NpyDType::kUnicode) {
        try {
          return array->to_double()[0];
        } catch (const IoError&) {
          return std::nullopt;
        }
      }
      return std::nullopt;
    default: return std::nullopt;
  }
}

// ---------------------------------------------------------------------------------------------
// The unpickler
// ---------------------------------------------------------------------------------------------
namespace {

using Kind = PyValue::Kind;

// Opcodes (CPython Lib/pickle.py names).
enum Op : uint8_t {
  kMark = '(', kStop = '.', kPop = '0', kPopMark = '1', kDup = '2', kBinInt = 'J', kBinInt1 = 'K',
  kBinInt2 = 'M', kNone = 'N', kBinUnicode = 'X', kUnicode = 'V', kBinString = 'T', kShortBinString = 'U',
  kBinBytes = 'B', kShortBinBytes = 'C', kAppend = 'a', kAppends = 'e', kBuild = 'b', kGlobal = 'c', kDict = 'd',
  kEmptyDict = '}', kGet = 'g', kBinGet = 'h', kLongBinGet = 'j', kList = 'l', kEmptyList = ']', kPut = 'p',
  kBinPut = 'q', kLongBinPut = 'r', kSetItem = 's', kSetItems = 'u', kTuple = 't', kEmptyTuple = ')',
  kReduce = 'R', kBinFloat = 'G',
  kProto = 0x80, kNewObj = 0x81, kTuple1 = 0x85, kTuple2 = 0x86, kTuple3 = 0x87, kNewTrue = 0x88,
  kNewFalse = 0x89, kLong1 = 0x8a, kLong4 = 0x8b, kShortBinUnicode = 0x8c, kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e, kEmptySet = 0x8f, kAddItems = 0x90, kFrozenSet = 0x91, kStackGlobal = 0x93,
  kMemoize = 0x94, kFrame = 0x95, kByteArray8 = 0x96,
};

// The globals we interpret. Everything else is refused by name.
enum class Callable { kReconstruct, kNdarray, kDType, kScalar, kFromBuffer, kCodecsEncode, kOrderedDict, kSet,
                      kFrozenSet, kBytes, kByteArray };

std::optional<Callable> allowed_global(std::string_view name) {
  static const std::unordered_map<std::string_view, Callable> kAllowed = {
      {"numpy.core.multiarray._reconstruct", Callable::kReconstruct},
      {"numpy._core.multiarray._reconstruct", Callable::kReconstruct},
      {"numpy.ndarray", Callable::kNdarray},
      {"numpy.dtype", Callable::kDType},
      {"numpy.core.multiarray.scalar", Callable::kScalar},
      {"numpy._core.multiarray.scalar", Callable::kScalar},
      {"numpy.core.numeric._frombuffer", Callable::kFromBuffer},
      {"numpy._core.numeric._frombuffer", Callable::kFromBuffer},
      // Protocol 2 pickles written by Python 3 carry bytes as _codecs.encode(text, 'latin1').
      {"_codecs.encode", Callable::kCodecsEncode},
      {"collections.OrderedDict", Callable::kOrderedDict},
      {"builtins.set", Callable::kSet},
      {"__builtin__.set", Callable::kSet},
      {"builtins.frozenset", Callable::kFrozenSet},
      {"__builtin__.frozenset", Callable::kFrozenSet},
      {"builtins.bytes", Callable::kBytes},
      {"__builtin__.bytes", Callable::kBytes},
      {"builtins.bytearray", Callable::kByteArray},
      {"__builtin__.bytearray", Callable::kByteArray},
  };
  auto it = kAllowed.find(name);
  if (it == kAllowed.end()) return std::nullopt;
  return it->second;
}

std::string printable(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) out.push_back(c);
    else out += fmt::format("\\x{:02x}", u);
  }
  if (s.size() > max) out += "...";
  return out;
}

class Unpickler {
 public:
  Unpickler(std::span<const uint8_t> bytes, const std::string& source, const UnpickleLimits& limits)
      : b_(bytes), src_(source), limits_(limits) {}

  PyValuePtr run() {
    while (true) {
      if (pos_ >= b_.size()) corrupt("truncated pickle (no STOP opcode)");
      op_pos_ = pos_;
      const uint8_t op = b_[pos_++];
      if (op == kStop) break;
      step(op);
    }
    if (stack_.empty() || !marks_.empty()) corrupt("unbalanced stack at STOP");
    PyValuePtr result = stack_.back();
    check_result(result);
    return result;
  }

 private:
  struct Meta {
    std::size_t depth = 0;
    bool frozen = false;
    std::unordered_map<std::string, std::size_t> dict_index;  // canonical key -> position
  };

  // ---- errors ----
  [[noreturn]] void refuse(const std::string& what) const {
    throw IoError(fmt::format("{}: refusing to unpickle {} (only numpy arrays and plain containers are supported)",
                              src_, what));
  }
  [[noreturn]] void corrupt(const std::string& what) const {
    throw IoError(fmt::format("{}: corrupt pickle: {} (opcode at byte {})", src_, what, op_pos_));
  }

  // ---- input ----
  std::span<const uint8_t> take(uint64_t n) {
    if (n > b_.size() - pos_) corrupt(fmt::format("truncated pickle (needs {} more bytes, {} left)", n, b_.size() - pos_));
    auto out = b_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return out;
  }
  uint64_t le(std::size_t n) {
    auto p = take(n);
    uint64_t v = 0;
    for (std::size_t k = 0; k < n; ++k) v |= uint64_t{p[k]} << (8 * k);
    return v;
  }
  std::string text(uint64_t n) {
    auto p = take(n);
    return std::string(reinterpret_cast<const char*>(p.data()), p.size());
  }
  std::string line() {
    std::size_t start = pos_;
    while (pos_ < b_.size() && b_[pos_] != '\n') {
      if (pos_ - start > 1024) corrupt("text argument longer than 1024 bytes");
      ++pos_;
    }
    if (pos_ >= b_.size()) corrupt("truncated pickle (unterminated text argument)");
    std::string out(reinterpret_cast<const char*>(b_.data() + start), pos_ - start);
    ++pos_;
    return out;
  }

  // ---- values ----
  PyValuePtr make(Kind kind) {
    if (++objects_ > limits_.max_objects) refuse(fmt::format("more than {} objects", limits_.max_objects));
    auto v = std::make_shared<PyValue>();
    v->kind = kind;
    // Meta is keyed by address, so no value may be freed (and its address reused) mid-run.
    all_.push_back(v);
    return v;
  }
  PyValuePtr make_str(std::string s) {
    auto v = make(Kind::kStr);
    v->s = std::move(s);
    return v;
  }
  PyValuePtr make_bytes(std::string s) {
    auto v = make(Kind::kBytes);
    v->s = std::move(s);
    return v;
  }
  PyValuePtr make_int(int64_t i) {
    auto v = make(Kind::kInt);
    v->i = i;
    return v;
  }
  PyValuePtr make_bool(bool b) {
    auto v = make(Kind::kBool);
    v->b = b;
    return v;
  }

  Meta& meta(const PyValuePtr& v) { return meta_[v.get()]; }

  // Record that `child` now lives inside `parent`: freeze it and bound the nesting depth.
  void adopt(const PyValuePtr& parent, const PyValuePtr& child) {
    // The parent is mutable, hence not inside any other value, so the only cycle adoption could
    // close is a value holding itself.
    if (parent.get() == child.get()) refuse(fmt::format("a self-referencing structure (a {} inside itself)", parent->type_name()));
    Meta& c = meta(child);
    c.frozen = true;
    const std::size_t child_depth = c.depth;
    Meta& p = meta(parent);
    p.depth = std::max(p.depth, child_depth + 1);
    if (p.depth > limits_.max_depth) refuse(fmt::format("data nested deeper than {} levels", limits_.max_depth));
  }
  void require_mutable(const PyValuePtr& v, const char* op) {
    if (meta(v).frozen) refuse(fmt::format("a self-referencing structure ({} on a {} already in use)", op, v->type_name()));
  }

  // ---- stack ----
  void push(PyValuePtr v) {
    if (stack_.size() >= limits_.max_stack) refuse(fmt::format("a stack deeper than {} values", limits_.max_stack));
    stack_.push_back(std::move(v));
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  PyValuePtr pop() {
    if (stack_.size() <= floor()) corrupt("stack underflow");
    PyValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const PyValuePtr& top() {
    if (stack_.size() <= floor()) corrupt("stack underflow");
    return stack_.back();
  }
  std::vector<PyValuePtr> pop_mark() {
    if (marks_.empty()) corrupt("MARK expected");
    std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                                  std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  PyValuePtr make_tuple(std::vector<PyValuePtr> items) {
    auto t = make(Kind::kTuple);
    for (const auto& item : items) adopt(t, item);
    t->items = std::move(items);
    return t;
  }

  // ---- dicts and sets ----
  // A canonical text for hashable keys, with Python's equalities (True == 1 == 1.0).
  std::string key_of(const PyValue& k, int depth = 0) const {
    if (depth > 32) corrupt("dict key nested too deeply");
    switch (k.kind) {
      case Kind::kNone: return "N";
      case Kind::kBool: return k.b ? "i1" : "i0";
      case Kind::kInt: return "i" + std::to_string(k.i);
      case Kind::kFloat:
        if (std::isfinite(k.f) && k.f == std::trunc(k.f) && std::fabs(k.f) < 9e18)
          return "i" + std::to_string(static_cast<int64_t>(k.f));
        return fmt::format("f{}", k.f);
      case Kind::kStr: return "s" + std::to_string(k.s.size()) + ":" + k.s;
      case Kind::kBytes: return "b" + std::to_string(k.s.size()) + ":" + k.s;
      case Kind::kTuple: {
        std::string out = "t" + std::to_string(k.items.size()) + "(";
        for (const auto& item : k.items) out += key_of(*item, depth + 1) + ",";
        return out + ")";
      }
      default: refuse(fmt::format("a dict or set key of type {} (unhashable)", k.type_name()));
    }
  }
  void set_item(const PyValuePtr& d, PyValuePtr key, PyValuePtr value) {
    if (d->kind != Kind::kDict) refuse(fmt::format("SETITEM on a {}", d->type_name()));
    require_mutable(d, "SETITEM");
    std::string k = key_of(*key);
    adopt(d, key);
    adopt(d, value);
    Meta& m = meta(d);
    auto it = m.dict_index.find(k);
    if (it != m.dict_index.end()) {
      d->dict[it->second].second = std::move(value);  // Python keeps the first key, last value
      return;
    }
    m.dict_index.emplace(std::move(k), d->dict.size());
    d->dict.emplace_back(std::move(key), std::move(value));
  }
  void add_to_set(const PyValuePtr& set, std::vector<PyValuePtr> items) {
    Meta& m = meta(set);
    for (auto& item : items) {
      std::string k = key_of(*item);
      adopt(set, item);
      if (m.dict_index.emplace(std::move(k), set->items.size()).second) set->items.push_back(std::move(item));
    }
  }

  // ---- strings ----
  // Text that stands for bytes (protocol 2's latin1 trick, Python 2 str): UTF-8 -> latin-1.
  std::string latin1_bytes(const PyValue& v, const char* what) {
    if (v.kind == Kind::kBytes) return v.s;
    if (v.kind != Kind::kStr) corrupt(fmt::format("{} expects bytes or str, got {}", what, v.type_name()));
    std::string out;
    out.reserve(v.s.size());
    const std::string& s = v.s;
    for (std::size_t i = 0; i < s.size();) {
      auto c = static_cast<uint8_t>(s[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++i;
      } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) {
        uint32_t cp = (uint32_t{c} & 0x1F) << 6 | (static_cast<uint8_t>(s[i + 1]) & 0x3F);
        if (cp > 0xFF) corrupt(fmt::format("{}: text holds a character above U+00FF, not latin-1 bytes", what));
        out.push_back(static_cast<char>(cp));
        i += 2;
      } else {
        corrupt(fmt::format("{}: text is not latin-1 encodable", what));
      }
    }
    return out;
  }
  std::string latin1_to_utf8(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (char c : raw) npy_detail::append_utf8(out, static_cast<uint8_t>(c), src_);
    return out;
  }
  // The UNICODE opcode's raw-unicode-escape: \uXXXX and \UXXXXXXXX escapes, other bytes latin-1.
  std::string raw_unicode_escape(const std::string& raw) {
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size() && (raw[i + 1] == 'u' || raw[i + 1] == 'U')) {
        std::size_t n = raw[i + 1] == 'u' ? 4 : 8;
        if (i + 2 + n > raw.size()) corrupt("bad \\u escape in UNICODE");
        uint32_t cp = 0;
        for (std::size_t k = 0; k < n; ++k) {
          char h = raw[i + 2 + k];
          int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
          if (d < 0) corrupt("bad \\u escape in UNICODE");
          cp = cp * 16 + static_cast<uint32_t>(d);
        }
        npy_detail::append_utf8(out, cp, src_);
        i += 1 + n;
      } else {
        npy_detail::append_utf8(out, static_cast<uint8_t>(raw[i]), src_);
      }
    }
    return out;
  }

  // ---- numpy ----
  NpyDTypeDesc dtype_arg(const PyValuePtr& v, const char* what) {
    if (v->kind != Kind::kDType) corrupt(fmt::format("{} expects a numpy.dtype, got {}", what, v->type_name()));
    return v->dtype;
  }
  std::vector<int64_t> shape_arg(const PyValue& v, const char* what) {
    if (v.kind != Kind::kTuple) corrupt(fmt::format("{} expects a shape tuple, got {}", what, v.type_name()));
    std::vector<int64_t> shape;
    for (const auto& d : v.items) {
      if (d->kind != Kind::kInt || d->i < 0) corrupt(fmt::format("{}: shape holds {}", what, d->type_name()));
      shape.push_back(d->i);
    }
    (void)npy_detail::checked_size(shape, src_);
    return shape;
  }
  // Raw element bytes -> array, requiring the exact length numpy's __setstate__ requires.
  std::shared_ptr<NpyArray> array_from_bytes(const NpyDTypeDesc& dt, std::vector<int64_t> shape,
                                             const std::string& raw, bool fortran) {
    const int64_t n = npy_detail::checked_size(shape, src_);
    if (dt.item_size != 0 && (static_cast<uint64_t>(n) > raw.size() / dt.item_size ||
                              static_cast<uint64_t>(n) * dt.item_size != raw.size()))
      corrupt(fmt::format("array data has {} bytes, shape {} of {} needs {}", raw.size(),
                          npy_detail::shape_repr(shape), npy_detail::descr_of(dt), static_cast<uint64_t>(n) * dt.item_size));
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
    return std::make_shared<NpyArray>(npy_detail::array_from_raw(dt, std::move(shape), bytes, fortran, src_));
  }
  // numpy.dtype('f8', align, copy): the type string is a kind character and a size.
  PyValuePtr make_dtype(const std::string& code) {
    std::size_t pos = 0;
    bool big = false;
    if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
      big = code[0] == '>';
      pos = 1;
    }
    if (pos >= code.size()) refuse(fmt::format("numpy dtype '{}'", printable(code)));
    const char kind = code[pos++];
    std::size_t size = 0;
    for (; pos < code.size(); ++pos) {
      if (code[pos] < '0' || code[pos] > '9' || size > 100'000'000) refuse(fmt::format("numpy dtype '{}'", printable(code)));
      size = size * 10 + static_cast<std::size_t>(code[pos] - '0');
    }
    if (kind == 'U') size *= 4;
    auto desc = npy_detail::dtype_from_kind(kind, size, big);
    if (!desc) refuse(fmt::format("numpy dtype '{}'", printable(code)));
    auto v = make(Kind::kDType);
    v->dtype = *desc;
    return v;
  }
  // numpy.core.multiarray.scalar(dtype, data): one element as a plain Python value.
  PyValuePtr make_scalar(const NpyDTypeDesc& dt, const PyValuePtr& data) {
    if (dt.type == NpyDType::kObject) return data;
    std::string raw = latin1_bytes(*data, "numpy scalar");
    auto arr = array_from_bytes(dt, {}, raw, false);
    if (dt.type == NpyDType::kUnicode) return make_str(arr->strings.at(0));
    if (dt.type == NpyDType::kBool) return make_bool(arr->data.at(0) != 0);
    if (dt.type == NpyDType::kFloat64 || dt.type == NpyDType::kFloat32) {
      auto v = make(Kind::kFloat);
      v->f = arr->to_double()[0];
      return v;
    }
    try {
      return make_int(arr->to_int64()[0]);
    } catch (const IoError&) {
      corrupt("numpy uint64 scalar does not fit in int64");
    }
  }

  // ---- calls ----
  PyValuePtr call(const PyValuePtr& fn, const PyValuePtr& args_v) {
    if (fn->kind != Kind::kGlobal) refuse(fmt::format("a call of a {}", fn->type_name()));
    if (args_v->kind != Kind::kTuple) corrupt(fmt::format("call of '{}' with {} arguments", fn->s, args_v->type_name()));
    const auto& args = args_v->items;
    auto nargs = [&](std::size_t lo, std::size_t hi) {
      if (args.size() < lo || args.size() > hi)
        corrupt(fmt::format("'{}' called with {} arguments", fn->s, args.size()));
    };
    switch (*allowed_global(fn->s)) {
      case Callable::kReconstruct: {
        // _reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills in.
        nargs(3, 3);
        if (args[0]->kind != Kind::kGlobal || allowed_global(args[0]->s) != Callable::kNdarray)
          refuse(fmt::format("_reconstruct of {}", args[0]->type_name()));
        return make(Kind::kArray);
      }
      case Callable::kDType: {
        nargs(1, 3);
        if (args[0]->kind != Kind::kStr) corrupt("numpy.dtype expects a type string");
        return make_dtype(args[0]->s);
      }
      case Callable::kScalar: {
        nargs(1, 2);
        NpyDTypeDesc dt = dtype_arg(args[0], "numpy scalar");
        if (args.size() < 2) corrupt("numpy scalar without data");
        return make_scalar(dt, args[1]);
      }
      case Callable::kFromBuffer: {
        // _frombuffer(buf, dtype, shape, order), protocol 5's in-band path for arrays.
        nargs(4, 4);
        NpyDTypeDesc dt = dtype_arg(args[1], "_frombuffer");
        if (dt.type == NpyDType::kObject) refuse("_frombuffer of an object dtype");
        std::vector<int64_t> shape = shape_arg(*args[2], "_frombuffer");
        bool fortran = args[3]->kind == Kind::kStr && args[3]->s == "F";
        auto v = make(Kind::kArray);
        v->array = array_from_bytes(dt, std::move(shape), latin1_bytes(*args[0], "_frombuffer"), fortran);
        return v;
      }
      case Callable::kCodecsEncode: {
        nargs(2, 2);
        if (args[0]->kind != Kind::kStr || args[1]->kind != Kind::kStr) corrupt("_codecs.encode expects (str, str)");
        const std::string& enc = args[1]->s;
        if (enc != "latin1" && enc != "latin-1" && enc != "iso-8859-1" && enc != "iso8859-1")
          refuse(fmt::format("_codecs.encode with encoding '{}' (only latin1)", printable(enc)));
        return make_bytes(latin1_bytes(*args[0], "_codecs.encode"));
      }
      case Callable::kOrderedDict: {
        nargs(0, 1);
        auto d = make(Kind::kDict);
        if (args.size() == 1) {
          if (args[0]->kind != Kind::kList && args[0]->kind != Kind::kTuple) corrupt("OrderedDict expects a list of pairs");
          for (const auto& pair : args[0]->items) {
            if ((pair->kind != Kind::kTuple && pair->kind != Kind::kList) || pair->items.size() != 2)
              corrupt("OrderedDict expects a list of pairs");
            set_item(d, pair->items[0], pair->items[1]);
          }
        }
        return d;
      }
      case Callable::kSet:
      case Callable::kFrozenSet: {
        nargs(0, 1);
        auto s = make(Kind::kSet);
        if (args.size() == 1) {
          if (args[0]->kind != Kind::kList && args[0]->kind != Kind::kTuple && args[0]->kind != Kind::kSet)
            corrupt("set expects a list");
          add_to_set(s, args[0]->items);
        }
        return s;
      }
      case Callable::kBytes:
      case Callable::kByteArray: {
        nargs(0, 2);
        if (args.empty()) return make_bytes("");
        if (args.size() == 2 && args[1]->kind == Kind::kStr && args[1]->s != "latin1" && args[1]->s != "latin-1")
          refuse(fmt::format("bytes with encoding '{}' (only latin1)", printable(args[1]->s)));
        return make_bytes(latin1_bytes(*args[0], "bytes"));
      }
      case Callable::kNdarray: break;
    }
    refuse(fmt::format("a call of '{}'", fn->s));
  }

  void build(const PyValuePtr& obj, const PyValuePtr& state) {
    require_mutable(obj, "BUILD");
    if (obj->kind == Kind::kArray) {
      if (obj->array) refuse("a second BUILD of an ndarray");
      // ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata)); version is optional.
      if (state->kind != Kind::kTuple || (state->items.size() != 5 && state->items.size() != 4))
        corrupt(fmt::format("ndarray state is a {}, expected a 4- or 5-tuple", state->type_name()));
      const std::size_t o = state->items.size() == 5 ? 1 : 0;
      std::vector<int64_t> shape = shape_arg(*state->items[o], "ndarray state");
      NpyDTypeDesc dt = dtype_arg(state->items[o + 1], "ndarray state");
      const PyValue& fortran_v = *state->items[o + 2];
      const bool fortran = fortran_v.kind == Kind::kBool ? fortran_v.b : fortran_v.kind == Kind::kInt && fortran_v.i != 0;
      const PyValuePtr& raw = state->items[o + 3];
      if (dt.type == NpyDType::kObject) {
        // Object arrays carry a list of the elements in C order (numpy's _getlist_pkl iterates
        // logically, whatever the memory order).
        if (raw->kind != Kind::kList) corrupt(fmt::format("object ndarray state holds {}, expected a list", raw->type_name()));
        const int64_t n = npy_detail::checked_size(shape, src_);
        if (static_cast<uint64_t>(n) != raw->items.size())
          corrupt(fmt::format("object ndarray of shape {} holds {} elements", npy_detail::shape_repr(shape), raw->items.size()));
        auto arr = std::make_shared<NpyArray>();
        arr->dtype = NpyDType::kObject;
        arr->shape = std::move(shape);
        arr->objects = raw->items;
        bool all_str = true;
        for (const auto& item : arr->objects) {
          adopt(obj, item);
          all_str = all_str && item->kind == Kind::kStr;
        }
        if (all_str) {
          arr->strings.reserve(arr->objects.size());
          for (const auto& item : arr->objects) arr->strings.push_back(item->s);
        }
        obj->array = std::move(arr);
      } else {
        obj->array = array_from_bytes(dt, std::move(shape), latin1_bytes(*raw, "ndarray data"), fortran);
      }
      return;
    }
    if (obj->kind == Kind::kDType) {
      // dtype.__setstate__((version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]))
      if (state->kind != Kind::kTuple || state->items.size() < 5)
        corrupt(fmt::format("numpy.dtype state is a {}", state->type_name()));
      const auto& it = state->items;
      if (it[1]->kind != Kind::kStr) corrupt("numpy.dtype state without a byte order");
      for (std::size_t k = 2; k <= 4; ++k)
        if (it[k]->kind != Kind::kNone) refuse("a structured or sub-array numpy dtype");
      obj->dtype.big_endian = it[1]->s == ">" && obj->dtype.item_size > 1 && obj->dtype.type != NpyDType::kObject &&
                              !obj->dtype.byte_string;
      return;
    }
    if (obj->kind == Kind::kDict && (state->kind == Kind::kNone || (state->kind == Kind::kDict && state->dict.empty())))
      return;  // OrderedDict with no instance attributes
    refuse(fmt::format("BUILD of a {} (object state)", obj->type_name()));
  }

  // ---- the opcode loop ----
  void step(uint8_t op) {
    switch (op) {
      case kProto: {
        const uint8_t proto = take(1)[0];
        if (proto > 5) refuse(fmt::format("pickle protocol {}", proto));
        return;
      }
      case kFrame: {
        // A framing hint; frames only group opcodes, so we read straight through them.
        uint64_t n = le(8);
        if (n > b_.size() - pos_) corrupt("truncated pickle (frame longer than the data)");
        return;
      }
      case kMark: marks_.push_back(stack_.size()); return;
      case kPop:
        if (!marks_.empty() && marks_.back() == stack_.size()) marks_.pop_back();
        else (void)pop();
        return;
      case kPopMark: (void)pop_mark(); return;
      case kDup: push(top()); return;

      case kNone: push(make(Kind::kNone)); return;
      case kNewTrue: push(make_bool(true)); return;
      case kNewFalse: push(make_bool(false)); return;
      case kBinInt: push(make_int(static_cast<int32_t>(static_cast<uint32_t>(le(4))))); return;
      case kBinInt1: push(make_int(static_cast<int64_t>(le(1)))); return;
      case kBinInt2: push(make_int(static_cast<int64_t>(le(2)))); return;
      case kLong1:
      case kLong4: {
        const uint64_t n = op == kLong1 ? le(1) : le(4);
        if (n > 8) refuse(fmt::format("an integer of {} bytes (more than 64 bits)", n));
        auto p = take(n);
        uint64_t v = 0;
        for (std::size_t k = 0; k < n; ++k) v |= uint64_t{p[k]} << (8 * k);
        if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
        push(make_int(static_cast<int64_t>(v)));
        return;
      }
      case kBinFloat: {
        uint64_t bits = 0;
        for (uint8_t c : take(8)) bits = bits << 8 | c;  // big-endian
        double d;
        std::memcpy(&d, &bits, 8);
        auto v = make(Kind::kFloat);
        v->f = d;
        push(v);
        return;
      }

      case kBinUnicode: push(make_str(text(le(4)))); return;
      case kShortBinUnicode: push(make_str(text(le(1)))); return;
      case kBinUnicode8: push(make_str(text(le(8)))); return;
      case kUnicode: push(make_str(raw_unicode_escape(line()))); return;
      case kBinString: {
        const auto n = static_cast<int32_t>(static_cast<uint32_t>(le(4)));
        if (n < 0) corrupt("negative BINSTRING length");
        push(make_str(latin1_to_utf8(text(static_cast<uint64_t>(n)))));  // Python 2 str, as np.load(encoding='latin1')
        return;
      }
      case kShortBinString: push(make_str(latin1_to_utf8(text(le(1))))); return;
      case kBinBytes: push(make_bytes(text(le(4)))); return;
      case kShortBinBytes: push(make_bytes(text(le(1)))); return;
      case kBinBytes8:
      case kByteArray8: push(make_bytes(text(le(8)))); return;

      case kEmptyTuple: push(make(Kind::kTuple)); return;
      case kTuple: push(make_tuple(pop_mark())); return;
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        std::size_t n = op - kTuple1 + 1u;
        std::vector<PyValuePtr> items(n);
        for (std::size_t k = n; k-- > 0;) items[k] = pop();
        push(make_tuple(std::move(items)));
        return;
      }
      case kEmptyList: push(make(Kind::kList)); return;
      case kList: {
        auto items = pop_mark();
        auto l = make(Kind::kList);
        for (const auto& item : items) adopt(l, item);
        l->items = std::move(items);
        push(l);
        return;
      }
      case kAppend: {
        PyValuePtr v = pop();
        const PyValuePtr& l = top();
        if (l->kind != Kind::kList) refuse(fmt::format("APPEND to a {}", l->type_name()));
        require_mutable(l, "APPEND");
        adopt(l, v);
        l->items.push_back(std::move(v));
        return;
      }
      case kAppends: {
        auto items = pop_mark();
        const PyValuePtr& l = top();
        if (l->kind != Kind::kList) refuse(fmt::format("APPENDS to a {}", l->type_name()));
        require_mutable(l, "APPENDS");
        for (auto& item : items) {
          adopt(l, item);
          l->items.push_back(std::move(item));
        }
        return;
      }
      case kEmptyDict: push(make(Kind::kDict)); return;
      case kDict: {
        auto items = pop_mark();
        if (items.size() % 2 != 0) corrupt("DICT with an odd number of items");
        auto d = make(Kind::kDict);
        for (std::size_t k = 0; k < items.size(); k += 2) set_item(d, items[k], items[k + 1]);
        push(d);
        return;
      }
      case kSetItem: {
        PyValuePtr value = pop();
        PyValuePtr key = pop();
        set_item(top(), std::move(key), std::move(value));
        return;
      }
      case kSetItems: {
        auto items = pop_mark();
        if (items.size() % 2 != 0) corrupt("SETITEMS with an odd number of items");
        const PyValuePtr& d = top();
        for (std::size_t k = 0; k < items.size(); k += 2) set_item(d, items[k], items[k + 1]);
        return;
      }
      case kEmptySet: push(make(Kind::kSet)); return;
      case kAddItems: {
        auto items = pop_mark();
        const PyValuePtr& s = top();
        if (s->kind != Kind::kSet) refuse(fmt::format("ADDITEMS to a {}", s->type_name()));
        require_mutable(s, "ADDITEMS");
        add_to_set(s, std::move(items));
        return;
      }
      case kFrozenSet: {
        auto items = pop_mark();
        auto s = make(Kind::kSet);
        add_to_set(s, std::move(items));
        push(s);
        return;
      }

      case kGlobal: {
        std::string module = line();
        std::string name = line();
        push_global(module + "." + name);
        return;
      }
      case kStackGlobal: {
        PyValuePtr name = pop();
        PyValuePtr module = pop();
        if (module->kind != Kind::kStr || name->kind != Kind::kStr) corrupt("STACK_GLOBAL expects two str");
        push_global(module->s + "." + name->s);
        return;
      }
      case kReduce: {
        PyValuePtr args = pop();
        PyValuePtr fn = pop();
        push(call(fn, args));
        return;
      }
      case kNewObj: {
        PyValuePtr args = pop();
        PyValuePtr cls = pop();
        if (cls->kind == Kind::kGlobal) {
          Callable c = *allowed_global(cls->s);
          if (c == Callable::kOrderedDict || c == Callable::kSet || c == Callable::kFrozenSet) {
            push(call(cls, args));
            return;
          }
        }
        refuse(fmt::format("NEWOBJ of {}", cls->type_name()));
      }
      case kBuild: {
        PyValuePtr state = pop();
        build(top(), state);
        return;
      }

      case kBinPut: memo_put(le(1)); return;
      case kLongBinPut: memo_put(le(4)); return;
      case kMemoize: memo_put(memo_.size()); return;
      case kBinGet: memo_get(le(1)); return;
      case kLongBinGet: memo_get(le(4)); return;

      default: {
        const char c = static_cast<char>(op);
        refuse(op >= 0x20 && op < 0x7f ? fmt::format("opcode 0x{:02x} ('{}') at byte {}", op, c, op_pos_)
                                       : fmt::format("opcode 0x{:02x} at byte {}", op, op_pos_));
      }
    }
  }

  void push_global(const std::string& name) {
    if (!allowed_global(name)) refuse(fmt::format("global '{}'", printable(name)));
    auto g = make(Kind::kGlobal);
    g->s = name;
    push(g);
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) corrupt(fmt::format("memo key {} was never stored", index));
    push(it->second);
  }

  // The result must not contain callables or arrays that never received their state.
  void check_result(const PyValuePtr& root) {
    std::unordered_set<const PyValue*> seen;
    std::vector<const PyValue*> todo{root.get()};
    while (!todo.empty()) {
      const PyValue* v = todo.back();
      todo.pop_back();
      if (!seen.insert(v).second) continue;
      if (v->kind == Kind::kGlobal) refuse(fmt::format("a bare reference to '{}'", v->s));
      if (v->kind == Kind::kArray && !v->array) corrupt("an ndarray without state (missing BUILD)");
      for (const auto& item : v->items) todo.push_back(item.get());
      for (const auto& [k, val] : v->dict) {
        todo.push_back(k.get());
        todo.push_back(val.get());
      }
      if (v->kind == Kind::kArray)
        for (const auto& item : v->array->objects) todo.push_back(item.get());
    }
  }

  std::span<const uint8_t> b_;
  const std::string& src_;
  const UnpickleLimits& limits_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  std::size_t objects_ = 0;
  std::vector<PyValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, PyValuePtr> memo_;
  std::unordered_map<const PyValue*, Meta> meta_;
  std::vector<PyValuePtr> all_;
};

}  // namespace

PyValuePtr unpickle(std::span<const uint8_t> bytes, const std::string& source, const UnpickleLimits& limits) {
  return Unpickler(bytes, source, limits).run();
}

}  // namespace mosaic

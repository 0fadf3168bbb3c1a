#include "mosaic/json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "mosaic/errors.hpp"

namespace mosaic {
namespace {

using ::testing::HasSubstr;

// Expected strings below were produced once with CPython 3.11 (repr / json.dumps) and pasted
// here; the tests never call Python. Inputs are hex-float literals so that the double under test
// is exact and not itself the result of a decimal parse.
TEST(JsonFloatRepr, MatchesPythonRepr) {
  struct Case {
    double value;
    const char* repr;
  };
  const std::vector<Case> cases = {
      {0x1.0000000000000p+0, "1.0"},
      {0x0.0p+0, "0.0"},
      {-0x0.0p+0, "-0.0"},
      {0x1.a36e2eb1c432dp-14, "0.0001"},
      {0x1.4f8b588e368f1p-17, "1e-05"},
      {-0x1.4f8b588e368f1p-17, "-1e-05"},
      {0x1.a36e2eb1c432dp-15, "5e-05"},
      {0x1.421f5f40d8376p-23, "1.5e-07"},
      {0x1.ad7f29abcaf48p-24, "1e-07"},
      {0x0.0000000000001p-1022, "5e-324"},
      {0x0.0000000000003p-1022, "1.5e-323"},
      {0x1.c12218377de40p+46, "123456789012345.0"},
      {0x1.18b54f22aeb00p+50, "1234567890123456.0"},
      {0x1.1c37937e07fffp+53, "9999999999999998.0"},
      {0x1.1c37937e08000p+53, "1e+16"},
      {0x1.c6bf526340000p+49, "1000000000000000.0"},
      {0x1.6345785d8a000p+56, "1e+17"},
      {0x1.3333333333334p-2, "0.30000000000000004"},
      {0x1.999999999999ap-4, "0.1"},
      {0x1.999999999999ap-3, "0.2"},
      {0x1.5555555555555p-2, "0.3333333333333333"},
      {0x1.5555555555555p-1, "0.6666666666666666"},
      {-0x1.8000000000000p+0, "-1.5"},
      {0x1.9000000000000p+6, "100.0"},
      {0x1.e000000000000p+4, "30.0"},
      {0x1.9000000000000p+7, "200.0"},
      {0x1.0f0cf064dd592p+73, "1e+22"},
      {0x1.52d02c7e14af6p+76, "1e+23"},
      {0x1.b1ae4d6e2ef50p+69, "1e+21"},
      {0x1.0000000000000p+53, "9007199254740992.0"},
      {0x1.0000000000001p+53, "9007199254740994.0"},
      {0x1.0000000000000p+63, "9.223372036854776e+18"},
      {0x1.0000000000000p+64, "1.8446744073709552e+19"},
      {0x1.56a95319d63e1p+63, "1.2345678901234567e+19"},
      {0x1.9999999999999p-1, "0.7999999999999999"},
      {0x1.921fb54442d18p+1, "3.141592653589793"},
      {0x1.5bf0a8b145769p+1, "2.718281828459045"},
      {0x1.0000000000000p-1022, "2.2250738585072014e-308"},
      {0x0.fffffffffffffp-1022, "2.225073858507201e-308"},
      {0x1.fffffffffffffp+1023, "1.7976931348623157e+308"},
      {0x1.a36e2eb1c432cp-14, "9.999999999999999e-05"},
      {0x1.a36e2eb1c4334p-14, "0.0001000000000000001"},
      {0x1.0000000000001p+0, "1.0000000000000002"},
      {0x1.fffffffffffffp-1, "0.9999999999999999"},
      {0x1.99999a0000000p-4, "0.10000000149011612"},  // np.float32(0.1), §2.1 rule 6
      {0x1.5555560000000p-2, "0.3333333432674408"},
      {0x1.0624dd2f1a9fcp-10, "0.001"},
      {0x1.249ad2594c37dp+332, "1e+100"},
      {0x1.1eb2d66005835p+997, "1.5e+300"},
      {-0x1.12e0be826d695p-32, "-2.5e-10"},
      {0x1.edd2f1a9fbe77p+6, "123.456"},
      {0x1.9e3abe16fc70dp-17, "1.2345e-05"},
      {0x1.bb67ae8584caap-1, "0.8660254037844386"},
      {0x1.fe185ca57c517p+78, "6.02214076e+23"},
      {0x1.7a4da290c1653p-63, "1.602176634e-19"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(python_float_repr(c.value), c.repr) << "value " << c.repr;
  }
}

TEST(JsonFloatRepr, NonFiniteUseJsonDumpsSpellings) {
  EXPECT_EQ(python_float_repr(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(python_float_repr(-std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(python_float_repr(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(python_float_repr(-std::numeric_limits<double>::infinity()), "-Infinity");
}

// Property check over random bit patterns: the text parses back to the same double and follows
// the layout rules (fixed iff -4 <= exponent < 16, always a '.' in fixed form).
TEST(JsonFloatRepr, RoundTripsRandomDoubles) {
  std::mt19937_64 rng(20240807);
  for (int i = 0; i < 200000; ++i) {
    const double x = std::bit_cast<double>(rng());
    if (!std::isfinite(x)) continue;
    const std::string text = python_float_repr(x);
    double back = 0.0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), back);
    ASSERT_EQ(res.ec, std::errc()) << text;
    ASSERT_EQ(std::bit_cast<std::uint64_t>(back), std::bit_cast<std::uint64_t>(x)) << text;
    const double magnitude = std::fabs(x);
    const bool fixed = magnitude >= 1e-4 && magnitude < 1e16;
    ASSERT_EQ(text.find('e') == std::string::npos, fixed) << text;
    if (fixed) {
      ASSERT_NE(text.find('.'), std::string::npos) << text;
    }
  }
}

TEST(JsonDumps, ScalarsAndNumbers) {
  const Json doc = python_json_loads(
      "[9223372036854775807, -9223372036854775808, 18446744073709551615, 0, -0.0, NaN, "
      "Infinity, -Infinity, true, false, null, 1e16, 0.00001]");
  EXPECT_EQ(python_json_dumps(doc),
            "[9223372036854775807, -9223372036854775808, 18446744073709551615, 0, -0.0, NaN, "
            "Infinity, -Infinity, true, false, null, 1e+16, 1e-05]");
  EXPECT_EQ(python_json_dumps(Json(30)), "30");
  EXPECT_EQ(python_json_dumps(Json(30.0)), "30.0");
  EXPECT_EQ(python_json_dumps(Json(std::uint64_t{18446744073709551615ULL})),
            "18446744073709551615");
  EXPECT_EQ(python_json_dumps(Json("x")), "\"x\"");
}

TEST(JsonDumps, AllowNanFalseRefusesNonFinite) {
  PyDumpOptions strict;
  strict.allow_nan = false;
  EXPECT_EQ(python_json_dumps(Json(1.5), strict), "1.5");
  try {
    python_json_dumps(Json::array({1, std::numeric_limits<double>::infinity()}), strict);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("Out of range float values are not JSON compliant: Infinity"));
  }
}

TEST(JsonDumps, StringEscapesMatchPython) {
  // q"b\s/n<LF>r<CR>t<TAB>b<BS>f<FF><NUL><SOH><US><DEL> é€😀<U+10FFFF>
  const std::string s =
      "q\"b\\s/n\nr\rt\tb\bf\f" + std::string(1, '\0') +
      "\x01\x1f\x7f \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF";
  EXPECT_EQ(python_json_dumps(Json(s)),
            R"("q\"b\\s/n\nr\rt\tb\bf\f\u0000\u0001\u001f\u007f \u00e9\u20ac\ud83d\ude00\udbff\udfff")");
  PyDumpOptions raw;
  raw.ensure_ascii = false;
  // Without ensure_ascii Python leaves DEL and all non-ASCII as they are.
  EXPECT_EQ(python_json_dumps(Json(s), raw),
            std::string(R"("q\"b\\s/n\nr\rt\tb\bf\f\u0000\u0001\u001f)") +
                "\x7f \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"");
}

TEST(JsonDumps, CafeIsEscapedWithLowercaseHex) {
  EXPECT_EQ(python_json_dumps(Json("caf\xC3\xA9")), R"("caf\u00e9")");
  EXPECT_EQ(python_json_dumps(Json("\xEF\xBF\xBF")), R"("\uffff")");
  EXPECT_EQ(python_json_dumps(Json("a/b")), R"("a/b")");  // '/' is not escaped
}

TEST(JsonDumps, InvalidUtf8IsAnInputError) {
  for (const std::string bad : {"\xFF", "a\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    try {
      python_json_dumps(Json(bad));
      FAIL() << "expected InputError";
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr("not valid UTF-8"));
    }
  }
  Json object = Json::object();
  object["k\xFE"] = 1;  // keys are checked too
  EXPECT_THROW(python_json_dumps(object), InputError);
}

TEST(JsonDumps, SortKeysUsesCodePointOrder) {
  // Python sorts str by code point: U+FFFF sorts before U+1F600 (UTF-16 order would not).
  const Json keys = python_json_loads(
      R"({"z": 1, "Z": 2, "a": 3, "\u00e9": 4, "\uffff": 5, "\ud83d\ude00": 6, "_": 7, "A": 8, "": 9, "aa": 10, "a\u0000": 11})");
  PyDumpOptions sorted;
  sorted.sort_keys = true;
  EXPECT_EQ(python_json_dumps(keys, sorted),
            R"({"": 9, "A": 8, "Z": 2, "_": 7, "a": 3, "a\u0000": 11, "aa": 10, "z": 1, "\u00e9": 4, "\uffff": 5, "\ud83d\ude00": 6})");
  // Without sort_keys, insertion order.
  EXPECT_EQ(python_json_dumps(keys),
            R"({"z": 1, "Z": 2, "a": 3, "\u00e9": 4, "\uffff": 5, "\ud83d\ude00": 6, "_": 7, "A": 8, "": 9, "aa": 10, "a\u0000": 11})");
}

const char* const kNested =
    R"({"_params": {"window": 5, "sampling": {"fps_default": 30.0, "smooth_win": 0}, "empty_list": [], "empty_obj": {}, "nested": [[], {}, [1, [2.5, null]], {"k": true}]}, "_inputs": ["tracks", {"feature": "nn", "run_id": null}], "_frame_range": [null, null]})";

TEST(JsonDumps, CompactDefaultRoundTripsPythonOutput) {
  EXPECT_EQ(python_json_dumps(python_json_loads(kNested)), kNested);
}

TEST(JsonDumps, Indent2MatchesPython) {
  PyDumpOptions pretty;
  pretty.indent = 2;
  EXPECT_EQ(python_json_dumps(python_json_loads(kNested), pretty), R"({
  "_params": {
    "window": 5,
    "sampling": {
      "fps_default": 30.0,
      "smooth_win": 0
    },
    "empty_list": [],
    "empty_obj": {},
    "nested": [
      [],
      {},
      [
        1,
        [
          2.5,
          null
        ]
      ],
      {
        "k": true
      }
    ]
  },
  "_inputs": [
    "tracks",
    {
      "feature": "nn",
      "run_id": null
    }
  ],
  "_frame_range": [
    null,
    null
  ]
})");
}

TEST(JsonDumps, Indent2SortedMatchesPython) {
  PyDumpOptions pretty;
  pretty.sort_keys = true;
  pretty.indent = 2;
  EXPECT_EQ(python_json_dumps(python_json_loads(kNested), pretty), R"({
  "_frame_range": [
    null,
    null
  ],
  "_inputs": [
    "tracks",
    {
      "feature": "nn",
      "run_id": null
    }
  ],
  "_params": {
    "empty_list": [],
    "empty_obj": {},
    "nested": [
      [],
      {},
      [
        1,
        [
          2.5,
          null
        ]
      ],
      {
        "k": true
      }
    ],
    "sampling": {
      "fps_default": 30.0,
      "smooth_win": 0
    },
    "window": 5
  }
})");
}

TEST(JsonDumps, IndentZeroStillBreaksLines) {
  PyDumpOptions zero;
  zero.indent = 0;
  EXPECT_EQ(python_json_dumps(python_json_loads(R"({"a": [1, {}], "b": []})"), zero),
            "{\n\"a\": [\n1,\n{}\n],\n\"b\": []\n}");
}

TEST(JsonDumps, EmptyContainersAndTopLevelEmpty) {
  PyDumpOptions pretty;
  pretty.indent = 2;
  EXPECT_EQ(python_json_dumps(Json::object(), pretty), "{}");
  EXPECT_EQ(python_json_dumps(Json::array(), pretty), "[]");
  EXPECT_EQ(python_json_dumps(Json::object()), "{}");
}

TEST(JsonDumps, Params4_11Example) {
  // pipeline.md §4.11: params.json, indent 2, insertion order, no trailing newline.
  Json params = Json::object();
  params["_params"] = Json::object({{"window", 5}});
  params["_inputs"] = Json::array({"tracks"});
  params["_frame_range"] = Json::array({nullptr, nullptr});
  PyDumpOptions pretty;
  pretty.indent = 2;
  EXPECT_EQ(python_json_dumps(params, pretty), R"({
  "_params": {
    "window": 5
  },
  "_inputs": [
    "tracks"
  ],
  "_frame_range": [
    null,
    null
  ]
})");
}

TEST(JsonDumps, CustomSeparators) {
  PyDumpOptions compact;
  compact.item_separator = ",";
  compact.key_separator = ":";
  EXPECT_EQ(python_json_dumps(python_json_loads(R"({"a": [1, 2], "b": {"c": null}})"), compact),
            R"({"a":[1,2],"b":{"c":null}})");
}

TEST(JsonDumps, MetricJsonInsertionOrder) {
  // §8.2 metric_json: json.dumps(metrics) with default separators, insertion order.
  Json metrics = Json::object();
  metrics["loss"] = 0.5;
  metrics["acc"] = 1.0;
  metrics["lr"] = 1e-05;
  EXPECT_EQ(python_json_dumps(metrics), R"({"loss": 0.5, "acc": 1.0, "lr": 1e-05})");
}

TEST(JsonDumps, DeepNestingIsRefused) {
  Json deep = Json::array();
  for (int i = 0; i < 1500; ++i) deep = Json::array({std::move(deep)});
  EXPECT_THROW(python_json_dumps(deep), InputError);
}

TEST(JsonLoads, IntegersStayIntegersAndFloatsStayFloats) {
  const Json doc = python_json_loads("[30, 30.0, 1e2, 1E2, -0, -0.0, 0.5e-3, 18446744073709551615]");
  ASSERT_EQ(doc.size(), 8u);
  EXPECT_TRUE(doc[0].is_number_integer());
  EXPECT_TRUE(doc[1].is_number_float());
  EXPECT_TRUE(doc[2].is_number_float());
  EXPECT_EQ(doc[3].get<double>(), 100.0);
  EXPECT_TRUE(doc[4].is_number_integer());
  EXPECT_EQ(doc[4].get<std::int64_t>(), 0);
  EXPECT_TRUE(doc[5].is_number_float());
  EXPECT_TRUE(std::signbit(doc[5].get<double>()));
  EXPECT_EQ(doc[6].get<double>(), 0.0005);
  EXPECT_TRUE(doc[7].is_number_unsigned());
  EXPECT_EQ(python_json_dumps(doc), "[30, 30.0, 100.0, 100.0, 0, -0.0, 0.0005, 18446744073709551615]");
}

TEST(JsonLoads, AcceptsPythonNonFiniteLiterals) {
  const Json doc = python_json_loads(R"({"a": NaN, "b": Infinity, "c": -Infinity})");
  EXPECT_TRUE(std::isnan(doc["a"].get<double>()));
  EXPECT_EQ(doc["b"].get<double>(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(doc["c"].get<double>(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(python_json_dumps(doc), R"({"a": NaN, "b": Infinity, "c": -Infinity})");
}

TEST(JsonLoads, OutOfRangeFloatsBehaveLikePythonFloat) {
  const Json doc = python_json_loads("[1e400, -1e400, 1e-400, -1e-400, 2e-324, 3e-324, 0.0e999999999999]");
  EXPECT_EQ(python_json_dumps(doc), "[Infinity, -Infinity, 0.0, -0.0, 0.0, 5e-324, 0.0]");
}

TEST(JsonLoads, StringsDecodeEscapesAndSurrogatePairs) {
  const Json doc = python_json_loads(
      R"(["caf\u00e9", "\ud83d\ude00", "\/\b\f\n\r\t\"\\", "\u00E9", "raw é"])");
  EXPECT_EQ(doc[0].get<std::string>(), "caf\xC3\xA9");
  EXPECT_EQ(doc[1].get<std::string>(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(doc[2].get<std::string>(), "/\b\f\n\r\t\"\\");
  EXPECT_EQ(doc[3].get<std::string>(), "\xC3\xA9");
  EXPECT_EQ(doc[4].get<std::string>(), "raw \xC3\xA9");
}

TEST(JsonLoads, DuplicateKeysKeepFirstPositionAndLastValue) {
  const Json doc = python_json_loads(R"({"a": 1, "b": 2, "a": 3})");
  EXPECT_EQ(python_json_dumps(doc), R"({"a": 3, "b": 2})");
  // Also past the size at which the parser switches to a hash index.
  std::string text = "{";
  for (int i = 0; i < 40; ++i) text += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
  text += "\"k3\": \"last\"}";
  const Json big = python_json_loads(text);
  EXPECT_EQ(big.size(), 40u);
  EXPECT_EQ(big["k3"], "last");
  EXPECT_EQ(big.begin().key(), "k0");
}

TEST(JsonLoads, WhitespaceAroundValues) {
  EXPECT_EQ(python_json_dumps(python_json_loads(" \t\r\n{ \"a\" :\n[ 1 , 2 ] }\n ")),
            R"({"a": [1, 2]})");
}

void expect_parse_error(const std::string& text, const std::string& message) {
  try {
    python_json_loads(text);
    ADD_FAILURE() << "expected InputError for: " << text;
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr(message)) << "input: " << text;
  }
}

TEST(JsonLoads, RejectsWhatPythonRejectsWithItsMessages) {
  expect_parse_error("", "Expecting value: line 1 column 1 (byte 0)");
  expect_parse_error("[1,]", "Expecting value: line 1 column 4 (byte 3)");
  expect_parse_error("{\"a\": 1,}",
                     "Expecting property name enclosed in double quotes: line 1 column 9 (byte 8)");
  expect_parse_error("{'a': 1}", "Expecting property name enclosed in double quotes");
  expect_parse_error("{\"a\" 1}", "Expecting ':' delimiter: line 1 column 6 (byte 5)");
  expect_parse_error("[1 2]", "Expecting ',' delimiter: line 1 column 4 (byte 3)");
  expect_parse_error("01", "Extra data: line 1 column 2 (byte 1)");
  expect_parse_error("1.", "Extra data");
  expect_parse_error("[1]\n[2]", "Extra data: line 2 column 1 (byte 4)");
  expect_parse_error("nan", "Expecting value");
  expect_parse_error("-", "Expecting value");
  expect_parse_error("\"abc", "Unterminated string starting at: line 1 column 1 (byte 0)");
  expect_parse_error("\"a\nb\"", "Invalid control character at: line 1 column 3 (byte 2)");
  expect_parse_error(R"("\x41")", "Invalid \\escape: line 1 column 2 (byte 1)");
  expect_parse_error(R"("\u12G4")", "Invalid \\uXXXX escape: line 1 column 3 (byte 2)");
  expect_parse_error(R"("\ud800\u12G4")", "Invalid \\uXXXX escape: line 1 column 9 (byte 8)");
  expect_parse_error(R"("\ud800")", "Lone surrogate \\ud800");
  expect_parse_error(R"("\udc00\ud800")", "Lone surrogate \\udc00");
  expect_parse_error("\"\xFF\"", "Invalid UTF-8 byte 0xff");
  expect_parse_error("\xEF\xBB\xBF{}", "Unexpected UTF-8 BOM");
  expect_parse_error("18446744073709551616", "outside the int64/uint64 range");
  expect_parse_error("-9223372036854775809", "outside the int64/uint64 range");
  expect_parse_error(std::string(1500, '['), "nesting deeper than 1000 levels");
}

}  // namespace
}  // namespace mosaic

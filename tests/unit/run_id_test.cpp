#include "mosaic/run_id.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "mosaic/json.hpp"

namespace mosaic {
namespace {

Json tracks_payload() {
  // {"_params": {}, "_inputs": ["tracks"], "_frame_range": [null, null]}
  Json payload = Json::object();
  payload["_params"] = Json::object();
  payload["_inputs"] = Json::array({"tracks"});
  payload["_frame_range"] = Json::array({nullptr, nullptr});
  return payload;
}

TEST(RunIdSha1, KnownDigests) {
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

// pipeline.md §2.2 test vectors (computed with CPython's json).
TEST(RunIdVectors, EmptyDict) {
  EXPECT_EQ(canonical_payload_string(Json::object()), "{}");
  EXPECT_EQ(hash_params(Json::object()), "bf21a9e8fb");
}

TEST(RunIdVectors, EmptyParamsTracks) {
  const Json payload = tracks_payload();
  EXPECT_EQ(canonical_payload_string(payload),
            R"({"_frame_range": [null, null], "_inputs": ["tracks"], "_params": {}})");
  EXPECT_EQ(hash_params(payload), "3b632409e1");
  EXPECT_EQ(make_run_id("0.1", payload), "0.1-3b632409e1");
}

TEST(RunIdVectors, FrameRange5To15) {
  Json payload = tracks_payload();
  payload["_frame_range"] = Json::array({5, 15});
  EXPECT_EQ(hash_params(payload), "542e2383ea");
}

TEST(RunIdVectors, ScopeEntries) {
  Json payload = tracks_payload();
  payload["_scope_entries"] = Json::array({Json::array({"g", "s1"}), Json::array({"g", "s2"})});
  EXPECT_EQ(canonical_payload_string(payload),
            R"({"_frame_range": [null, null], "_inputs": ["tracks"], "_params": {}, )"
            R"("_scope_entries": [["g", "s1"], ["g", "s2"]]})");
  EXPECT_EQ(hash_params(payload), "8d94f85053");
}

TEST(RunIdVectors, MixedParamsWithCafe) {
  Json payload = Json::object();
  payload["_params"] = Json::object();
  payload["_params"]["window"] = 5;
  payload["_params"]["fps"] = 30.0;
  payload["_params"]["scale"] = 1e-05;
  payload["_params"]["name"] = "caf\xC3\xA9";
  payload["_inputs"] = Json::array(
      {Json::object({{"feature", "speed-angvel__from__tracks"}, {"run_id", "0.1-abc"}})});
  payload["_frame_range"] = Json::array({nullptr, nullptr});
  EXPECT_EQ(canonical_payload_string(payload),
            R"({"_frame_range": [null, null], "_inputs": [{"feature": "speed-angvel__from__tracks", )"
            R"("run_id": "0.1-abc"}], "_params": {"fps": 30.0, "name": "caf\u00e9", )"
            R"("scale": 1e-05, "window": 5}})");
  EXPECT_EQ(hash_params(payload), "1f2d0be2ca");
}

TEST(RunIdVectors, NullUpstreamRunIdAndFrameRange) {
  Json payload = tracks_payload();
  payload["_inputs"] = Json::array({"tracks", Json::object({{"feature", "nn"}, {"run_id", nullptr}})});
  payload["_frame_range"] = Json::array({0, 900});
  EXPECT_EQ(hash_params(payload), "4e2b1e6c05");
}

// §2.2 names the hashes d40155d06d (float 30.0) and b61d05207c (int 30) without their payload.
// The payload, found by hashing candidates with CPython, is the tracks payload with
// _params = {"fps": 30.0} resp. {"fps": 30}.
TEST(RunIdVectors, FloatThirtyVersusIntThirty) {
  Json as_float = tracks_payload();
  as_float["_params"]["fps"] = 30.0;
  Json as_int = tracks_payload();
  as_int["_params"]["fps"] = 30;
  EXPECT_EQ(canonical_payload_string(as_float),
            R"({"_frame_range": [null, null], "_inputs": ["tracks"], "_params": {"fps": 30.0}})");
  EXPECT_EQ(canonical_payload_string(as_int),
            R"({"_frame_range": [null, null], "_inputs": ["tracks"], "_params": {"fps": 30}})");
  EXPECT_EQ(hash_params(as_float), "d40155d06d");
  EXPECT_EQ(hash_params(as_int), "b61d05207c");
}

// §2.2 "frames kmeans, n_frames=20, defaults (§9)": the §9.1 hash dict in insertion order.
TEST(RunIdVectors, FramesKmeansDefaults) {
  Json params = Json::object();
  params["n_frames"] = 20;
  params["method"] = "kmeans";
  params["start_frame"] = nullptr;
  params["end_frame"] = nullptr;
  params["candidate_step"] = 1;
  params["crop"] = nullptr;
  params["random_state"] = 42;
  params["kmeans_resize"] = Json::array({64, 64});
  params["kmeans_grayscale"] = true;
  params["kmeans_max_candidates"] = 5000;
  params["kmeans_batch_size"] = 1024;
  params["kmeans_max_iter"] = 100;
  params["kmeans_n_init"] = "auto";
  EXPECT_EQ(canonical_payload_string(params),
            R"({"candidate_step": 1, "crop": null, "end_frame": null, "kmeans_batch_size": 1024, )"
            R"("kmeans_grayscale": true, "kmeans_max_candidates": 5000, "kmeans_max_iter": 100, )"
            R"("kmeans_n_init": "auto", "kmeans_resize": [64, 64], "method": "kmeans", )"
            R"("n_frames": 20, "random_state": 42, "start_frame": null})");
  EXPECT_EQ(hash_params(params), "69035a927b");
  EXPECT_EQ(make_run_id("kmeans", params), "kmeans-69035a927b");
}

TEST(RunIdVectors, FramesUniformDefaults) {
  Json params = Json::object();
  params["n_frames"] = 100;
  params["method"] = "uniform";
  params["start_frame"] = nullptr;
  params["end_frame"] = nullptr;
  params["candidate_step"] = 1;
  params["crop"] = nullptr;
  params["random_state"] = 42;
  EXPECT_EQ(canonical_payload_string(params),
            R"({"candidate_step": 1, "crop": null, "end_frame": null, "method": "uniform", )"
            R"("n_frames": 100, "random_state": 42, "start_frame": null})");
  EXPECT_EQ(hash_params(params), "a797ec3569");
}

TEST(RunIdVectors, KeyOrderDoesNotMatter) {
  Json reordered = Json::object();
  reordered["_frame_range"] = Json::array({nullptr, nullptr});
  reordered["_params"] = Json::object();
  reordered["_inputs"] = Json::array({"tracks"});
  EXPECT_EQ(hash_params(reordered), hash_params(tracks_payload()));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Every identity the Python reference computed in the golden corpus: the payload string must
// survive loads -> dumps(sort_keys) byte for byte, and version + "-" + sha1[:10] is the run id.
TEST(RunIdGolden, AllIdentitiesReproduce) {
  const std::filesystem::path path =
      std::filesystem::path(MOSAIC_SOURCE_DIR "/../shared/golden/identities.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "needs ../shared/golden (absent)";
  const std::string raw = read_file(path);
  const Json identities = python_json_loads(raw);
  ASSERT_TRUE(identities.is_object());
  ASSERT_EQ(identities.size(), 210u);

  // The file itself was written by json.dump(..., indent=1): our writer reproduces it.
  PyDumpOptions file_options;
  file_options.indent = 1;
  EXPECT_EQ(python_json_dumps(identities, file_options), raw);

  int matched = 0;
  for (const auto& [name, identity] : identities.items()) {
    SCOPED_TRACE(name);
    const std::string payload_string = identity.at("hashed_payload_string").get<std::string>();
    const std::string run_id = identity.at("run_id").get<std::string>();
    const Json payload = python_json_loads(payload_string);
    const std::string canonical = canonical_payload_string(payload);
    EXPECT_EQ(canonical, payload_string);
    const std::size_t dash = run_id.rfind('-');
    ASSERT_NE(dash, std::string::npos);
    const std::string version = run_id.substr(0, dash);
    EXPECT_EQ(version + "-" + sha1_hex(payload_string).substr(0, 10), run_id);
    EXPECT_EQ(make_run_id(version, payload), run_id);
    if (canonical == payload_string && make_run_id(version, payload) == run_id) ++matched;
  }
  EXPECT_EQ(matched, 210);
}

TEST(RunIdStorageName, DerivesFromSuffix) {
  EXPECT_EQ(derive_storage_name("speed-angvel", "tracks"), "speed-angvel__from__tracks");
  EXPECT_EQ(derive_storage_name("global-tsne", "pair-wavelet__from__pair-egocentric"),
            "global-tsne__from__pair-wavelet__from__pair-egocentric");
  EXPECT_EQ(derive_storage_name("f", "tracks+sa"), "f__from__tracks+sa");
  EXPECT_EQ(derive_storage_name("body-scale", std::nullopt), "body-scale");
}

TEST(EntryKey, PercentEncodesLikeUrllibQuote) {
  EXPECT_EQ(to_safe_name("a/b c%d"), "a%2Fb%20c%25d");
  EXPECT_EQ(to_safe_name("/"), "%2F");
  EXPECT_EQ(to_safe_name("x y"), "x%20y");
  EXPECT_EQ(to_safe_name("%"), "%25");
  EXPECT_EQ(to_safe_name("caf\xC3\xA9"), "caf%C3%A9");
  EXPECT_EQ(to_safe_name("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(to_safe_name("A-Z_a.z~0"), "A-Z_a.z~0");
  EXPECT_EQ(to_safe_name("+plus"), "%2Bplus");
  EXPECT_EQ(to_safe_name("it's(1)*!"), "it%27s%281%29%2A%21");
  EXPECT_EQ(to_safe_name("\xF0\x9F\x98\x80"), "%F0%9F%98%80");
  EXPECT_EQ(to_safe_name("a__b"), "a__b");
}

TEST(EntryKey, StripsPythonWhitespace) {
  EXPECT_EQ(to_safe_name("  x y  "), "x%20y");
  EXPECT_EQ(to_safe_name("\t\n"), "");
  // str.strip() also removes U+3000, U+00A0 and the ASCII separators U+001C..U+001F.
  EXPECT_EQ(to_safe_name("\xE3\x80\x80x\xC2\xA0"), "x");
  EXPECT_EQ(to_safe_name("\x1cx\x1f"), "x");
  EXPECT_EQ(to_safe_name(" a b "), "a%20b");
}

TEST(EntryKey, FromSafeNameIsUrllibUnquote) {
  EXPECT_EQ(from_safe_name("%2F"), "/");
  EXPECT_EQ(from_safe_name("%2f"), "/");
  EXPECT_EQ(from_safe_name("%"), "%");
  EXPECT_EQ(from_safe_name("%2"), "%2");
  EXPECT_EQ(from_safe_name("%G1"), "%G1");
  EXPECT_EQ(from_safe_name("a%zz%41"), "a%zzA");
  EXPECT_EQ(from_safe_name("a+b"), "a+b");
  EXPECT_EQ(from_safe_name("%C3%A9"), "\xC3\xA9");
  EXPECT_EQ(from_safe_name("%E2%82%AC"), "\xE2\x82\xAC");
  EXPECT_EQ(from_safe_name("%F0%9F%98%80"), "\xF0\x9F\x98\x80");
  // errors="replace": one U+FFFD per maximal invalid subpart (values from CPython's unquote).
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(from_safe_name("%C3"), r);
  EXPECT_EQ(from_safe_name("%E2%82"), r);
  EXPECT_EQ(from_safe_name("%F0%9F%98"), r);
  EXPECT_EQ(from_safe_name("%FF%FE"), r + r);
  EXPECT_EQ(from_safe_name("%ED%A0%80"), r + r + r);
  EXPECT_EQ(from_safe_name("%C0%AF"), r + r);
  EXPECT_EQ(from_safe_name("%F4%90%80%80"), r + r + r + r);
  EXPECT_EQ(from_safe_name("%E2%28%A1"), r + "(" + r);
}

TEST(EntryKey, RoundTripsThroughSafeName) {
  for (const std::string name : {"a/b c%d", "caf\xC3\xA9", "m1__trial", "x~y.z-w_v",
                                 "\xF0\x9F\x98\x80 emoji", "100%"}) {
    EXPECT_EQ(from_safe_name(to_safe_name(name)), name);
  }
}

TEST(EntryKey, GroupAndSequence) {
  EXPECT_EQ(make_entry_key("g", "s1"), "g__s1");
  EXPECT_EQ(make_entry_key("", "s1"), "s1");
  EXPECT_EQ(make_entry_key("lab A", "m1/trial"), "lab%20A__m1%2Ftrial");
  EXPECT_EQ(make_entry_key("deepof_mice2", "madlc_CSDS_SI"), "deepof_mice2__madlc_CSDS_SI");
  EXPECT_EQ(make_entry_key(" g ", " s "), "g__s");
}

TEST(EntryKey, WhitespaceOnlyGroupAddsNoPrefix) {
  // The raw group "  " is non-empty, but its safe form is empty, so there is no "__" prefix.
  EXPECT_EQ(make_entry_key("  ", "s"), "s");
  EXPECT_EQ(make_entry_key("\t", "a b"), "a%20b");
}

TEST(EntryKey, DoubleUnderscoreCollisionIsKept) {
  // "__" is not escaped: these two distinct entries share one key, exactly as in Python.
  EXPECT_EQ(make_entry_key("a__b", "c"), "a__b__c");
  EXPECT_EQ(make_entry_key("a", "b__c"), "a__b__c");
  EXPECT_EQ(make_entry_key("a__b", "c"), make_entry_key("a", "b__c"));
}

}  // namespace
}  // namespace mosaic

#include "mosaic/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fmt/format.h>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/registry.hpp"
#include "mosaic/run_id.hpp"
#include "pipeline/manifest.hpp"
#include "pipeline/run_record.hpp"

namespace fs = std::filesystem;

namespace mosaic {

// ---- StepRunOptions ----------------------------------------------------------------------------------

StepRunOptions StepRunOptions::merged(const StepRunOptions& o) const {
  StepRunOptions m = *this;
  if (o.groups) m.groups = o.groups;
  if (o.sequences) m.sequences = o.sequences;
  if (o.overwrite) m.overwrite = o.overwrite;
  if (o.parallel_workers) m.parallel_workers = o.parallel_workers;
  if (o.parallel_mode) m.parallel_mode = o.parallel_mode;
  if (o.overlap_frames) m.overlap_frames = o.overlap_frames;
  if (o.filter_start_frame) m.filter_start_frame = o.filter_start_frame;
  if (o.filter_end_frame) m.filter_end_frame = o.filter_end_frame;
  if (o.filter_start_time) m.filter_start_time = o.filter_start_time;
  if (o.filter_end_time) m.filter_end_time = o.filter_end_time;
  return m;
}

namespace {

const std::vector<std::string>& run_option_keys() {
  static const std::vector<std::string> keys{"groups",          "sequences",         "overwrite",
                                             "parallel_workers", "parallel_mode",     "overlap_frames",
                                             "filter_start_frame", "filter_end_frame", "filter_start_time",
                                             "filter_end_time"};
  return keys;
}

std::set<std::string> string_set(const Json& v, const std::string& where) {
  std::set<std::string> out;
  if (v.is_string()) {
    out.insert(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) throw InputError(fmt::format("{}: expected a list of names, got {}", where, v.dump()));
  for (const auto& x : v) {
    if (!x.is_string()) throw InputError(fmt::format("{}: expected names (strings), got {}", where, x.dump()));
    out.insert(x.get<std::string>());
  }
  return out;
}

int64_t integer(const Json& v, const std::string& where) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && v.get<double>() == std::floor(v.get<double>())) return static_cast<int64_t>(v.get<double>());
  throw InputError(fmt::format("{}: expected an integer, got {}", where, v.dump()));
}

double number(const Json& v, const std::string& where) {
  if (v.is_number()) return v.get<double>();
  throw InputError(fmt::format("{}: expected a number, got {}", where, v.dump()));
}

}  // namespace

StepRunOptions StepRunOptions::from_json(const Json& j, const std::string& where) {
  StepRunOptions o;
  if (j.is_null()) return o;
  if (!j.is_object()) throw InputError(fmt::format("{}: run options must be a mapping, got {}", where, j.dump()));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const Json& v = it.value();
    std::string at = where + "." + k;
    if (v.is_null()) continue;
    if (k == "groups") o.groups = string_set(v, at);
    else if (k == "sequences") o.sequences = string_set(v, at);
    else if (k == "overwrite") {
      if (!v.is_boolean()) throw InputError(fmt::format("{}: expected true or false, got {}", at, v.dump()));
      o.overwrite = v.get<bool>();
    } else if (k == "parallel_workers") o.parallel_workers = static_cast<int>(integer(v, at));
    else if (k == "parallel_mode") {
      if (!v.is_string()) throw InputError(fmt::format("{}: expected \"thread\" or \"process\", got {}", at, v.dump()));
      o.parallel_mode = v.get<std::string>();
    } else if (k == "overlap_frames") o.overlap_frames = integer(v, at);
    else if (k == "filter_start_frame") o.filter_start_frame = integer(v, at);
    else if (k == "filter_end_frame") o.filter_end_frame = integer(v, at);
    else if (k == "filter_start_time") o.filter_start_time = number(v, at);
    else if (k == "filter_end_time") o.filter_end_time = number(v, at);
    else {
      std::string hint = did_you_mean(k, run_option_keys());
      throw InputError(fmt::format("{}: unknown run option '{}'{}; expected one of: {}", where, k,
                                   hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                                   join_names(run_option_keys())));
    }
  }
  return o;
}

Json StepRunOptions::to_json() const {
  Json j = Json::object();
  auto set_list = [&](const char* k, const std::optional<std::set<std::string>>& s) {
    if (!s) return;
    Json a = Json::array();
    for (const auto& x : *s) a.push_back(x);
    j[k] = a;
  };
  set_list("groups", groups);
  set_list("sequences", sequences);
  if (overwrite) j["overwrite"] = *overwrite;
  if (parallel_workers) j["parallel_workers"] = *parallel_workers;
  if (parallel_mode) j["parallel_mode"] = *parallel_mode;
  if (overlap_frames) j["overlap_frames"] = *overlap_frames;
  if (filter_start_frame) j["filter_start_frame"] = *filter_start_frame;
  if (filter_end_frame) j["filter_end_frame"] = *filter_end_frame;
  if (filter_start_time) j["filter_start_time"] = *filter_start_time;
  if (filter_end_time) j["filter_end_time"] = *filter_end_time;
  return j;
}

void StepRunOptions::apply_to(RunOptions& o) const {
  o.groups = groups;
  o.sequences = sequences;
  if (overwrite) o.overwrite = *overwrite;
  if (parallel_workers) o.parallel_workers = *parallel_workers;
  if (parallel_mode) o.parallel_mode = *parallel_mode;
  if (overlap_frames) o.overlap_frames = *overlap_frames;
  o.start_frame = filter_start_frame;
  o.end_frame = filter_end_frame;
  o.start_time = filter_start_time;
  o.end_time = filter_end_time;
}

// ---- Building the DAG --------------------------------------------------------------------------------

void Pipeline::check_new_step(const std::string& name, const std::vector<std::string>& upstream) const {
  if (name.empty()) throw InputError("a pipeline step needs a name");
  auto names = step_names();
  if (std::find(names.begin(), names.end(), name) != names.end())
    throw InputError(fmt::format("Duplicate step name: '{}'", name));
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  for (const auto& u : upstream) {
    if (u == "tracks") continue;
    if (std::find(names.begin(), names.end(), u) == names.end()) {
      std::string hint = did_you_mean(u, names);
      throw InputError(fmt::format("Step '{}' references unknown upstream '{}'{}. Available: [{}]", name, u,
                                   hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint), join_names(sorted)));
    }
  }
}

std::vector<std::string> param_step_refs(const Json& params) {
  std::vector<std::string> out;
  if (!params.is_object()) return out;
  for (auto it = params.begin(); it != params.end(); ++it)
    if (it.value().is_object() && it.value().contains("step") && it.value()["step"].is_string())
      out.push_back(it.value()["step"].get<std::string>());
  return out;
}

Pipeline& Pipeline::add(FeatureStep step) {
  auto refs = param_step_refs(step.params);
  std::vector<std::string> upstream = step.input_names;
  upstream.insert(upstream.end(), refs.begin(), refs.end());
  check_new_step(step.name, upstream);
  (void)find_feature(step.feature);  // unknown feature names fail here, with a did-you-mean
  Step s;
  s.refs = std::move(refs);
  s.feature = std::move(step);
  steps_.push_back(std::move(s));
  return *this;
}

Pipeline& Pipeline::add(CallbackStep step) {
  check_new_step(step.name, step.depends_on);
  Step s;
  s.is_callback = true;
  s.callback = std::move(step);
  steps_.push_back(std::move(s));
  return *this;
}

std::vector<std::pair<std::string, std::vector<std::string>>> Pipeline::dag() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& s : steps_) out.emplace_back(s.name(), s.upstream());
  return out;
}

std::vector<std::string> Pipeline::step_names() const {
  std::vector<std::string> out;
  for (const auto& s : steps_) out.push_back(s.name());
  return out;
}

std::set<std::string> Pipeline::downstream_of(const std::string& name) const {
  std::set<std::string> out{name};
  // Steps are in topological order, so one forward pass finds every transitive child.
  for (const auto& s : steps_)
    for (const auto& u : s.upstream())
      if (out.count(u)) out.insert(s.name());
  return out;
}

std::unique_ptr<Feature> Pipeline::build_feature(const FeatureStep& step,
                                                 const std::map<std::string, Result>& upstream) const {
  std::optional<Inputs> inputs;
  if (!step.input_names.empty()) {
    std::vector<InputItem> items;
    for (const auto& n : step.input_names) {
      if (n == "tracks") {
        items.emplace_back(std::monostate{});
        continue;
      }
      auto it = upstream.find(n);
      if (it == upstream.end())
        throw InputError(fmt::format("step '{}': upstream '{}' is not a feature step with a result", step.name, n));
      items.emplace_back(it->second);
    }
    inputs = Inputs(std::move(items));
  }
  // {"step": name, ...} in params stands for that step's result.
  Json params = step.params;
  if (params.is_object()) {
    for (auto it = params.begin(); it != params.end(); ++it) {
      Json& v = it.value();
      if (!v.is_object() || !v.contains("step") || !v["step"].is_string()) continue;
      std::string ref = v["step"].get<std::string>();
      auto up = upstream.find(ref);
      if (up == upstream.end())
        throw InputError(fmt::format("step '{}': parameter '{}' refers to step '{}', which has no result yet", step.name,
                                     it.key(), ref));
      Json resolved = Json::object();
      resolved["feature"] = up->second.feature;
      resolved["run_id"] = up->second.run_id ? Json(*up->second.run_id) : Json();
      for (auto kv = v.begin(); kv != v.end(); ++kv)
        if (kv.key() != "step") resolved[kv.key()] = kv.value();
      v = resolved;
    }
  }
  return make_feature(step.feature, inputs, params);
}

// ---- Cache resolution --------------------------------------------------------------------------------

namespace {

std::string format_mtime(fs::file_time_type t) {
  auto sys = std::chrono::time_point_cast<std::chrono::seconds>(t - fs::file_time_type::clock::now() +
                                                                std::chrono::system_clock::now());
  std::time_t tt = std::chrono::system_clock::to_time_t(sys);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

}  // namespace

std::vector<StepStatus> Pipeline::resolve(const Dataset& ds, const std::set<std::string>& forced) const {
  std::vector<StepStatus> out;
  std::map<std::string, Result> expected;
  std::map<std::string, bool> cached_of;
  std::set<std::string> stale;
  auto mark_children_stale = [&](const std::string& name) {
    for (const auto& s : steps_)
      for (const auto& u : s.upstream())
        if (u == name) stale.insert(s.name());
  };
  fs::path features_root = ds.root("features");
  for (const auto& s : steps_) {
    StepStatus st;
    st.step = s.name();
    if (s.is_callback) {
      st.is_callback = true;
      st.feature = "(callback)";
      st.stale = stale.count(st.step) > 0;
      if (st.stale) mark_children_stale(st.step);
      out.push_back(st);
      continue;
    }
    const FeatureStep& fstep = s.feature;
    st.feature = fstep.feature;
    st.stale = stale.count(st.step) > 0 || forced.count(st.step) > 0;
    try {
      // Upstream ids are known when every upstream step has an expected id; their outputs exist
      // when they are cached. The scope (and so a scope-dependent id, and the cache check) needs
      // the outputs; other ids only need the upstream ids (DECISIONS P3: always concrete).
      bool ids_known = true, outputs_ready = true;
      for (const auto& u : s.upstream()) {
        if (u == "tracks") continue;
        auto e = expected.find(u);
        if (e == expected.end() || !e->second.run_id) ids_known = false;
        if (!cached_of[u]) outputs_ready = false;
      }
      auto feature = build_feature(fstep, expected);
      st.storage = storage_name_of(*feature);
      RunOptions opt;
      defaults_.merged(fstep.run_options).apply_to(opt);
      auto range = resolve_frame_range(ds.fps_default(), opt.start_frame, opt.end_frame, opt.start_time, opt.end_time);
      Manifest manifest;
      bool have_manifest = false;
      if (ids_known) {
        pin_upstream_runs(ds, *feature);  // references to runs outside the pipeline
        if (outputs_ready) {
          if (!feature->inputs().empty()) manifest = build_manifest(ds, feature->inputs(), opt.groups, opt.sequences);
          have_manifest = true;
        }
        if (have_manifest || !feature->info().scope_dependent) {
          Json payload = run_payload(*feature, range, &manifest.scope);
          st.expected_run_id = feature->info().version + "-" + hash_params(payload);
        }
      }
      expected[st.step] = Result{st.storage, st.expected_run_id.empty() ? std::nullopt
                                                                        : std::optional<std::string>(st.expected_run_id)};
      fs::path index_path = features_root / st.storage / "index.csv";
      FeatureIndex index(index_path);
      st.runs = static_cast<int64_t>(index.run_ids().size());
      if (!st.expected_run_id.empty()) {
        fs::path run_root = features_root / st.storage / st.expected_run_id;
        st.run_dir_exists = fs::is_directory(run_root);
        if (have_manifest && st.run_dir_exists) {
          CacheCheck check = check_run_cached(index_path, run_root, st.expected_run_id, manifest);
          st.n_seq = check.entries_with_output;
          st.scope_entries = static_cast<int64_t>(manifest.entries.size());
          st.cached = check.cached;
          st.modified = check.newest;
        }
      }
    } catch (const Error& e) {
      st.error = e.what();
      st.cached = false;
    }
    if (st.stale) st.cached = false;
    cached_of[st.step] = st.cached;
    if (!st.cached) mark_children_stale(st.step);
    out.push_back(st);
  }
  return out;
}

std::vector<StepStatus> Pipeline::status(const Dataset& dataset) const { return resolve(dataset, {}); }

StepResults Pipeline::load(const Dataset& dataset) const {
  StepResults results;
  auto statuses = resolve(dataset, {});
  std::vector<std::string> loaded, missing;
  std::size_t total = 0;
  for (const auto& st : statuses) {
    if (st.is_callback) continue;
    ++total;
    if (st.cached) {
      results[st.step] = Result{st.storage, st.expected_run_id};
      loaded.push_back(st.step);
    } else {
      missing.push_back(st.step + (st.stale ? " (stale (upstream changed))" : " (not cached)"));
    }
  }
  std::printf("Pipeline.load: %zu/%zu steps loaded\n", loaded.size(), total);
  if (!loaded.empty()) std::printf("  Loaded: %s\n", join_names(loaded).c_str());
  if (!missing.empty()) std::printf("  Missing: %s\n", join_names(missing).c_str());
  return results;
}

StepResults Pipeline::run(const Dataset& dataset, const std::optional<std::string>& force_from,
                          const PipelineHooks& hooks) const {
  std::set<std::string> forced;
  if (force_from) {
    auto names = step_names();
    if (std::find(names.begin(), names.end(), *force_from) == names.end())
      throw InputError(fmt::format("force_from='{}' is not a known step. Available: [{}]", *force_from,
                                   join_names(names)));
    forced = downstream_of(*force_from);
  }
  auto statuses = resolve(dataset, forced);
  std::optional<FeatureRegistry> registry;
  try {
    registry.emplace(FeatureRegistry::open(dataset.root("features")));
  } catch (const Error& e) {
    if (hooks.log) std::fprintf(stderr, "[pipeline] registry unavailable: %s\n", e.what());
  }
  StepResults results;
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    StepStatus st = statuses[i];
    if (hooks.on_step_start) hooks.on_step_start(st);
    if (s.is_callback) {
      if (hooks.log) std::printf("  [%s] running callback...\n", st.step.c_str());
      std::fflush(stdout);
      s.callback.fn(dataset, results);
      if (hooks.on_step_end) hooks.on_step_end(st, nullptr);
      continue;
    }
    auto feature = build_feature(s.feature, results);
    if (st.cached && !forced.count(st.step)) {
      results[st.step] = Result{st.storage, st.expected_run_id};
      if (hooks.log) std::printf("  [%s] %s -> %s (cached)\n", st.step.c_str(), feature->info().python_class.empty() ? s.feature.feature.c_str() : feature->info().python_class.c_str(), st.expected_run_id.c_str());
      if (hooks.on_step_end) hooks.on_step_end(st, nullptr);
      continue;
    }
    RunOptions opt;
    defaults_.merged(s.feature.run_options).apply_to(opt);
    if (forced.count(st.step)) opt.overwrite = true;
    if (registry) opt.registry = &*registry;
    opt.log = hooks.log && !hooks.on_progress;
    if (hooks.on_progress) opt.on_progress = [&](const RunProgress& p) { hooks.on_progress(st, p); };
    if (hooks.log) {
      std::printf("  [%s] %s ...", st.step.c_str(),
                  feature->info().python_class.empty() ? s.feature.feature.c_str() : feature->info().python_class.c_str());
      std::fflush(stdout);
    }
    RunResult rr = run_feature(dataset, *feature, opt);
    if (hooks.log) std::printf(" -> %s\n", rr.result.run_id->c_str());
    results[st.step] = rr.result;
    if (hooks.on_step_end) hooks.on_step_end(st, &rr);
    if (!rr.failures.empty()) {
      std::string list;
      for (const auto& f : rr.failures) list += fmt::format("\n  {}/{}: {}", f.group, f.sequence, f.message);
      // DECISIONS P6: a step with failed entries is not finished, and its dependants cannot run on it.
      throw StateError(fmt::format("step '{}' ({}): {} entr{} failed; downstream steps were not run:{}", st.step,
                                   rr.result.feature, rr.failures.size(), rr.failures.size() == 1 ? "y" : "ies", list));
    }
  }
  return results;
}

// ---- Clean -------------------------------------------------------------------------------------------

std::vector<CleanRow> Pipeline::clean(const Dataset& ds, bool dry_run) const {
  auto statuses = resolve(ds, {});
  fs::path features_root = ds.root("features");
  // DECISIONS P5: every run any step expects is kept, whichever step shares the storage.
  std::map<std::string, std::set<std::string>> expected_by_storage;
  std::map<std::string, std::string> first_step;
  std::vector<std::string> storages;
  for (const auto& st : statuses) {
    if (st.is_callback || st.storage.empty()) continue;
    if (!st.expected_run_id.empty()) expected_by_storage[st.storage].insert(st.expected_run_id);
    if (!first_step.count(st.storage)) {
      first_step[st.storage] = st.step;
      storages.push_back(st.storage);
    }
  }
  std::vector<CleanRow> rows;
  for (const auto& storage : storages) {
    FeatureIndex index(features_root / storage / "index.csv");
    if (!index.exists()) continue;
    std::vector<std::string> run_ids;
    try {
      run_ids = index.run_ids();
    } catch (const Error&) {
      continue;
    }
    const auto& keep = expected_by_storage[storage];
    const std::string& step = first_step[storage];
    std::string feature;
    for (const auto& st : statuses)
      if (st.step == step) feature = st.feature;
    for (const auto& id : run_ids) {
      CleanRow r;
      r.step = step;
      r.feature = feature;
      r.run_id = id;
      fs::path dir = features_root / storage / id;
      uintmax_t bytes = 0;
      std::optional<fs::file_time_type> newest;
      if (fs::is_directory(dir)) {
        for (const auto& e : fs::directory_iterator(dir)) {
          ++r.n_files;
          if (e.is_regular_file()) {
            bytes += e.file_size();
            auto t = e.last_write_time();
            if (!newest || t > *newest) newest = t;
          }
        }
      }
      r.size_mb = std::round(static_cast<double>(bytes) / 1048576.0 * 10) / 10;
      r.modified = newest ? format_mtime(*newest) : "";
      if (keep.count(id)) {
        r.status = "current";
      } else if (dry_run) {
        r.status = "would remove";
      } else {
        std::error_code ec;
        fs::remove_all(dir, ec);
        if (ec) throw IoError(fmt::format("{}: cannot remove: {}", dir.string(), ec.message()));
        r.status = "removed";
      }
      rows.push_back(r);
    }
    if (!dry_run)
      index.retain_rows([&](const TextCsv& csv, std::size_t row) { return keep.count(std::string(csv.cell(row, "run_id"))) > 0; });
  }
  return rows;
}

}  // namespace mosaic

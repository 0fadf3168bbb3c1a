#include "mosaic/run_feature.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fmt/format.h>
#include <future>
#include <mutex>
#include <thread>

#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/registry.hpp"
#include "mosaic/run_id.hpp"
#include "pipeline/manifest.hpp"
#include "pipeline/run_record.hpp"

namespace fs = std::filesystem;

namespace mosaic {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Json frame_range_json(const std::pair<std::optional<int64_t>, std::optional<int64_t>>& r) {
  Json a = Json::array();
  a.push_back(r.first ? Json(*r.first) : Json());
  a.push_back(r.second ? Json(*r.second) : Json());
  return a;
}

// The latest *finished* run of a storage (DECISIONS P3); nullopt when there is none.
std::optional<std::string> latest_finished_run(const fs::path& index_path) {
  if (!fs::exists(index_path)) return std::nullopt;
  TextCsv csv = TextCsv::read(index_path);
  std::string best_id, best_time;
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    std::string fin(csv.cell(r, "finished_at"));
    if (fin.empty()) continue;
    // Stable "descending by finished_at": the first row with the largest stamp wins.
    if (best_id.empty() || fin > best_time) {
      best_time = fin;
      best_id = std::string(csv.cell(r, "run_id"));
    }
  }
  if (best_id.empty()) return std::nullopt;
  return best_id;
}

std::string pin_one(const Dataset& ds, const std::string& feature, const std::string& what) {
  fs::path index_path = ds.root("features") / feature / "index.csv";
  auto id = latest_finished_run(index_path);
  if (!id)
    throw InputError(fmt::format("{} refers to '{}' without a run id, and it has no finished run in {}; run it first "
                                 "or pin a run id",
                                 what, feature, index_path.string()));
  return *id;
}

// Every (feature, run_id) a run depends on: its feature inputs and its reference params.
std::vector<std::pair<std::string, std::string>> upstream_runs(const Feature& feature) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& f, const Json& rid) {
    if (f.empty() || !rid.is_string()) return;
    std::pair<std::string, std::string> p{f, rid.get<std::string>()};
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  };
  for (const auto& r : feature.inputs().feature_inputs()) add(r.feature, r.run_id ? Json(*r.run_id) : Json());
  for (const auto& f : feature.schema().fields()) {
    if (f.type.kind() != ParamType::Kind::kReference && f.type.kind() != ParamType::Kind::kOptional) continue;
    const Json& v = feature.params()[f.name];
    if (v.is_object() && v.contains("feature") && v["feature"].is_string() && v.contains("run_id"))
      add(v["feature"].get<std::string>(), v["run_id"]);
  }
  return out;
}

ParamType::Role role_of(const ParamType& t) {
  if (t.kind() == ParamType::Kind::kReference) return t.role();
  if (t.kind() == ParamType::Kind::kOptional && !t.children().empty()) return role_of(t.children()[0]);
  return ParamType::Role::kNone;
}

}  // namespace

std::pair<std::optional<int64_t>, std::optional<int64_t>> resolve_frame_range(std::optional<double> fps,
                                                                               std::optional<int64_t> sf,
                                                                               std::optional<int64_t> ef,
                                                                               std::optional<double> st,
                                                                               std::optional<double> et) {
  if (sf && st) throw InputError("Cannot set both start_frame and start_time");
  if (ef && et) throw InputError("Cannot set both end_frame and end_time");
  if ((st || et) && !fps) throw InputError("Time-based filters require fps (set meta.fps_default in the manifest)");
  std::optional<int64_t> start = sf, end = ef;
  if (st) start = static_cast<int64_t>(std::trunc(*st * *fps));
  if (et) end = static_cast<int64_t>(std::trunc(*et * *fps));
  return {start, end};
}

std::string storage_name_of(const Feature& feature) {
  return derive_storage_name(feature.info().name, feature.inputs().storage_suffix());
}

Json run_payload(const Feature& feature, std::pair<std::optional<int64_t>, std::optional<int64_t>> frame_range,
                 const std::vector<std::pair<std::string, std::string>>* scope_entries) {
  Json payload = Json::object();
  payload["_params"] = feature.params();
  payload["_inputs"] = feature.inputs().to_json();
  payload["_frame_range"] = frame_range_json(frame_range);
  if (feature.info().scope_dependent && scope_entries) {
    Json scope = Json::array();
    for (const auto& [g, s] : *scope_entries) scope.push_back(Json::array({g, s}));
    payload["_scope_entries"] = scope;
  }
  return payload;
}

void pin_upstream_runs(const Dataset& ds, Feature& feature) {
  // Inputs: Results without a run id become the latest finished run (DECISIONS P3).
  std::vector<InputItem> items = feature.inputs().items();
  bool changed = false;
  for (auto& it : items) {
    if (auto* r = std::get_if<Result>(&it); r && !r->run_id) {
      r->run_id = pin_one(ds, r->feature, "input");
      changed = true;
    }
  }
  if (changed) feature.set_inputs(Inputs(std::move(items)));
  // Reference params with a feature and no run id.
  for (const auto& field : feature.schema().fields()) {
    ParamType::Role role = role_of(field.type);
    if (role == ParamType::Role::kNone || role == ParamType::Role::kLabels) continue;
    Json v = feature.params()[field.name];
    if (!v.is_object() || !v.contains("feature") || !v["feature"].is_string()) continue;
    std::string f = v["feature"].get<std::string>();
    if (f.empty() || !v["run_id"].is_null()) continue;
    v["run_id"] = pin_one(ds, f, fmt::format("parameter '{}'", field.name));
    feature.set_param(field.name, v);
  }
}

namespace {

// §4.6: artifact paths and dependency lookups from top-level params.
void resolve_dependencies(const Dataset& ds, const Feature& feature, ArtifactPaths& artifacts,
                          DependencyLookups& lookups) {
  fs::path features_root = ds.root("features");
  for (const auto& field : feature.schema().fields()) {
    ParamType::Role role = role_of(field.type);
    const Json& v = feature.params()[field.name];
    if (role == ParamType::Role::kNone || !v.is_object()) continue;
    if (role == ParamType::Role::kNNResult) continue;  // only used as pair_filter
    if (role == ParamType::Role::kLabels) {
      std::string kind = v.value("kind", "");
      if (kind.empty()) continue;
      std::map<std::pair<std::string, std::string>, fs::path> lookup;
      if (ds.has_root("labels")) {
        fs::path index = ds.root("labels") / kind / "index.csv";
        if (fs::exists(index)) {
          TextCsv csv = TextCsv::read(index);
          for (std::size_t r = 0; r < csv.rows.size(); ++r) {
            fs::path p = ds.resolve_path(csv.cell(r, "abs_path"));
            if (p.is_relative()) p = ds.base_dir() / p;
            if (fs::exists(p)) lookup[{std::string(csv.cell(r, "group")), std::string(csv.cell(r, "sequence"))}] = p;
          }
        }
      }
      if (lookup.empty())
        throw IoError(fmt::format("Labels lookup is empty for kind='{}', required by field '{}' (expected {})", kind,
                                  field.name, ds.has_root("labels") ? (ds.root("labels") / kind / "index.csv").string()
                                                                    : std::string("a labels root")));
      lookups[field.name] = std::move(lookup);
      continue;
    }
    std::string f = v.value("feature", "");
    if (f.empty()) continue;
    fs::path index_path = features_root / f / "index.csv";
    std::string run_id = v["run_id"].is_string() ? v["run_id"].get<std::string>() : FeatureIndex(index_path).latest_run_id();
    fs::path run_root = features_root / f / run_id;
    if (role == ParamType::Role::kArtifact) {
      std::string pattern = v.value("pattern", "");
      // Non-recursive glob in the run folder; the first match in sorted order (§4.6).
      std::vector<fs::path> matches;
      if (fs::is_directory(run_root)) {
        for (const auto& de : fs::directory_iterator(run_root)) {
          std::string name = de.path().filename().string();
          if (is_temp_file_name(name)) continue;
          if (glob_match(pattern, name)) matches.push_back(de.path());
        }
      }
      std::sort(matches.begin(), matches.end());
      if (!matches.empty()) artifacts[field.name] = matches.front();
      continue;
    }
    if (f == "nearest-neighbor")
      throw InputError(fmt::format(
          "Field '{}' references the nearest-neighbor feature but is typed as Result, not NNResult", field.name));
    std::map<std::pair<std::string, std::string>, fs::path> lookup;
    for (const auto& e : index_entries(index_path, run_id, ds.base_dir(), run_root, true))
      lookup[{e.group, e.sequence}] = e.path;
    lookups[field.name] = std::move(lookup);
  }
}

// The NN pair filter maps of the scope entries (§4.4), fail-open.
void load_pair_filter(const Dataset& ds, const Feature& feature, const Manifest& manifest, EntryFilters& filters) {
  if (!feature.params().is_object() || !feature.params().contains("pair_filter")) return;
  const Json& pf = feature.params()["pair_filter"];
  if (!pf.is_object() || pf.value("feature", "").empty()) return;
  std::string f = pf["feature"].get<std::string>();
  fs::path index_path = ds.root("features") / f / "index.csv";
  if (!fs::exists(index_path)) return;
  std::string run_id = pf["run_id"].is_string() ? pf["run_id"].get<std::string>() : FeatureIndex(index_path).latest_run_id();
  auto entries = index_entries(index_path, run_id, ds.base_dir(), ds.root("features") / f / run_id, false);
  filters.has_nn_filter = true;
  for (const auto& me : manifest.entries) {
    for (const auto& e : entries) {
      if (e.group != me.group || e.sequence != me.sequence || !fs::exists(e.path)) continue;
      Table nn = read_parquet(e.path);
      const char* fc = nn.has_column("frame") ? "frame" : (nn.has_column("time") ? "time" : nullptr);
      if (!fc || !nn.has_column("id") || !nn.has_column("nn_id")) break;
      auto& map = filters.nn_maps[me.key];
      const Column& frame = nn.column(fc);
      const Column& id = nn.column("id");
      const Column& nid = nn.column("nn_id");
      for (std::size_t r = 0; r < nn.num_rows(); ++r) {
        double a = frame.as_double(r), b = id.as_double(r), c = nid.as_double(r);
        if (std::isnan(a) || std::isnan(b) || std::isnan(c)) continue;
        map[{static_cast<int64_t>(a), static_cast<int64_t>(b)}] = static_cast<int64_t>(c);
      }
      break;
    }
  }
}

class ManifestInputStream final : public InputStream {
 public:
  ManifestInputStream(const Manifest& m, const EntryFilters& f) : manifest_(m), filters_(f) {}
  std::size_t n_entries() const override { return manifest_.entries.size(); }
  void for_each(const std::function<void(const EntryData&)>& fn) const override {
    const auto& entries = manifest_.entries;
    if (entries.empty()) return;
    // Read the next entry while the feature works on the current one.
    auto load = [this](std::size_t i) { return load_entry(manifest_.entries[i].files, manifest_.entries[i].key, filters_); };
    std::future<Table> next = std::async(std::launch::async, load, 0);
    for (std::size_t i = 0; i < entries.size(); ++i) {
      Table t = next.get();
      if (i + 1 < entries.size()) next = std::async(std::launch::async, load, i + 1);
      if (t.num_rows() == 0) continue;
      fn(EntryData{entries[i].key, entries[i].group, entries[i].sequence, std::move(t)});
    }
  }

 private:
  const Manifest& manifest_;
  const EntryFilters& filters_;
};

// Distinct frame values of a table, sorted.
std::vector<int64_t> distinct_frames(const Table& t) {
  std::vector<int64_t> f;
  const Column& c = t.column("frame");
  f.reserve(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    double v = c.as_double(r);
    if (!std::isnan(v)) f.push_back(static_cast<int64_t>(v));
  }
  std::sort(f.begin(), f.end());
  f.erase(std::unique(f.begin(), f.end()), f.end());
  return f;
}

// Keep the rows of `t` whose frame lies in [lo, hi].
Table frames_between(const Table& t, int64_t lo, int64_t hi) {
  const Column& c = t.column("frame");
  std::vector<uint8_t> keep(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    double v = c.as_double(r);
    keep[r] = !std::isnan(v) && v >= static_cast<double>(lo) && v <= static_cast<double>(hi);
  }
  return t.filter(keep);
}

struct EntryOutcome {
  bool loaded = false;
  bool skipped_existing = false;
  bool failed = false;
  std::string error;
  int64_t rows_in = 0;
  int64_t n_rows = 0;
  double read_s = 0, apply_s = 0, write_s = 0;
  std::exception_ptr fatal;
};

}  // namespace

std::string predict_run_id(const Dataset& ds, Feature& feature, const RunOptions& opt, std::string* payload_string) {
  pin_upstream_runs(ds, feature);
  auto range = resolve_frame_range(ds.fps_default(), opt.start_frame, opt.end_frame, opt.start_time, opt.end_time);
  std::vector<std::pair<std::string, std::string>> scope;
  if (feature.info().scope_dependent && !feature.inputs().empty())
    scope = build_manifest(ds, feature.inputs(), opt.groups, opt.sequences).scope;
  Json payload = run_payload(feature, range, &scope);
  if (payload_string) *payload_string = canonical_payload_string(payload);
  return make_run_id(feature.info().version, payload);
}

RunResult run_feature(const Dataset& ds, Feature& feature, const RunOptions& opt) {
  auto t_start = Clock::now();
  RunResult result;
  const FeatureInfo& info = feature.info();
  // 1-2: storage name, frame range.
  std::string storage = storage_name_of(feature);
  auto range = resolve_frame_range(ds.fps_default(), opt.start_frame, opt.end_frame, opt.start_time, opt.end_time);
  if ((range.first || range.second) && opt.overlap_frames > 0)
    throw InputError("Frame/time filters and overlap_frames are mutually exclusive");
  if (opt.overlap_frames < 0) throw InputError(fmt::format("overlap_frames must be >= 0, got {}", opt.overlap_frames));
  // DECISIONS P3: unpinned upstream runs are resolved before hashing.
  pin_upstream_runs(ds, feature);
  // 3-4: scope and manifest.
  Manifest manifest;
  if (!feature.inputs().empty()) manifest = build_manifest(ds, feature.inputs(), opt.groups, opt.sequences);
  // 5: run id and run folder.
  Json payload = run_payload(feature, range, &manifest.scope);
  std::string params_hash = hash_params(payload);
  std::string run_id = info.version + "-" + params_hash;
  fs::path features_root = ds.root("features");
  fs::path storage_dir = features_root / storage;
  fs::path run_root = storage_dir / run_id;
  make_dirs(run_root);
  result.result = Result{storage, run_id};
  // 6: params.json (indent 2, declaration order, no _scope_entries).
  Json params_doc = Json::object();
  params_doc["_params"] = feature.params();
  params_doc["_inputs"] = feature.inputs().to_json();
  params_doc["_frame_range"] = frame_range_json(range);
  PyDumpOptions indent2;
  indent2.indent = 2;
  std::string params_text = python_json_dumps(params_doc, indent2);
  try {
    write_file_atomic(run_root / "params.json", params_text);
  } catch (const Error& e) {
    std::fprintf(stderr, "[feature:%s] failed to save params.json: %s\n", info.name.c_str(), e.what());
  }
  // 7: the feature index.
  FeatureIndex index(storage_dir / "index.csv");
  index.ensure();
  // 8: the registry (DECISIONS P1: every run records itself and its upstream runs).
  std::optional<FeatureRegistry> own_registry;
  FeatureRegistry* registry = opt.registry;
  if (!registry && !opt.no_registry) {
    try {
      own_registry.emplace(FeatureRegistry::open(features_root));
      registry = &*own_registry;
    } catch (const Error& e) {
      if (opt.log) std::fprintf(stderr, "[feature:%s] registry unavailable: %s\n", info.name.c_str(), e.what());
    }
  }
  if (registry) {
    registry->transaction([&] {
      registry->record_run_start(storage, run_id, info.version, params_hash, params_text,
                                 python_json_dumps(feature.inputs().to_json()));
      for (const auto& [uf, ur] : upstream_runs(feature)) registry->record_dependency(storage, run_id, uf, ur);
    });
  }
  // 9-12: dataset binding, dependencies, pair filter, state.
  feature.bind_dataset(ds);
  ArtifactPaths artifacts;
  DependencyLookups lookups;
  resolve_dependencies(ds, feature, artifacts, lookups);
  EntryFilters filters;
  filters.start_frame = range.first;
  filters.end_frame = range.second;
  load_pair_filter(ds, feature, manifest, filters);
  bool state_ready = feature.load_state(run_root, artifacts, lookups);
  // 13-14: fit when no state is ready (overwrite does not force a refit).
  if (!state_ready) {
    auto t_fit = Clock::now();
    ManifestInputStream stream(manifest, filters);
    feature.fit(stream);
    feature.save_state(run_root);
    result.timing.fit_seconds = seconds_since(t_fit);
  }
  // 15-16: apply loop.
  int workers = std::max(1, opt.parallel_workers);
  if (workers > 1 && !info.parallelizable) {
    if (opt.log)
      std::fprintf(stderr,
                   "[feature:%s] parallel_workers requested but feature is not parallelizable; running sequentially.\n",
                   info.name.c_str());
    workers = 1;
  }
  const int64_t overlap = opt.overlap_frames;
  auto process = [&](std::size_t i) -> EntryOutcome {
    EntryOutcome o;
    const ManifestEntry& e = manifest.entries[i];
    fs::path out_path = run_root / (e.key + ".parquet");
    try {
      if (state_ready && !opt.overwrite && fs::exists(out_path)) {
        try {
          o.n_rows = parquet_row_count(out_path);
          o.loaded = true;
          o.skipped_existing = true;
          return o;
        } catch (const IoError&) {
          // A damaged output (e.g. from another tool) is recomputed rather than served.
        }
      }
      auto t_read = Clock::now();
      Table core = load_entry(e.files, e.key, filters);
      if (core.num_rows() == 0) return o;
      o.loaded = true;
      o.rows_in = static_cast<int64_t>(core.num_rows());
      Table input = core;
      bool trim_by_frame = false;
      int64_t core_lo = 0, core_hi = -1;
      std::size_t core_start = 0, core_end = core.num_rows();
      if (overlap > 0) {
        // DECISIONS P7: neighbours contribute their last/first `overlap` frames, and the output
        // is trimmed back to the core's frames by value, whatever order apply returns rows in.
        Table prev, next;
        bool has_frame = core.has_column("frame");
        if (e.prev_files) {
          Table p = load_entry(*e.prev_files, e.prev_key, filters);
          if (p.num_rows() > 0) {
            if (has_frame && p.has_column("frame")) {
              auto f = distinct_frames(p);
              if (!f.empty()) prev = frames_between(p, f[f.size() > static_cast<std::size_t>(overlap) ? f.size() - overlap : 0], f.back());
            } else {
              std::size_t n = std::min<std::size_t>(p.num_rows(), static_cast<std::size_t>(overlap));
              prev = p.slice(p.num_rows() - n, n);
            }
          }
        }
        if (e.next_files) {
          Table nx = load_entry(*e.next_files, e.next_key, filters);
          if (nx.num_rows() > 0) {
            if (has_frame && nx.has_column("frame")) {
              auto f = distinct_frames(nx);
              if (!f.empty())
                next = frames_between(nx, f.front(), f[std::min<std::size_t>(f.size(), static_cast<std::size_t>(overlap)) - 1]);
            } else {
              std::size_t n = std::min<std::size_t>(nx.num_rows(), static_cast<std::size_t>(overlap));
              next = nx.slice(0, n);
            }
          }
        }
        std::vector<Table> parts;
        if (prev.num_rows() > 0) parts.push_back(prev);
        parts.push_back(core);
        if (next.num_rows() > 0) parts.push_back(next);
        core_start = prev.num_rows();
        core_end = core_start + core.num_rows();
        if (parts.size() > 1) input = Table::concat(parts);
        if (has_frame) {
          auto cf = distinct_frames(core);
          if (!cf.empty()) {
            core_lo = cf.front();
            core_hi = cf.back();
            bool prev_ok = prev.num_rows() == 0 || distinct_frames(prev).back() < core_lo;
            bool next_ok = next.num_rows() == 0 || distinct_frames(next).front() > core_hi;
            trim_by_frame = prev_ok && next_ok;
          }
        }
      }
      o.read_s = seconds_since(t_read);
      auto t_apply = Clock::now();
      Table out;
      try {
        out = feature.apply(input);
      } catch (const std::exception& ex) {
        o.failed = true;
        o.error = ex.what();
        o.apply_s = seconds_since(t_apply);
        return o;
      }
      if (input.num_rows() != core.num_rows()) {
        // Neighbour rows were added: keep only the core's rows in the output.
        if (trim_by_frame && out.has_column("frame")) out = frames_between(out, core_lo, core_hi);
        else if (!(core_start == 0 && core_end >= out.num_rows())) out = out.slice(core_start, core_end - core_start);
      }
      o.apply_s = seconds_since(t_apply);
      auto t_write = Clock::now();
      write_parquet(out, out_path);
      o.write_s = seconds_since(t_write);
      o.n_rows = static_cast<int64_t>(out.num_rows());
    } catch (...) {
      o.fatal = std::current_exception();
    }
    return o;
  };

  std::vector<FeatureIndexRow> pending;
  std::vector<RegistryEntry> pending_registry;
  std::vector<std::string> empty_entries;
  std::size_t written = 0;
  auto flush = [&] {
    if (!pending.empty()) index.append_rows(pending);
    if (registry && !pending_registry.empty()) registry->record_entries(pending_registry);
    pending.clear();
    pending_registry.clear();
  };
  const std::size_t n = manifest.entries.size();
  auto consume = [&](std::size_t i, EntryOutcome& o) {
    const ManifestEntry& e = manifest.entries[i];
    if (o.fatal) std::rethrow_exception(o.fatal);
    result.timing.read_seconds += o.read_s;
    result.timing.apply_seconds += o.apply_s;
    result.timing.write_seconds += o.write_s;
    result.timing.rows_in += o.rows_in;
    if (o.failed) {
      if (opt.log)
        std::fprintf(stderr, "[feature:%s] apply failed for (%s,%s): %s\n", info.name.c_str(), e.group.c_str(),
                     e.sequence.c_str(), o.error.c_str());
      result.failures.push_back({e.group, e.sequence, o.error});
    } else if (o.loaded) {
      fs::path out_path = run_root / (e.key + ".parquet");
      FeatureIndexRow row{fs::absolute(out_path).lexically_normal().string(), run_id, now_iso(), "", storage,
                          info.version, e.group, e.sequence, params_hash, std::to_string(o.n_rows)};
      pending.push_back(row);
      if (registry) pending_registry.push_back({storage, run_id, e.group, e.sequence, row.abs_path, o.n_rows});
      ++written;
      result.timing.rows_out += o.n_rows;
      if (o.skipped_existing) ++result.timing.entries_skipped_existing;
      else ++result.timing.entries_written;
      if (pending.size() >= 10) flush();
    }
    if (!o.loaded && !o.failed) empty_entries.push_back(e.key);
    if (o.loaded || o.failed) {
      if (opt.log && ((i + 1) % 10 == 0 || i + 1 == n))
        std::fprintf(stderr, "[%s] Processed %zu/%zu sequences\n", storage.c_str(), i + 1, n);
    }
    if (opt.on_progress)
      opt.on_progress(RunProgress{storage, i + 1, n, result.timing.rows_out, seconds_since(t_start)});
  };

  if (workers <= 1 || n <= 1) {
    for (std::size_t i = 0; i < n; ++i) {
      EntryOutcome o = process(i);
      consume(i, o);
    }
  } else {
    // Workers read, apply and write entries; this thread records them in manifest order, so the
    // index and the outputs are the same as a 1-worker run. A window bounds memory.
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<EntryOutcome>> slots(n);
    std::size_t next_index = 0, consumed = 0;
    bool stop = false;
    const std::size_t window = static_cast<std::size_t>(workers) * 2;
    auto worker = [&] {
      for (;;) {
        std::size_t i;
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return stop || next_index >= n || next_index < consumed + window; });
          if (stop || next_index >= n) return;
          i = next_index++;
        }
        EntryOutcome o = process(i);
        {
          std::lock_guard lk(mu);
          slots[i] = std::move(o);
        }
        cv.notify_all();
      }
    };
    std::vector<std::thread> threads;
    for (int w = 0; w < std::min<int>(workers, static_cast<int>(n)); ++w) threads.emplace_back(worker);
    std::exception_ptr error;
    for (std::size_t i = 0; i < n && !error; ++i) {
      EntryOutcome o;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return slots[i].has_value(); });
        o = std::move(*slots[i]);
        slots[i].reset();
        consumed = i + 1;
      }
      cv.notify_all();
      try {
        consume(i, o);
      } catch (...) {
        error = std::current_exception();
      }
    }
    {
      std::lock_guard lk(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    if (error) {
      flush();
      std::rethrow_exception(error);
    }
  }
  // 17: global marker (an empty manifest: features without inputs, or nothing in scope).
  if (written == 0 && pending.empty() && manifest.entries.empty()) {
    pending.push_back(FeatureIndexRow{fs::absolute(run_root).lexically_normal().string(), run_id, now_iso(), "", storage,
                                      info.version, "", "__global__", params_hash, "0"});
  }
  // 18: flush, and mark finished unless an entry failed (DECISIONS P6).
  flush();
  if (result.failures.empty()) {
    // The record says which entries were empty on purpose (a later status check needs it);
    // it is written before the run is marked finished, so a finished run always has one.
    write_run_record(run_root, run_id, empty_entries);
    index.mark_finished(run_id);
    if (registry) registry->mark_finished(storage, run_id);
    result.finished = true;
  }
  result.timing.total_seconds = seconds_since(t_start);
  if (opt.log) {
    if (result.finished)
      std::fprintf(stderr, "[feature:%s] completed run_id=%s -> %s\n", storage.c_str(), run_id.c_str(), run_root.c_str());
    else
      std::fprintf(stderr, "[feature:%s] %zu entr%s failed; run_id=%s is not marked finished (rerun to retry them)\n",
                   storage.c_str(), result.failures.size(), result.failures.size() == 1 ? "y" : "ies", run_id.c_str());
  }
  return result;
}

}  // namespace mosaic

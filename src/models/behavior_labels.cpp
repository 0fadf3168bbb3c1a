// behavior_labels.cpp: decode labels/<kind>/ npz files and align them; see the header.
#include "models/behavior_labels.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/label_import.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/run_id.hpp"

namespace mosaic::models {

namespace fs = std::filesystem;

LabelsFile read_labels_file(const fs::path& path) {
  NpzArchive npz = read_npz(path);
  LabelsFile f;
  f.path = path;
  std::string format;
  if (npz.contains("label_format")) format = npz.at("label_format").scalar_string();
  else if (npz.contains("frames") && npz.contains("labels") && npz.contains("individual_ids")) format = "individual_pair_v1";
  else if (npz.contains("labels") && !npz.contains("frames") && npz.at("labels").shape.size() == 1) format = "dense";
  if (format != "dense" && format != "individual_pair_v1")
    throw IoError(fmt::format("{}: unknown label format '{}' (keys: {}); expected 'dense' (labels) or "
                              "'individual_pair_v1' (frames, labels, individual_ids)",
                              path.string(), format, join_names(npz.keys())));
  f.format = format;
  f.labels = npz.at("labels").to_int64();
  if (format == "individual_pair_v1") {
    f.frames = npz.at("frames").to_int64();
    std::vector<int64_t> ids = npz.at("individual_ids").to_int64();
    if (f.frames.size() != f.labels.size() || ids.size() != 2 * f.frames.size())
      throw IoError(fmt::format("{}: {} frames, {} labels and {} individual_ids values do not line up (expected "
                                "n, n and 2n)",
                                path.string(), f.frames.size(), f.labels.size(), ids.size()));
    for (std::size_t e = 0; e < f.frames.size(); ++e) {
      f.id1.push_back(ids[2 * e]);
      f.id2.push_back(ids[2 * e + 1]);
    }
  }
  if (npz.contains("label_ids")) f.label_ids = npz.at("label_ids").to_int64();
  if (npz.contains("label_names")) f.label_names = npz.at("label_names").to_strings();
  return f;
}

std::vector<int64_t> labels_for_frames(const LabelsFile& f, std::span<const int64_t> frames) {
  std::vector<int64_t> out(frames.size(), kUnlabeled);
  if (f.format == "dense") {
    for (std::size_t r = 0; r < frames.size(); ++r)
      if (frames[r] >= 0 && frames[r] < static_cast<int64_t>(f.labels.size()))
        out[r] = f.labels[static_cast<std::size_t>(frames[r])];
    return out;
  }
  std::unordered_map<int64_t, int64_t> by_frame;
  for (std::size_t e = 0; e < f.frames.size(); ++e)
    if (f.id1[e] <= f.id2[e]) by_frame[f.frames[e]] = f.labels[e];  // the last event wins
  for (std::size_t r = 0; r < frames.size(); ++r) {
    auto it = by_frame.find(frames[r]);
    if (it != by_frame.end()) out[r] = it->second;
  }
  return out;
}

namespace {
struct PairKey {
  int64_t frame, lo, hi;
  bool operator==(const PairKey&) const = default;
};
struct PairKeyHash {
  std::size_t operator()(const PairKey& k) const noexcept {
    return std::hash<int64_t>()(k.frame * 1000003 + k.lo * 7919 + k.hi);
  }
};
}  // namespace

std::vector<int64_t> labels_for_pairs(const LabelsFile& f, std::span<const int64_t> frames,
                                      std::span<const int64_t> id1, std::span<const int64_t> id2) {
  if (f.format != "individual_pair_v1") return labels_for_frames(f, frames);
  std::unordered_map<PairKey, int64_t, PairKeyHash> lookup;
  for (std::size_t e = 0; e < f.frames.size(); ++e) {
    PairKey k{f.frames[e], std::min(f.id1[e], f.id2[e]), std::max(f.id1[e], f.id2[e])};
    auto [it, inserted] = lookup.emplace(k, f.labels[e]);
    if (!inserted) it->second = std::max(it->second, f.labels[e]);  // the highest label wins
  }
  std::vector<int64_t> out(frames.size(), kUnlabeled);
  for (std::size_t r = 0; r < frames.size(); ++r) {
    auto it = lookup.find(PairKey{frames[r], std::min(id1[r], id2[r]), std::max(id1[r], id2[r])});
    if (it != lookup.end()) out[r] = it->second;
  }
  return out;
}

std::map<std::string, LabelsEntry> labels_lookup(const Dataset& ds, const std::string& kind) {
  fs::path index = ds.root("labels") / kind / "index.csv";
  if (!fs::exists(index)) throw IoError(fmt::format("Labels index missing: {}", index.string()));
  TextCsv csv = TextCsv::read(index);
  std::map<std::string, LabelsEntry> out;
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    std::string seq(csv.cell(r, "sequence"));
    std::string stored(csv.cell(r, "abs_path"));
    if (seq.empty() || stored.empty()) continue;
    fs::path p = ds.resolve_path(stored);
    if (p.is_relative()) p = ds.base_dir() / p;
    out[to_safe_name(seq)] = LabelsEntry{std::string(csv.cell(r, "group")), seq, p};
  }
  return out;
}

fs::path write_pair_labels(const Dataset& ds, const std::string& kind, const std::string& group,
                           const std::string& sequence, const PairEvents& ev) {
  const std::size_t n = ev.frames.size();
  if (ev.labels.size() != n || ev.id1.size() != n || ev.id2.size() != n)
    throw InternalError("write_pair_labels: frames, labels, id1 and id2 differ in length");
  if (ev.label_ids.size() != ev.label_names.size())
    throw InputError(fmt::format("labels of {}: {} label ids but {} names", sequence, ev.label_ids.size(),
                                 ev.label_names.size()));
  const fs::path dir = ds.root("labels") / kind;
  make_dirs(dir);
  const std::string key = make_entry_key(group, sequence);
  const fs::path path = dir / (key + ".npz");
  std::vector<int32_t> frames(n), labels(n), ids(2 * n);
  for (std::size_t e = 0; e < n; ++e) {
    frames[e] = static_cast<int32_t>(ev.frames[e]);
    labels[e] = static_cast<int32_t>(ev.labels[e]);
    ids[2 * e] = static_cast<int32_t>(ev.id1[e]);
    ids[2 * e + 1] = static_cast<int32_t>(ev.id2[e]);
  }
  const auto k = static_cast<int64_t>(ev.label_ids.size());
  write_npz(path, {{"group", NpyArray::from_strings({}, {group})},
                   {"sequence", NpyArray::from_strings({}, {sequence})},
                   {"sequence_key", NpyArray::from_strings({}, {key})},
                   {"label_format", NpyArray::from_strings({}, {"individual_pair_v1"})},
                   {"frames", NpyArray::from_int32({static_cast<int64_t>(n)}, frames)},
                   {"labels", NpyArray::from_int32({static_cast<int64_t>(n)}, labels)},
                   {"individual_ids", NpyArray::from_int32({static_cast<int64_t>(n), 2}, ids)},
                   {"label_ids", NpyArray::from_int64({k}, ev.label_ids)},
                   {"label_names", NpyArray::from_strings({k}, ev.label_names)}});
  std::vector<std::string> id_text;
  for (int64_t id : ev.label_ids) id_text.push_back(std::to_string(id));
  RunIndex index(dir / "index.csv", labels_index_columns(), {"group", "sequence"});
  index.append({{{"kind", kind},
                 {"label_format", "individual_pair_v1"},
                 {"group", group},
                 {"sequence", sequence},
                 {"group_safe", to_safe_name(group)},
                 {"sequence_safe", to_safe_name(sequence)},
                 {"abs_path", fs::absolute(path).string()},
                 {"source_abs_path", ""},
                 {"source_md5", ""},
                 {"n_frames", std::to_string(ev.n_frames)},
                 {"label_ids", join_names(id_text, ",")},
                 {"label_names", join_names(ev.label_names, ",")}}});
  return path;
}

}  // namespace mosaic::models

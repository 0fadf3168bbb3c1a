// behavior_labels.hpp (internal): reading `labels/<kind>/` ground truth (pipeline.md §1.9) and
// aligning it to feature rows, for the models that train on it.
//
// Both of the reference's formats are read, including Python-written files whose `label_names`
// is a pickled object array (npz.hpp's restricted unpickler): "dense" (one label per frame) and
// "individual_pair_v1" (events: frames, labels, individual_ids (n, 2)). Unlike the reference,
// a frame without a label is *unlabelled* (kUnlabeled), never class 0 (DECISIONS F6).
//
//   auto lookup = labels_lookup(ds, "behavior");          // sequence -> file
//   LabelsFile f = read_labels_file(lookup.at("m01").path);
//   std::vector<int64_t> y = labels_for_frames(f, frames);  // kUnlabeled where none
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace mosaic {
class Dataset;
}

namespace mosaic::models {

inline constexpr int64_t kUnlabeled = -1;

/// \brief One labels file, decoded.
struct LabelsFile {
  std::filesystem::path path;
  std::string format;             ///< "dense" or "individual_pair_v1"
  std::vector<int64_t> labels;    ///< dense: per frame; events: per event
  std::vector<int64_t> frames;    ///< events only
  std::vector<int64_t> id1, id2;  ///< events only ([id, -1] individual, [-1, -1] scene)
  std::vector<int64_t> label_ids;        ///< when the file has them
  std::vector<std::string> label_names;  ///< when the file has them
};

/// \brief Read and decode a labels .npz; IoError naming the file for an unreadable file or an
/// unknown format (keys found listed).
LabelsFile read_labels_file(const std::filesystem::path& path);

/// \brief Frame-only alignment (load_labels_for_feature_frames): events with id1 <= id2, the
/// last event of a frame wins; dense: labels[frame] in range. Others get kUnlabeled.
std::vector<int64_t> labels_for_frames(const LabelsFile& f, std::span<const int64_t> frames);

/// \brief Pair-aware alignment (the reference's _align_labels_pair_aware): the event of
/// (frame, {a, b}) in either order, the highest label when several; dense files fall back to
/// frame-only alignment. Others get kUnlabeled.
std::vector<int64_t> labels_for_pairs(const LabelsFile& f, std::span<const int64_t> frames,
                                      std::span<const int64_t> id1, std::span<const int64_t> id2);

/// \brief One row of labels/<kind>/index.csv that points at an existing file.
struct LabelsEntry {
  std::string group, sequence;
  std::filesystem::path path;
};

/// \brief labels/<kind>/index.csv keyed by to_safe_name(sequence) (as the reference's
/// _build_label_lookup). A missing index throws IoError "Labels index missing: <path>".
std::map<std::string, LabelsEntry> labels_lookup(const Dataset& dataset, const std::string& kind);

/// \brief Pair-level events of one sequence, to write as individual_pair_v1.
struct PairEvents {
  std::vector<int64_t> frames, labels, id1, id2;  ///< one event per entry; id2 = -1: individual
  std::vector<int64_t> label_ids;                  ///< the classes, e.g. {0, 1, 2}
  std::vector<std::string> label_names;            ///< their names, aligned with label_ids
  int64_t n_frames = 0;                            ///< frames of the sequence (for the index)
};

/// \brief Write labels/<kind>/<entry_key>.npz (individual_pair_v1, pipeline.md §1.9: names as
/// fixed-width unicode, which Python reads like its pickled object arrays) and its row in
/// labels/<kind>/index.csv (12 columns; a row of the same group and sequence is replaced).
/// Returns the npz path.
std::filesystem::path write_pair_labels(const Dataset& dataset, const std::string& kind, const std::string& group,
                                        const std::string& sequence, const PairEvents& events);

}  // namespace mosaic::models

// label_import.hpp: import per-frame labels from simple CSV files into `labels/<kind>/`
// (pipeline.md §1.9, features.md §0.7).
//
// Each CSV has the columns `sequence,frame,label` and optionally `group` (any order, other columns
// ignored); `label` is an integer class id >= 0. Every (group, sequence) becomes one NPZ in the
// reference's dense format: a single int64 array `labels` with `label = labels[frame]`. Frames
// the CSV does not list become -1 (unlabelled: DECISIONS F6 excludes them from training); frames
// after the last listed one are outside the array (also unlabelled). `labels/<kind>/index.csv`
// gets one row per entry (replacing any row of the same entry) with label_format "dense". The
// label map (label_ids/label_names) is one per kind: the map already in the index, updated with
// `--names` and extended with new ids (named by themselves), is written into every row. Every
// file is checked before anything is written.
//
//   LabelImportOptions opt;
//   opt.names = parse_label_names("0=attack,1=investigation,2=mount,3=other");
//   auto entries = import_labels_csv(ds, {"labels.csv"}, opt);
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mosaic {

class Dataset;

struct LabelImportOptions {
  std::string kind = "behavior";
  /// Class id -> name. When set, every label in the files must be one of its ids, and these names
  /// replace those of the same ids in the index. Ids without a name are named by themselves.
  std::map<int64_t, std::string> names;
};

/// \brief One written label file.
struct ImportedLabels {
  std::string group;
  std::string sequence;
  std::filesystem::path path;  ///< labels/<kind>/<entry key>.npz
  int64_t n_frames = 0;        ///< length of the dense array (last labelled frame + 1)
  int64_t n_labelled = 0;      ///< frames with a label (the others are -1)
};

/// \brief The 12 columns of a new `labels/<kind>/index.csv` (§1.9), in order.
const std::vector<std::string>& labels_index_columns();

/// \brief Parse `--names` "0=attack,1=investigation": InputError naming the bad item for a
/// missing '=', a non-integer or negative id, an empty name or a repeated id.
std::map<int64_t, std::string> parse_label_names(std::string_view spec);

/// \brief Import the CSV files (see the file comment). Errors name the file, the column, the row
/// (1-based data row and its line) and the value: missing columns (SchemaError), bad integers,
/// negative frames or labels, labels missing from `names`, a frame given two different labels,
/// an entry the tracks index does not have (when the dataset has tracks), a sequence in several
/// groups without a `group` column (InputError). Returns the entries written, sorted by
/// (group, sequence). Records `meta.labels.<kind>` in the manifest.
std::vector<ImportedLabels> import_labels_csv(Dataset& dataset, const std::vector<std::filesystem::path>& files,
                                              const LabelImportOptions& options = {});

}  // namespace mosaic

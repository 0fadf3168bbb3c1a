// manifest.hpp (internal): which entries a run covers and how one entry's input table is built
// (pipeline.md §4.2-§4.5).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mosaic/feature.hpp"
#include "mosaic/table.hpp"

namespace mosaic {

class Dataset;

/// \brief One input file of an entry.
struct FileSpec {
  std::filesystem::path path;
  std::size_t input_index = 0;  ///< position of the input in Inputs
};

struct ManifestEntry {
  std::string key;
  std::string group;
  std::string sequence;
  std::vector<FileSpec> files;
  /// Neighbours in the same group (for overlap); absent at the ends of a group.
  std::optional<std::vector<FileSpec>> prev_files, next_files;
  std::string prev_key, next_key;
};

struct Manifest {
  std::vector<ManifestEntry> entries;  ///< sorted by (group, sequence)
  /// Sorted (group, sequence) of the scope (for scope-dependent run ids).
  std::vector<std::pair<std::string, std::string>> scope;
};

/// \brief Build the manifest of `inputs` (§4.2). Result inputs must already be pinned.
Manifest build_manifest(const Dataset& dataset, const Inputs& inputs, const std::optional<std::set<std::string>>& groups,
                        const std::optional<std::set<std::string>>& sequences);

/// \brief Row filter applied to an entry's merged table (NN pair filter, frame range).
struct EntryFilters {
  std::optional<int64_t> start_frame, end_frame;
  /// (frame, id) -> nearest-neighbour id, per entry key, for the NN pair filter (§4.4).
  std::map<std::string, std::map<std::pair<int64_t, int64_t>, int64_t>> nn_maps;
  bool has_nn_filter = false;
  bool empty() const { return !start_frame && !end_frame && !has_nn_filter; }
};

/// \brief Read and merge one entry's input files (§4.3), then apply the filters (§4.4).
/// Returns an empty table (0 rows) when the entry is to be skipped.
Table load_entry(const std::vector<FileSpec>& files, const std::string& entry_key, const EntryFilters& filters);

/// \brief Merge tables with the runner's multi-input rules (inner join on the alignment columns,
/// with `perspective` as a key when both sides have it (DECISIONS F1); clashing columns renamed
/// `<col>__<i>`).
Table merge_inputs(const std::vector<Table>& tables, const std::string& where);

}  // namespace mosaic

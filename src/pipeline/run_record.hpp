// run_record.hpp (internal): deciding whether a run is complete for a scope (DECISIONS P2)
// from index.csv and the run's record file, without touching the outputs.
//
// `<run_root>/.mosaic_run.json` is written when a run finishes: the entries it processed and
// those that loaded as empty (which have no output and no index row by design), so a later
// status check can tell "skipped on purpose" from "missing".
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/manifest.hpp"

namespace mosaic {

struct CacheCheck {
  bool cached = false;
  bool finished = false;
  int64_t entries_with_output = 0;
  std::string newest;  ///< newest index row of the run, "%Y-%m-%d %H:%M" (UTC)
};

/// \brief P2: the run is finished and every entry of `manifest` has an index row (or was
/// recorded as empty by the run). Reads index.csv once.
CacheCheck check_run_cached(const std::filesystem::path& index_path, const std::filesystem::path& run_root,
                            const std::string& run_id, const Manifest& manifest);

/// \brief Record the entries a finished run loaded as empty.
void write_run_record(const std::filesystem::path& run_root, const std::string& run_id,
                      const std::vector<std::string>& empty_entry_keys);

}  // namespace mosaic

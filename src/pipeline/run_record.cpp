#include "pipeline/run_record.hpp"

#include <set>

#include "mosaic/csv.hpp"
#include "mosaic/files.hpp"
#include "mosaic/json.hpp"
#include "mosaic/run_id.hpp"

namespace fs = std::filesystem;

namespace mosaic {

namespace {
constexpr const char* kRecordName = ".mosaic_run.json";
}

CacheCheck check_run_cached(const fs::path& index_path, const fs::path& run_root, const std::string& run_id,
                            const Manifest& manifest) {
  CacheCheck c;
  if (!fs::exists(index_path)) return c;
  TextCsv csv = TextCsv::read(index_path);
  std::set<std::pair<std::string, std::string>> with_rows;
  std::string newest;
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    if (csv.cell(r, "run_id") != run_id) continue;
    if (!csv.cell(r, "finished_at").empty()) c.finished = true;
    // pandas may have mangled the name cells ("001" -> "1"); the file name keeps the entry key (P8).
    std::string stem = fs::path(std::string(csv.cell(r, "abs_path"))).stem().string();
    with_rows.insert(entry_names_from_key(stem, csv.cell(r, "group"), csv.cell(r, "sequence")));
    std::string started(csv.cell(r, "started_at"));
    if (started > newest) newest = started;
  }
  if (newest.size() >= 16) c.newest = newest.substr(0, 10) + " " + newest.substr(11, 5);
  std::set<std::string> empty_keys;
  fs::path record = run_root / kRecordName;
  if (fs::exists(record)) {
    try {
      Json j = python_json_loads(read_file_text(record));
      if (j.value("run_id", "") == run_id)
        for (const auto& k : j["empty_entries"]) empty_keys.insert(k.get<std::string>());
    } catch (const std::exception&) {
      // A damaged record only means we cannot vouch for empty entries.
    }
  }
  bool all = true;
  for (const auto& e : manifest.entries) {
    if (with_rows.count({e.group, e.sequence})) ++c.entries_with_output;
    else if (!empty_keys.count(e.key)) all = false;
  }
  c.cached = c.finished && all;
  return c;
}

void write_run_record(const fs::path& run_root, const std::string& run_id, const std::vector<std::string>& empty_entry_keys) {
  Json j = Json::object();
  j["run_id"] = run_id;
  // Union with what an earlier invocation of the same run recorded (it may have had another scope).
  std::set<std::string> all(empty_entry_keys.begin(), empty_entry_keys.end());
  fs::path record = run_root / kRecordName;
  if (fs::exists(record)) {
    try {
      Json old = python_json_loads(read_file_text(record));
      if (old.value("run_id", "") == run_id)
        for (const auto& k : old["empty_entries"]) all.insert(k.get<std::string>());
    } catch (const std::exception&) {
    }
  }
  Json keys = Json::array();
  for (const auto& k : all) keys.push_back(k);
  j["empty_entries"] = keys;
  PyDumpOptions opt;
  opt.indent = 2;
  write_file_atomic(run_root / kRecordName, python_json_dumps(j, opt));
}

}  // namespace mosaic

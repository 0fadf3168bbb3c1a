// registry.cpp: the SQLite run registry `features/.mosaic.db` (pipeline.md §6, §8.2; DECISIONS P1).
//
// SQLite is handled like DuckDB (STYLE.md §3.5): every return code goes through `check`, which
// throws IoError with sqlite3_errmsg, the database file and the operation; statements are owned by
// `Statement`, which always finalises; values are always bound, never formatted into SQL.
//
// Concurrency: several processes (parallel `mosaic run` invocations, a training job and a viewer)
// may open one database at once. WAL lets readers run beside the single writer; every write takes
// the write lock up front with BEGIN IMMEDIATE, so it waits in the busy handler (10 s) instead of
// failing later with SQLITE_BUSY when a read transaction would have to be upgraded.
#include "mosaic/registry.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <map>
#include <string_view>
#include <thread>

#include "mosaic/csv.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace fs = std::filesystem;

namespace mosaic {

namespace {

constexpr int kBusyTimeoutMs = 10'000;

// §6.2, exact (column names, order, defaults, keys). `CREATE TABLE IF NOT EXISTS` so that every
// connection can run it against a database another process (or Python) created.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS feature_runs (
    feature      TEXT    NOT NULL,
    run_id       TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    params_hash  TEXT    NOT NULL,
    params_json  TEXT,
    inputs_json  TEXT,
    started_at   TEXT    NOT NULL,
    finished_at  TEXT    DEFAULT '',
    PRIMARY KEY (feature, run_id)
);
CREATE TABLE IF NOT EXISTS feature_entries (
    feature   TEXT    NOT NULL,
    run_id    TEXT    NOT NULL,
    group_    TEXT    NOT NULL,
    sequence  TEXT    NOT NULL,
    abs_path  TEXT    NOT NULL,
    n_rows    INTEGER DEFAULT 0,
    FOREIGN KEY (feature, run_id) REFERENCES feature_runs (feature, run_id),
    PRIMARY KEY (feature, run_id, group_, sequence)
);
CREATE TABLE IF NOT EXISTS dependencies (
    feature           TEXT NOT NULL,
    run_id            TEXT NOT NULL,
    upstream_feature  TEXT NOT NULL,
    upstream_run_id   TEXT NOT NULL,
    FOREIGN KEY (feature, run_id) REFERENCES feature_runs (feature, run_id),
    FOREIGN KEY (upstream_feature, upstream_run_id) REFERENCES feature_runs (feature, run_id),
    PRIMARY KEY (feature, run_id, upstream_feature)
);
CREATE TABLE IF NOT EXISTS training_progress (
    job_id      TEXT    NOT NULL,
    step_type   TEXT    NOT NULL,
    step_index  INTEGER NOT NULL,
    step_total  INTEGER DEFAULT 0,
    metric_json TEXT    DEFAULT '{}',
    message     TEXT    DEFAULT '',
    timestamp   TEXT    NOT NULL,
    PRIMARY KEY (job_id, step_type, step_index)
);
)sql";

// "Finished" as the reference means it (finished_at != ''), plus NULL: a Python migration of a
// pandas-read index may have stored NaN (-> NULL) for an empty finished_at.
constexpr const char* kFinishedFirst =
    "CASE WHEN COALESCE(finished_at, '') != '' THEN 0 ELSE 1 END, started_at DESC, run_id";

/// IoError that remembers SQLite's result code, so connection setup can tell "busy" apart.
class SqliteError : public IoError {
 public:
  SqliteError(const std::string& message, int code) : IoError(message), code_(code) {}
  bool busy() const noexcept {
    const int primary = code_ & 0xff;
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
  }

 private:
  int code_;
};

[[noreturn]] void throw_sqlite(const std::string& message, int rc, const fs::path& path, std::string_view what) {
  throw SqliteError(fmt::format("{}: {} failed: {} (SQLite code {})", path.string(), what, message, rc), rc);
}

[[noreturn]] void throw_sqlite(sqlite3* db, int rc, const fs::path& path, std::string_view what) {
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw_sqlite(std::string(msg ? msg : "unknown error"), rc, path, what);
}

/// The one place SQLite return codes are judged.
void check(int rc, sqlite3* db, const fs::path& path, std::string_view what) {
  if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) throw_sqlite(db, rc, path, what);
}

struct ConnectionCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

/// A prepared statement, finalised on every path. `what` names the operation in error messages.
class Statement {
 public:
  Statement(sqlite3* db, const fs::path& path, std::string_view sql, std::string what)
      : db_(db), path_(&path), what_(std::move(what)) {
    check(sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr), db, path,
          what_ + " (prepare)");
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view value) {
    // SQLITE_TRANSIENT: SQLite copies, so temporaries are safe to bind.
    check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8), db_, *path_,
          what_ + " (bind)");
    return *this;
  }
  Statement& bind(int index, int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value), db_, *path_, what_ + " (bind)");
    return *this;
  }
  Statement& bind_optional(int index, const std::optional<std::string>& value) {
    if (value) return bind(index, std::string_view(*value));
    check(sqlite3_bind_null(stmt_, index), db_, *path_, what_ + " (bind)");
    return *this;
  }

  /// Step once: true when a row is available, false when done.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_sqlite(db_, rc, *path_, what_);
  }
  /// Run a statement that returns no rows (or whose rows are not needed).
  void run() {
    while (step()) {
    }
  }
  /// Make the statement ready to be bound and run again (batch inserts).
  void reset() {
    sqlite3_reset(stmt_);  // returns the last step's error, already reported by step()
    sqlite3_clear_bindings(stmt_);
  }

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  /// The column as text; NULL becomes "" (Python-written rows may hold NULL or numbers).
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    if (!p) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::optional<std::string> optional_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return text(col);
  }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3* db_;
  const fs::path* path_;
  std::string what_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// Run SQL without values (pragmas, schema, BEGIN/COMMIT).
void exec_sql(sqlite3* db, const fs::path& path, const char* sql, std::string_view what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    throw_sqlite(msg, rc, path, what);
  }
}

/// Open a connection: busy timeout, WAL, foreign keys. `create` also creates the file and runs
/// the schema.
Connection open_connection(const fs::path& path, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection db(raw);  // sqlite3_open_v2 may hand out a handle even on failure: close it anyway
  check(rc, db.get(), path, "open database");
  sqlite3_extended_result_codes(db.get(), 1);
  check(sqlite3_busy_timeout(db.get(), kBusyTimeoutMs), db.get(), path, "set busy timeout");

  // Switching a new database to WAL needs an exclusive lock, and SQLite does not always call the
  // busy handler while two connections race for it (deadlock avoidance), so setup is retried
  // until the same 10 s budget is spent.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (int attempt = 0;; ++attempt) {
    try {
      {
        Statement wal(db.get(), path, "PRAGMA journal_mode=WAL", "PRAGMA journal_mode=WAL");
        wal.run();
      }
      exec_sql(db.get(), path, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys=ON");
      if (create) {
        exec_sql(db.get(), path, "BEGIN IMMEDIATE", "create schema (BEGIN IMMEDIATE)");
        try {
          exec_sql(db.get(), path, kSchema, "create schema");
          exec_sql(db.get(), path, "COMMIT", "create schema (COMMIT)");
        } catch (...) {
          if (!sqlite3_get_autocommit(db.get())) sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
          throw;
        }
      }
      return db;
    } catch (const SqliteError& e) {
      if (!e.busy() || std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5 + 5 * attempt, 100)));
    }
  }
}

/// n_rows as Python wrote it: "12", or "12.0" after a pandas round trip, or "" (NaN). Anything
/// that is not a number counts as 0 rather than failing the whole migration.
int64_t parse_n_rows_lenient(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  if (s.empty()) return 0;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && ptr == s.data() + s.size()) return v;
  std::string copy(s);
  char* end = nullptr;
  double d = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(d) || std::fabs(d) >= 9.2e18) return 0;
  return static_cast<int64_t>(d);  // Python's int(float) truncates toward zero
}

std::vector<ProgressRow> read_progress_rows(sqlite3* db, const fs::path& path, const std::string& job_id) {
  Statement st(db, path,
               "SELECT step_type, step_index, step_total, metric_json, message, timestamp FROM training_progress "
               "WHERE job_id = ? ORDER BY timestamp, step_index",
               fmt::format("read_progress(job_id='{}')", job_id));
  st.bind(1, job_id);
  std::vector<ProgressRow> rows;
  while (st.step()) {
    ProgressRow row;
    row.step_type = st.text(0);
    row.step_index = st.int64(1);
    row.step_total = st.int64(2);
    std::string metric = st.is_null(3) ? "{}" : st.text(3);
    row.message = st.text(4);
    row.timestamp = st.text(5);
    try {
      row.metrics = python_json_loads(metric);
    } catch (const Error& e) {
      throw IoError(fmt::format("{}: training_progress row (job_id='{}', step_type='{}', step_index={}) has invalid "
                                "metric_json: {}",
                                path.string(), job_id, row.step_type, row.step_index, e.what()));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

// ---- Lifecycle ----------------------------------------------------------------------------------

FeatureRegistry FeatureRegistry::open_file(const fs::path& db_path) {
  if (db_path.has_parent_path()) make_dirs(db_path.parent_path());
  FeatureRegistry reg;
  reg.path_ = db_path;
  reg.db_ = open_connection(db_path, /*create=*/true).release();
  return reg;
}

FeatureRegistry FeatureRegistry::open(const fs::path& features_root, bool migrate_csv) {
  fs::path db_path = features_root / ".mosaic.db";
  std::error_code ec;
  const bool is_new = !fs::exists(db_path, ec);
  FeatureRegistry reg = open_file(db_path);
  if (is_new && migrate_csv) {
    int64_t n = reg.migrate_from_csv(features_root);
    // stderr: `mosaic ... --json` keeps stdout a single JSON document.
    if (n > 0) std::fprintf(stderr, "[registry] migrated %lld entries from CSV indices into %s\n",
                            static_cast<long long>(n), db_path.c_str());
  }
  return reg;
}

FeatureRegistry::FeatureRegistry(FeatureRegistry&& other) noexcept
    : path_(std::move(other.path_)),
      db_(std::exchange(other.db_, nullptr)),
      transaction_depth_(std::exchange(other.transaction_depth_, 0)),
      mutex_(std::move(other.mutex_)) {}

FeatureRegistry& FeatureRegistry::operator=(FeatureRegistry&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close_v2(db_);
    path_ = std::move(other.path_);
    db_ = std::exchange(other.db_, nullptr);
    transaction_depth_ = std::exchange(other.transaction_depth_, 0);
    mutex_ = std::move(other.mutex_);
  }
  return *this;
}

FeatureRegistry::~FeatureRegistry() {
  // An open transaction here means an exception is unwinding past transaction(); it already
  // rolled back. sqlite3_close_v2 rolls back anything else.
  if (db_) sqlite3_close_v2(db_);
}

void FeatureRegistry::exec(const std::string& sql) { exec_sql(db_, path_, sql.c_str(), sql); }

void FeatureRegistry::transaction(const std::function<void()>& fn) {
  std::lock_guard lock(*mutex_);
  if (transaction_depth_ > 0) {
    // Joined: the outermost call commits or rolls back everything.
    ++transaction_depth_;
    try {
      fn();
    } catch (...) {
      --transaction_depth_;
      throw;
    }
    --transaction_depth_;
    return;
  }
  exec("BEGIN IMMEDIATE");
  transaction_depth_ = 1;
  try {
    fn();
    exec("COMMIT");
  } catch (...) {
    transaction_depth_ = 0;
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  transaction_depth_ = 0;
}

// ---- Writes -------------------------------------------------------------------------------------

void FeatureRegistry::record_run_start(const std::string& feature, const std::string& run_id,
                                       const std::string& version, const std::string& params_hash,
                                       std::optional<std::string> params_json,
                                       std::optional<std::string> inputs_json) {
  transaction([&] {
    Statement st(db_, path_,
                 "INSERT OR IGNORE INTO feature_runs (feature, run_id, version, params_hash, params_json, inputs_json, "
                 "started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 fmt::format("record_run_start(feature='{}', run_id='{}')", feature, run_id));
    st.bind(1, feature).bind(2, run_id).bind(3, version).bind(4, params_hash);
    st.bind_optional(5, params_json).bind_optional(6, inputs_json).bind(7, now_iso());
    st.run();
  });
}

void FeatureRegistry::record_entry(const RegistryEntry& entry) { record_entries({entry}); }

void FeatureRegistry::record_entries(const std::vector<RegistryEntry>& entries) {
  if (entries.empty()) return;
  transaction([&] {
    Statement st(db_, path_,
                 "INSERT OR REPLACE INTO feature_entries (feature, run_id, group_, sequence, abs_path, n_rows) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 "record_entries (INSERT INTO feature_entries)");
    for (const RegistryEntry& e : entries) {
      st.bind(1, e.feature).bind(2, e.run_id).bind(3, e.group).bind(4, e.sequence).bind(5, e.abs_path);
      st.bind(6, e.n_rows);
      try {
        st.run();
      } catch (const IoError& err) {
        // Name the entry: the usual cause is a missing run row (record_run_start not called).
        throw IoError(fmt::format("{} [entry feature='{}', run_id='{}', group='{}', sequence='{}']", err.what(),
                                  e.feature, e.run_id, e.group, e.sequence));
      }
      st.reset();
    }
  });
}

void FeatureRegistry::mark_finished(const std::string& feature, const std::string& run_id) {
  transaction([&] {
    Statement st(db_, path_,
                 "UPDATE feature_runs SET finished_at = ? "
                 "WHERE feature = ? AND run_id = ? AND (finished_at = '' OR finished_at IS NULL)",
                 fmt::format("mark_finished(feature='{}', run_id='{}')", feature, run_id));
    st.bind(1, now_iso()).bind(2, feature).bind(3, run_id);
    st.run();
  });
}

void FeatureRegistry::record_dependency(const std::string& feature, const std::string& run_id,
                                        const std::string& upstream_feature, const std::string& upstream_run_id) {
  std::lock_guard lock(*mutex_);
  // Placeholder values for an upstream run the registry has not seen, read before taking the
  // write lock: index.csv is the source of truth (§0.1), so its first row of the run says what the
  // registry would have recorded.
  std::string version, params_hash, started_at, finished_at;
  const bool upstream_known = has_run(upstream_feature, upstream_run_id);
  if (!upstream_known) {
    fs::path index = path_.parent_path() / upstream_feature / "index.csv";
    std::error_code ec;
    if (fs::is_regular_file(index, ec)) {
      try {
        TextCsv csv = TextCsv::read(index);
        for (std::size_t row = 0; row < csv.rows.size(); ++row) {
          if (csv.cell(row, "run_id") != upstream_run_id) continue;
          version = csv.cell(row, "version");
          params_hash = csv.cell(row, "params_hash");
          started_at = csv.cell(row, "started_at");
          finished_at = csv.cell(row, "finished_at");
          break;
        }
      } catch (const Error&) {
        // An unreadable index only costs the placeholder its details; lineage still works.
      }
    }
  }
  transaction([&] {
    if (!upstream_known) {
      Statement st(db_, path_,
                   "INSERT OR IGNORE INTO feature_runs (feature, run_id, version, params_hash, params_json, "
                   "inputs_json, started_at, finished_at) VALUES (?, ?, ?, ?, NULL, NULL, ?, ?)",
                   fmt::format("record_dependency: placeholder run (feature='{}', run_id='{}')", upstream_feature,
                               upstream_run_id));
      st.bind(1, upstream_feature).bind(2, upstream_run_id).bind(3, version).bind(4, params_hash);
      st.bind(5, started_at).bind(6, finished_at);
      st.run();
    }
    Statement st(db_, path_,
                 "INSERT OR IGNORE INTO dependencies (feature, run_id, upstream_feature, upstream_run_id) "
                 "VALUES (?, ?, ?, ?)",
                 fmt::format("record_dependency(feature='{}', run_id='{}', upstream_feature='{}', "
                             "upstream_run_id='{}'; the run itself must be recorded first)",
                             feature, run_id, upstream_feature, upstream_run_id));
    st.bind(1, feature).bind(2, run_id).bind(3, upstream_feature).bind(4, upstream_run_id);
    st.run();
  });
}

int64_t FeatureRegistry::migrate_from_csv(const fs::path& features_root) {
  std::lock_guard lock(*mutex_);
  // `<root>/*/index.csv`, one level deep, in sorted path order (Python's sorted(glob)); pathlib's
  // `*` also matches hidden folders.
  std::vector<fs::path> indexes;
  std::error_code ec;
  if (!fs::is_directory(features_root, ec)) return 0;
  for (fs::directory_iterator it(features_root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (!it->is_directory(ec2)) continue;
    fs::path index = it->path() / "index.csv";
    if (fs::is_regular_file(index, ec2)) indexes.push_back(index);
  }
  std::sort(indexes.begin(), indexes.end(),
            [](const fs::path& a, const fs::path& b) { return a.parent_path().filename().string() <
                                                              b.parent_path().filename().string(); });

  int64_t count = 0;
  transaction([&] {
    Statement run_st(db_, path_,
                     "INSERT OR IGNORE INTO feature_runs (feature, run_id, version, params_hash, started_at, "
                     "finished_at) VALUES (?, ?, ?, ?, ?, ?)",
                     "migrate_from_csv (INSERT INTO feature_runs)");
    Statement entry_st(db_, path_,
                       "INSERT OR IGNORE INTO feature_entries (feature, run_id, group_, sequence, abs_path, n_rows) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       "migrate_from_csv (INSERT INTO feature_entries)");
    for (const fs::path& index : indexes) {
      const std::string feature = index.parent_path().filename().string();
      TextCsv csv;
      try {
        csv = TextCsv::read(index);
      } catch (const Error&) {
        continue;  // unreadable: skipped, as the reference skips what pandas cannot read
      }
      if (csv.rows.empty() || !csv.column_index("run_id")) continue;
      const bool has_started = csv.column_index("started_at").has_value();
      // Rows grouped by run_id ascending, file order kept within a run (pandas groupby).
      std::map<std::string, std::vector<std::size_t>> runs;
      for (std::size_t row = 0; row < csv.rows.size(); ++row) runs[std::string(csv.cell(row, "run_id"))].push_back(row);
      for (const auto& [run_id, rows] : runs) {
        const std::size_t first = rows.front();
        run_st.bind(1, feature).bind(2, run_id).bind(3, csv.cell(first, "version"));
        run_st.bind(4, csv.cell(first, "params_hash"));
        // The reference falls back to now() only when the column is absent, not when it is empty.
        run_st.bind(5, has_started ? std::string(csv.cell(first, "started_at")) : now_iso());
        run_st.bind(6, csv.cell(first, "finished_at"));
        try {
          run_st.run();
        } catch (const IoError& err) {
          throw IoError(fmt::format("{} [from {}]", err.what(), index.string()));
        }
        run_st.reset();
        for (std::size_t row : rows) {
          entry_st.bind(1, feature).bind(2, run_id).bind(3, csv.cell(row, "group")).bind(4, csv.cell(row, "sequence"));
          entry_st.bind(5, csv.cell(row, "abs_path")).bind(6, parse_n_rows_lenient(csv.cell(row, "n_rows")));
          try {
            entry_st.run();
          } catch (const IoError& err) {
            throw IoError(fmt::format("{} [from {}]", err.what(), index.string()));
          }
          entry_st.reset();
          ++count;
        }
      }
    }
  });
  return count;
}

// ---- Reads --------------------------------------------------------------------------------------

std::string FeatureRegistry::latest_run_id(const std::string& feature) {
  std::lock_guard lock(*mutex_);
  Statement st(db_, path_,
               fmt::format("SELECT run_id FROM feature_runs WHERE feature = ? ORDER BY {} LIMIT 1", kFinishedFirst),
               fmt::format("latest_run_id(feature='{}')", feature));
  st.bind(1, feature);
  if (!st.step()) throw InputError(fmt::format("No runs found for feature '{}'", feature));
  return st.text(0);
}

std::vector<RegistryRun> FeatureRegistry::list_runs(const std::string& feature) {
  std::lock_guard lock(*mutex_);
  Statement st(db_, path_,
               fmt::format("SELECT feature, run_id, version, params_hash, params_json, inputs_json, started_at, "
                           "finished_at FROM feature_runs WHERE feature = ? ORDER BY {}",
                           kFinishedFirst),
               fmt::format("list_runs(feature='{}')", feature));
  st.bind(1, feature);
  std::vector<RegistryRun> runs;
  while (st.step()) {
    runs.push_back(RegistryRun{st.text(0), st.text(1), st.text(2), st.text(3), st.optional_text(4),
                               st.optional_text(5), st.text(6), st.text(7)});
  }
  return runs;
}

std::vector<std::string> FeatureRegistry::list_features() {
  std::lock_guard lock(*mutex_);
  Statement st(db_, path_, "SELECT DISTINCT feature FROM feature_runs ORDER BY feature", "list_features");
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

std::vector<RegistryEntry> FeatureRegistry::list_entries(const std::string& feature, std::optional<std::string> run_id) {
  std::lock_guard lock(*mutex_);
  const std::string rid = run_id ? *run_id : latest_run_id(feature);
  Statement st(db_, path_,
               "SELECT feature, run_id, group_, sequence, abs_path, n_rows FROM feature_entries "
               "WHERE feature = ? AND run_id = ? ORDER BY group_, sequence",
               fmt::format("list_entries(feature='{}', run_id='{}')", feature, rid));
  st.bind(1, feature).bind(2, rid);
  std::vector<RegistryEntry> out;
  while (st.step()) out.push_back(RegistryEntry{st.text(0), st.text(1), st.text(2), st.text(3), st.text(4), st.int64(5)});
  return out;
}

int64_t FeatureRegistry::entry_count(const std::string& feature, const std::string& run_id) {
  std::lock_guard lock(*mutex_);
  Statement st(db_, path_, "SELECT COUNT(*) FROM feature_entries WHERE feature = ? AND run_id = ?",
               fmt::format("entry_count(feature='{}', run_id='{}')", feature, run_id));
  st.bind(1, feature).bind(2, run_id);
  return st.step() ? st.int64(0) : 0;
}

bool FeatureRegistry::has_run(const std::string& feature, const std::string& run_id) {
  std::lock_guard lock(*mutex_);
  Statement st(db_, path_, "SELECT 1 FROM feature_runs WHERE feature = ? AND run_id = ? LIMIT 1",
               fmt::format("has_run(feature='{}', run_id='{}')", feature, run_id));
  st.bind(1, feature).bind(2, run_id);
  return st.step();
}

bool FeatureRegistry::run_is_finished(const std::string& feature, const std::string& run_id) {
  std::lock_guard lock(*mutex_);
  Statement st(db_, path_, "SELECT finished_at FROM feature_runs WHERE feature = ? AND run_id = ?",
               fmt::format("run_is_finished(feature='{}', run_id='{}')", feature, run_id));
  st.bind(1, feature).bind(2, run_id);
  return st.step() && !st.text(0).empty();
}

std::vector<std::pair<std::string, std::string>> FeatureRegistry::pending_entries(
    const std::string& feature, const std::string& run_id,
    const std::set<std::pair<std::string, std::string>>& all_entries) {
  std::set<std::pair<std::string, std::string>> recorded;
  {
    std::lock_guard lock(*mutex_);
    Statement st(db_, path_, "SELECT group_, sequence FROM feature_entries WHERE feature = ? AND run_id = ?",
                 fmt::format("pending_entries(feature='{}', run_id='{}')", feature, run_id));
    st.bind(1, feature).bind(2, run_id);
    while (st.step()) recorded.emplace(st.text(0), st.text(1));
  }
  // std::set orders std::string pairs bytewise, which is Python's sorted() for UTF-8 text.
  std::vector<std::pair<std::string, std::string>> out;
  std::set_difference(all_entries.begin(), all_entries.end(), recorded.begin(), recorded.end(),
                      std::back_inserter(out));
  return out;
}

std::vector<std::pair<std::string, std::string>> FeatureRegistry::get_dependencies(const std::string& feature,
                                                                                    const std::string& run_id) {
  std::lock_guard lock(*mutex_);
  // The primary key allows one upstream run per upstream feature; ordered by it for determinism.
  Statement st(db_, path_,
               "SELECT upstream_feature, upstream_run_id FROM dependencies WHERE feature = ? AND run_id = ? "
               "ORDER BY upstream_feature, upstream_run_id",
               fmt::format("get_dependencies(feature='{}', run_id='{}')", feature, run_id));
  st.bind(1, feature).bind(2, run_id);
  std::vector<std::pair<std::string, std::string>> out;
  while (st.step()) out.emplace_back(st.text(0), st.text(1));
  return out;
}

Json FeatureRegistry::lineage(const std::string& feature, const std::string& run_id) {
  std::lock_guard lock(*mutex_);
  // `path` holds the runs from the root down to the current one; a run met again on its own path
  // is a cycle (possible only through hand-written or corrupted rows) and is cut there.
  std::vector<std::pair<std::string, std::string>> path;
  std::function<Json(const std::string&, const std::string&)> visit = [&](const std::string& f,
                                                                         const std::string& r) -> Json {
    Json node = Json::object();
    node["feature"] = f;
    node["run_id"] = r;
    node["upstream"] = Json::array();
    const std::pair<std::string, std::string> key{f, r};
    if (std::find(path.begin(), path.end(), key) != path.end()) {
      node["cycle"] = true;
      return node;
    }
    path.push_back(key);
    for (const auto& [uf, ur] : get_dependencies(f, r)) node["upstream"].push_back(visit(uf, ur));
    path.pop_back();
    return node;
  };
  return visit(feature, run_id);
}

// ---- Training progress ----------------------------------------------------------------------------

void FeatureRegistry::record_progress(const std::string& job_id, const std::string& step_type, int64_t step_index,
                                      int64_t step_total, const std::string& metric_json, const std::string& message) {
  transaction([&] {
    Statement st(db_, path_,
                 "INSERT OR REPLACE INTO training_progress (job_id, step_type, step_index, step_total, metric_json, "
                 "message, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 fmt::format("record_progress(job_id='{}', step_type='{}', step_index={})", job_id, step_type,
                             step_index));
    st.bind(1, job_id).bind(2, step_type).bind(3, step_index).bind(4, step_total);
    st.bind(5, metric_json).bind(6, message).bind(7, now_iso());
    st.run();
  });
}

std::vector<ProgressRow> FeatureRegistry::read_progress(const std::string& job_id) {
  std::lock_guard lock(*mutex_);
  return read_progress_rows(db_, path_, job_id);
}

std::vector<ProgressRow> read_progress(const fs::path& db_path, const std::string& job_id) {
  // No CREATE: a reader polling a job must not leave an empty database behind a typo.
  Connection db = open_connection(db_path, /*create=*/false);
  return read_progress_rows(db.get(), db_path, job_id);
}

// ---- Introspection ------------------------------------------------------------------------------

std::vector<RegistryColumn> FeatureRegistry::describe_table(const std::string& table) {
  std::lock_guard lock(*mutex_);
  Statement st(db_, path_, "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
               fmt::format("describe_table('{}')", table));
  st.bind(1, table);
  std::vector<RegistryColumn> cols;
  while (st.step())
    cols.push_back(RegistryColumn{st.text(0), st.text(1), st.int64(2) != 0, st.optional_text(3),
                                  static_cast<int>(st.int64(4))});
  return cols;
}

std::string FeatureRegistry::journal_mode() {
  std::lock_guard lock(*mutex_);
  Statement st(db_, path_, "PRAGMA journal_mode", "PRAGMA journal_mode");
  return st.step() ? st.text(0) : std::string();
}

}  // namespace mosaic

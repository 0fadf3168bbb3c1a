// Pipeline files (YAML) for the command line:
//
//   dataset: demo_data            # optional; --dataset overrides it; relative to this file
//   defaults:                     # run options for every step (run_feature keyword names)
//     parallel_workers: 2
//   steps:
//     - name: speed
//       feature: speed-angvel
//       params: {fps: 30.0}
//       inputs: [smooth]          # upstream step names; none = tracks
//       run: {overlap_frames: 4}  # this step's run options
//     - name: report
//       run: [python3, report.py] # a callback: called with DATASET_DIR RESULTS_JSON appended
//       depends_on: [speed]
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <fmt/format.h>

#include "io/manifest_yaml.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/pipeline.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace mosaic {

namespace {

std::string at(const fs::path& file, const YAML::Node& node) {
  return fmt::format("{}:{}", file.string(), node.Mark().line + 1);
}

std::vector<std::string> string_list(const fs::path& file, const YAML::Node& node, const std::string& key) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return out;
  }
  if (!node.IsSequence())
    throw InputError(fmt::format("{}: '{}' must be a list of names", at(file, node), key));
  for (const auto& item : node) {
    if (!item.IsScalar()) throw InputError(fmt::format("{}: '{}' must be a list of names", at(file, item), key));
    out.push_back(item.Scalar());
  }
  return out;
}

// Run `argv` (no shell) with the dataset folder and a results file appended.
void run_callback_command(const std::string& step, const std::vector<std::string>& argv, const Dataset& ds,
                          const StepResults& results) {
  Json j = Json::object();
  for (const auto& [name, r] : results) j[name] = r.to_json();
  fs::path results_file = fs::temp_directory_path() / fmt::format("mosaic-results-{}-{}.json", ::getpid(), step);
  PyDumpOptions opt;
  opt.indent = 2;
  write_file_atomic(results_file, python_json_dumps(j, opt));
  std::vector<std::string> args = argv;
  args.push_back(ds.base_dir().string());
  args.push_back(results_file.string());
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, cargs[0], nullptr, nullptr, cargs.data(), environ);
  if (rc != 0) {
    std::error_code ec;
    fs::remove(results_file, ec);
    throw InputError(fmt::format("callback step '{}': cannot run '{}': {}", step, argv[0], std::strerror(rc)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::error_code ec;
  fs::remove(results_file, ec);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw StateError(fmt::format("callback step '{}': '{}' {}", step, join_names(argv, " "),
                                 WIFEXITED(status) ? fmt::format("exited with status {}", WEXITSTATUS(status))
                                                   : std::string("was killed by a signal")));
}

}  // namespace

PipelineFile load_pipeline_file(const fs::path& path) {
  if (!fs::exists(path)) throw IoError(fmt::format("{}: no such pipeline file", path.string()));
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}:{}: invalid YAML: {}", path.string(), e.mark.line + 1, e.msg));
  }
  if (!root.IsMap())
    throw InputError(fmt::format("{}: a pipeline file is a mapping with 'steps' (and optional 'dataset', 'defaults')",
                                 path.string()));
  static const std::vector<std::string> top_keys{"dataset", "defaults", "steps"};
  PipelineFile out;
  out.path = path;
  StepRunOptions defaults;
  YAML::Node steps;
  for (const auto& kv : root) {
    std::string key = kv.first.Scalar();
    if (key == "dataset") {
      fs::path d = kv.second.Scalar();
      out.dataset = d.is_absolute() ? d : (fs::absolute(path).parent_path() / d).lexically_normal();
    } else if (key == "defaults") {
      defaults = StepRunOptions::from_json(yaml_to_json(kv.second, path.string()), at(path, kv.first) + ": defaults");
    } else if (key == "steps") {
      steps = kv.second;
    } else {
      std::string hint = did_you_mean(key, top_keys);
      throw InputError(fmt::format("{}: unknown key '{}'{}; a pipeline file has: dataset, defaults, steps",
                                   at(path, kv.first), key, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
    }
  }
  if (!steps || !steps.IsSequence() || steps.size() == 0)
    throw InputError(fmt::format("{}: 'steps' must be a non-empty list of steps", path.string()));
  out.pipeline = Pipeline(defaults);
  static const std::vector<std::string> step_keys{"name", "feature", "params", "inputs", "run", "depends_on"};
  for (const auto& node : steps) {
    if (!node.IsMap()) throw InputError(fmt::format("{}: each step is a mapping with 'name'", at(path, node)));
    std::string name;
    std::string feature;
    Json params = Json::object();
    std::vector<std::string> inputs, depends_on;
    YAML::Node run;
    for (const auto& kv : node) {
      std::string key = kv.first.Scalar();
      if (key == "name") name = kv.second.Scalar();
      else if (key == "feature") feature = kv.second.Scalar();
      else if (key == "params") {
        params = yaml_to_json(kv.second, path.string());
        if (params.is_null()) params = Json::object();
        if (!params.is_object())
          throw InputError(fmt::format("{}: 'params' must be a mapping of parameter names to values", at(path, kv.second)));
      } else if (key == "inputs") inputs = string_list(path, kv.second, key);
      else if (key == "depends_on") depends_on = string_list(path, kv.second, key);
      else if (key == "run") run = kv.second;
      else {
        std::string hint = did_you_mean(key, step_keys);
        throw InputError(fmt::format("{}: unknown step key '{}'{}; a step has: {}", at(path, kv.first), key,
                                     hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint), join_names(step_keys)));
      }
    }
    std::string where = at(path, node);
    if (name.empty()) throw InputError(fmt::format("{}: step without a 'name'", where));
    try {
      if (feature.empty()) {
        // A callback step: run: [command, args...]
        if (!run || !run.IsSequence() || run.size() == 0)
          throw InputError(fmt::format("step '{}' needs 'feature' (a feature step) or 'run: [command, args...]' (a "
                                       "callback step)",
                                       name));
        if (!inputs.empty() || !params.empty())
          throw InputError(fmt::format("callback step '{}' takes 'depends_on', not 'inputs' or 'params'", name));
        std::vector<std::string> argv = string_list(path, run, "run");
        CallbackStep cb;
        cb.name = name;
        cb.depends_on = depends_on;
        cb.description = join_names(argv, " ");
        cb.fn = [name, argv](const Dataset& ds, const StepResults& results) {
          run_callback_command(name, argv, ds, results);
        };
        out.pipeline.add(std::move(cb));
      } else {
        if (!depends_on.empty())
          throw InputError(fmt::format("feature step '{}' takes 'inputs' (upstream steps), not 'depends_on'", name));
        FeatureStep fs_step;
        fs_step.name = name;
        fs_step.feature = feature;
        fs_step.params = params;
        fs_step.input_names = inputs;
        if (run) fs_step.run_options = StepRunOptions::from_json(yaml_to_json(run, path.string()), "run");
        // Check the params now, so a typo is reported with its line before anything runs.
        (void)find_feature(feature).schema().from_overrides(
            [&] {
              Json p = params;
              for (auto it = p.begin(); it != p.end(); ++it)
                if (it.value().is_object() && it.value().contains("step"))
                  it.value() = Json::object();  // resolved at run time
              return p;
            }(),
            feature);
        out.pipeline.add(std::move(fs_step));
      }
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {}", where, e.what()));
    }
  }
  return out;
}

}  // namespace mosaic

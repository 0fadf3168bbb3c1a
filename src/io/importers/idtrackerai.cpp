// idtrackerai.cpp: idtracker.ai trajectory `.npy` files -> one canonical track table.
//
// Two layouts are accepted:
//  * the trajectories dict idtracker.ai saves (`trajectories.npy`, `trajectories_wo_gaps.npy`):
//    a 0-d object array holding a pickled dict with `trajectories` (frames x N x 2, NaN where
//    an animal was not identified), `frames_per_second`, `body_length`, `id_probabilities`, ...
//    It is decoded with our restricted unpickler (io/pickle.hpp); nothing is executed.
//  * a bare float array frames x N x 2 (what trajectorytools and many scripts save).
//
// Rules (what ../shared/data/idtrackerai_fish/tracks/*.csv were built with):
//  * frame = 0..frames-1, id = 0..N-1 (the trajectories' animal axis), rows sorted by frame then
//    id: the complete grid. X, Y = the centroid; non-finite -> missing. ANGLE is empty (no
//    keypoints); there are no pose columns.
//  * fps: options.fps, else the dict's `frames_per_second`, else unknown (time empty).
//    time = frame / fps.
//  * sequence (default): the file stem, except for idtracker.ai's fixed file names
//    (`trajectories`, `trajectories_wo_gaps`, `with_gaps`, `without_gaps`), which say nothing
//    about the recording: then the session folder's name with its `session_` prefix removed
//    (`session_fish8/trajectories/trajectories.npy` -> `fish8`). options.sequence overrides it.
//    The shared CSV names (fish8_idtrackerai_example, fish15_with_points) are not file stems,
//    so they are passed as options.sequence.
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "io/pickle.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/importers.hpp"
#include "mosaic/npz.hpp"

namespace fs = std::filesystem;

namespace mosaic {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string default_sequence(const fs::path& file) {
  const std::string stem = file.stem().string();
  if (stem != "trajectories" && stem != "trajectories_wo_gaps" && stem != "with_gaps" && stem != "without_gaps")
    return stem;
  fs::path dir = fs::absolute(file).parent_path();
  if (dir.filename() == "trajectories" || dir.filename() == "trajectories_wo_gaps") dir = dir.parent_path();
  std::string name = dir.filename().string();
  if (name.rfind("session_", 0) == 0 && name.size() > 8) name = name.substr(8);
  return name.empty() ? stem : name;
}

}  // namespace

ImportedSequence import_idtrackerai_npy(const fs::path& file, const ImportOptions& options) {
  const std::string where = file.string();
  if (options.fps && !(std::isfinite(*options.fps) && *options.fps > 0))
    throw InputError(fmt::format("{}: fps must be a positive number, got {}", where, *options.fps));
  NpyArray root;
  try {
    root = read_npy(file);
  } catch (const IoError& e) {
    throw IoError(fmt::format("{} (expected an idtracker.ai trajectories .npy)", e.what()));
  }

  const NpyArray* traj = &root;
  std::optional<double> fps = options.fps;
  if (root.dtype == NpyDType::kObject) {
    // np.save(dict) gives a 0-d object array holding the dict.
    const PyValue* dict = root.objects.size() == 1 ? root.objects[0].get() : nullptr;
    if (dict == nullptr || dict->kind != PyValue::Kind::kDict)
      throw InputError(fmt::format("{}: not an idtracker.ai trajectories file (expected a pickled dict or a frames x "
                                   "individuals x 2 array, found an object {} holding {})",
                                   where, root.describe(), dict ? dict->type_name() : "several objects"));
    const PyValue* t = dict->find("trajectories");
    if (t == nullptr)
      throw InputError(fmt::format("{}: not an idtracker.ai trajectories file (dict has no key 'trajectories'; "
                                   "found: {})",
                                   where, join_names(dict->keys())));
    if (t->kind != PyValue::Kind::kArray || !t->array)
      throw InputError(fmt::format("{}: 'trajectories' is a {}, expected a frames x individuals x 2 array", where,
                                   t->type_name()));
    traj = t->array.get();
    if (!fps) {
      if (const PyValue* f = dict->find("frames_per_second"); f != nullptr && f->kind != PyValue::Kind::kNone) {
        std::optional<double> v = f->as_number();
        if (!v || !std::isfinite(*v) || *v <= 0)
          throw InputError(fmt::format("{}: 'frames_per_second' is {}, expected a positive number", where,
                                       v ? fmt::format("{}", *v) : f->type_name()));
        fps = *v;
      }
    }
  }
  if (traj->shape.size() != 3 || traj->shape[2] != 2 || traj->dtype == NpyDType::kUnicode ||
      traj->dtype == NpyDType::kObject)
    throw InputError(fmt::format("{}: not an idtracker.ai trajectories file (expected a frames x individuals x 2 "
                                 "numeric array, found a {})",
                                 where, traj->describe()));

  const auto n_frames = static_cast<std::size_t>(traj->shape[0]);
  const auto n_ids = static_cast<std::size_t>(traj->shape[1]);
  std::vector<double> xy = traj->to_double();  // [frame][id][x|y], C order
  const std::size_t n_rows = n_frames * n_ids;
  std::vector<int64_t> frame_col(n_rows), id_col(n_rows);
  std::vector<double> time_col(n_rows), x_col(n_rows), y_col(n_rows);
  for (std::size_t f = 0; f < n_frames; ++f) {
    const double t = fps ? static_cast<double>(f) / *fps : kNaN;
    for (std::size_t a = 0; a < n_ids; ++a) {
      const std::size_t row = f * n_ids + a;
      frame_col[row] = static_cast<int64_t>(f);
      id_col[row] = static_cast<int64_t>(a);
      time_col[row] = t;
      const double x = xy[2 * row];
      const double y = xy[2 * row + 1];
      x_col[row] = std::isfinite(x) ? x : kNaN;
      y_col[row] = std::isfinite(y) ? y : kNaN;
    }
  }

  ImportedSequence out;
  out.group = options.group;
  out.sequence = options.sequence.empty() ? default_sequence(file) : options.sequence;
  out.tracks.add_column("frame", Column::from_int64(std::move(frame_col)));
  out.tracks.add_column("time", Column::from_float64(std::move(time_col)));
  out.tracks.add_column("id", Column::from_int64(std::move(id_col)));
  out.tracks.add_column("X", Column::from_float64(std::move(x_col)));
  out.tracks.add_column("Y", Column::from_float64(std::move(y_col)));
  out.tracks.add_column("ANGLE", Column::constant_float64(kNaN, n_rows));
  out.sources = {file};
  out.fps = fps;
  return out;
}

}  // namespace mosaic

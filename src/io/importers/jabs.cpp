// JABS pose-estimation HDF5 importer (Kumar lab JABS, pose versions 2 and 4+).
//
// Layout (group `poseest`): `points` (frame, instance slot, 12, 2) stored as (y, x) unsigned
// pixels; `confidence` (frame, slot, 12); `instance_embed_id` (frame, slot): the identity
// 1..N of the animal in that slot, 0 = empty slot; `instance_count` (frame): slots in use;
// `instance_id_center` (N, ...): one row per identity. Pose v2 is single-mouse: points
// (frame, 12, 2), confidence (frame, 12). Pose v3 has tracklets but no identities and is refused.
//
// Rules: id = instance_embed_id - 1 (so the id is stable when animals change slots); the number
// of ids is the larger of instance_id_center's rows and the largest embed id; a slot is used when
// slot < instance_count (if stored) and its embed id is not 0; a keypoint with confidence <= 0 is
// missing (JABS writes (0, 0) for it); poseP = confidence. If one identity fills two slots in a
// frame, the first slot wins and a note counts such frames. JABS stores no frame rate: 30 fps
// (the JABS acquisition rate) is assumed unless options.fps is given. Sequence = file name
// without "_pose_est_v<N>".
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <numeric>
#include <regex>
#include <string>
#include <vector>

#include "io/importers/importer_util.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/importers.hpp"

namespace fs = std::filesystem;

namespace mosaic {
namespace {

const std::vector<std::string> kJabsKeypoints = {
    "NOSE",         "LEFT_EAR",      "RIGHT_EAR",      "BASE_NECK", "LEFT_FRONT_PAW", "RIGHT_FRONT_PAW",
    "CENTER_SPINE", "LEFT_REAR_PAW", "RIGHT_REAR_PAW", "BASE_TAIL", "MID_TAIL",       "TIP_TAIL"};
constexpr double kJabsDefaultFps = 30.0;

std::string shape_text(const std::vector<hsize_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + ")";
}

std::string jabs_sequence_name(const fs::path& file) {
  std::string stem = file.stem().string();
  static const std::regex kSuffix("_pose_est_v[0-9]+$");
  std::string out = std::regex_replace(stem, kSuffix, "");
  return out.empty() ? stem : out;
}

}  // namespace

ImportedSequence import_jabs_h5(const fs::path& file, const ImportOptions& options) {
  importer_detail::check_fps(options.fps, file);
  const std::string where = file.string();
  importer_detail::Hdf5Reader h5(file, "a JABS pose HDF5 file (poseest/points, poseest/confidence)");
  h5.require("poseest/points");
  h5.require("poseest/confidence");
  std::vector<std::string> notes;

  std::vector<hsize_t> pshape, cshape;
  const std::vector<double> points = h5.read_f64("poseest/points", &pshape);
  const std::vector<double> confidence = h5.read_f64("poseest/confidence", &cshape);
  const std::size_t n_kp = kJabsKeypoints.size();
  const bool multi = pshape.size() == 4;
  if (!(pshape.size() == 3 || multi) || pshape[pshape.size() - 2] != n_kp || pshape.back() != 2)
    throw InputError(fmt::format("{}: dataset 'poseest/points' has shape {}, expected (frame, instance, 12, 2) or "
                                 "(frame, 12, 2)",
                                 where, shape_text(pshape)));
  std::vector<hsize_t> expected_conf(pshape.begin(), pshape.end() - 1);
  if (cshape != expected_conf)
    throw InputError(fmt::format("{}: dataset 'poseest/confidence' has shape {}, expected {} to match poseest/points",
                                 where, shape_text(cshape), shape_text(expected_conf)));
  const std::size_t n_frames = static_cast<std::size_t>(pshape[0]);
  const std::size_t n_slots = multi ? static_cast<std::size_t>(pshape[1]) : 1;

  // Identity of each (frame, slot): embed id 1..N, 0 = none.
  std::vector<int64_t> embed(n_frames * n_slots, 1);
  std::size_t n_ids = 1;
  if (multi) {
    if (!h5.has("poseest/instance_embed_id")) {
      auto version = h5.int_attribute("poseest", "version");
      throw InputError(fmt::format("{}: JABS pose{} has no 'poseest/instance_embed_id' (animal identities); expected "
                                   "pose version 4 or later",
                                   where, version && !version->empty() ? fmt::format(" v{}", version->front()) : ""));
    }
    std::vector<hsize_t> eshape;
    embed = h5.read_i64("poseest/instance_embed_id", &eshape);
    if (eshape != std::vector<hsize_t>{pshape[0], pshape[1]})
      throw InputError(fmt::format("{}: dataset 'poseest/instance_embed_id' has shape {}, expected ({}, {})", where,
                                   shape_text(eshape), n_frames, n_slots));
    if (h5.has("poseest/instance_count")) {
      std::vector<hsize_t> nshape;
      std::vector<int64_t> count = h5.read_i64("poseest/instance_count", &nshape);
      if (nshape != std::vector<hsize_t>{pshape[0]})
        throw InputError(fmt::format("{}: dataset 'poseest/instance_count' has shape {}, expected ({})", where,
                                     shape_text(nshape), n_frames));
      for (std::size_t f = 0; f < n_frames; ++f)
        for (std::size_t s = static_cast<std::size_t>(std::max<int64_t>(count[f], 0)); s < n_slots; ++s)
          embed[f * n_slots + s] = 0;
    }
    int64_t max_embed = 0;
    for (int64_t e : embed) {
      if (e < 0)
        throw InputError(fmt::format("{}: dataset 'poseest/instance_embed_id' holds {}, expected 0 (no animal) or an "
                                     "identity >= 1",
                                     where, e));
      max_embed = std::max(max_embed, e);
    }
    n_ids = static_cast<std::size_t>(max_embed);
    if (h5.has("poseest/instance_id_center")) {
      std::vector<hsize_t> centre = h5.shape("poseest/instance_id_center");
      if (!centre.empty()) n_ids = std::max(n_ids, static_cast<std::size_t>(centre[0]));
    }
    if (n_ids == 0) throw InputError(fmt::format("{}: no JABS instance has an identity (poseest/instance_embed_id is all 0)", where));
  }

  std::vector<int64_t> frames(n_frames);
  std::iota(frames.begin(), frames.end(), int64_t{0});
  importer_detail::PoseGrid grid(std::move(frames), n_ids, n_kp);
  std::vector<uint8_t> filled(n_ids, 0);
  std::size_t clash_frames = 0;
  for (std::size_t f = 0; f < n_frames; ++f) {
    std::fill(filled.begin(), filled.end(), uint8_t{0});
    bool clash = false;
    for (std::size_t s = 0; s < n_slots; ++s) {
      const int64_t e = embed[f * n_slots + s];
      if (e == 0) continue;
      const std::size_t id = static_cast<std::size_t>(e - 1);
      if (filled[id]) {
        clash = true;
        continue;
      }
      filled[id] = 1;
      const std::size_t slot = f * n_slots + s;
      for (std::size_t k = 0; k < n_kp; ++k) {
        const double conf = confidence[slot * n_kp + k];
        if (!(conf > 0.0)) continue;  // JABS: confidence 0 = not detected (coordinates 0, 0)
        const std::size_t out = grid.at(f, id, k);
        grid.y[out] = points[(slot * n_kp + k) * 2];  // stored (y, x)
        grid.x[out] = points[(slot * n_kp + k) * 2 + 1];
        grid.p[out] = conf;
      }
    }
    clash_frames += clash ? 1 : 0;
  }
  if (clash_frames > 0)
    notes.push_back(fmt::format("{} frames have one JABS identity in two instance slots; the first slot was kept",
                                clash_frames));
  if (multi) notes.push_back(fmt::format("ids 0..{} = JABS instance_embed_id 1..{}", n_ids - 1, n_ids));

  std::optional<double> fps = options.fps;
  if (!fps) {
    fps = kJabsDefaultFps;
    notes.push_back("fps not stored in JABS files: assumed 30 (the JABS acquisition rate); pass fps to override");
  }
  importer_detail::AngleKeypoints angle = importer_detail::resolve_angle_keypoints(kJabsKeypoints, options, file, notes);
  Table table = importer_detail::pose_grid_to_table(grid, fps, angle);
  ImportedSequence seq = importer_detail::make_sequence(file, options, jabs_sequence_name(file), std::move(table), fps);
  seq.keypoints = kJabsKeypoints;
  seq.notes = std::move(notes);
  return seq;
}

}  // namespace mosaic

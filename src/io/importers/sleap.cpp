// SLEAP analysis HDF5 importer (`*.analysis.h5`, written by SLEAP's "Export Analysis HDF5" and
// by sleap-io's save_analysis_h5).
//
// Datasets used: `tracks` (coordinates), `node_names`, `track_names` and, when present,
// `point_scores`. Their axis order varies:
//   - sleap-io writes a `dims` attribute per dataset (JSON list), e.g. ["frame","track","node","xy"]
//     (preset "standard") or ["track","xy","node","frame"] (preset "matlab");
//   - SLEAP's own export has no `dims` and stores the MATLAB order (track, xy, node, frame), or
//     (frame, node, xy, track) when written with the file attribute transpose=0.
// We follow `dims` when present, else the legacy rule, and check every shape against the names.
//
// Rules: a keypoint is present when x and y are finite; poseP is its point score (1 when the file
// has none). Tracks with an instance in fewer than min_track_fraction of the frames are dropped
// (named in the notes); kept tracks get ids 0.. in file order. Frames are the array index 0..n-1.
// The file stores no frame rate: time needs options.fps. Sequence = file name without
// ".analysis.h5" / ".h5".
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "io/importers/importer_util.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/importers.hpp"

namespace fs = std::filesystem;

namespace mosaic {
namespace {

using importer_detail::Hdf5Reader;

enum Axis : std::size_t { kFrame = 0, kTrack = 1, kNode = 2, kXy = 3 };
constexpr std::array<std::string_view, 4> kAxisNames = {"frame", "track", "node", "xy"};

std::string shape_text(const std::vector<hsize_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + ")";
}

// Stored position of each axis named in `dims` (a JSON list such as ["frame","track","node"]),
// or nullopt when the attribute is absent.
std::optional<std::vector<std::size_t>> dims_attribute(const Hdf5Reader& h5, std::string_view dataset,
                                                       std::size_t rank) {
  std::optional<std::string> text = h5.string_attribute(dataset, "dims");
  if (!text) return std::nullopt;
  std::vector<std::size_t> pos(4, std::numeric_limits<std::size_t>::max());
  nlohmann::json list = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  bool ok = list.is_array() && list.size() == rank;
  for (std::size_t i = 0; ok && i < rank; ++i) {
    ok = list[i].is_string();
    if (!ok) break;
    auto name = list[i].get<std::string>();
    auto it = std::find(kAxisNames.begin(), kAxisNames.end(), name);
    ok = it != kAxisNames.end() && pos[static_cast<std::size_t>(it - kAxisNames.begin())] == std::numeric_limits<std::size_t>::max();
    if (ok) pos[static_cast<std::size_t>(it - kAxisNames.begin())] = i;
  }
  if (!ok)
    throw InputError(fmt::format("{}: attribute '{}/dims' is '{}', expected a JSON list of {} distinct names among "
                                 "frame, track, node, xy",
                                 h5.path().string(), dataset, *text, rank));
  return pos;
}

// Row-major strides of a stored array, looked up by canonical axis through `pos`.
std::array<std::size_t, 4> axis_strides(const std::vector<hsize_t>& shape, const std::vector<std::size_t>& pos) {
  std::vector<std::size_t> stored(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) stored[i - 1] = stored[i] * static_cast<std::size_t>(shape[i]);
  std::array<std::size_t, 4> out{0, 0, 0, 0};
  for (std::size_t axis = 0; axis < 4; ++axis)
    if (pos[axis] < shape.size()) out[axis] = stored[pos[axis]];
  return out;
}

}  // namespace

ImportedSequence import_sleap_analysis_h5(const fs::path& file, const ImportOptions& options) {
  importer_detail::check_fps(options.fps, file);
  if (!(options.min_track_fraction >= 0.0 && options.min_track_fraction <= 1.0))
    throw InputError(fmt::format("{}: min_track_fraction must be in [0, 1], got {}", file.string(),
                                 options.min_track_fraction));
  const std::string where = file.string();
  Hdf5Reader h5(file, "a SLEAP analysis HDF5 file (datasets tracks, node_names, track_names)");
  h5.require("tracks");
  h5.require("node_names");

  const std::vector<std::string> nodes = h5.read_strings("node_names");
  std::vector<std::string> track_names = h5.has("track_names") ? h5.read_strings("track_names") : std::vector<std::string>{};
  const std::vector<hsize_t> shape = h5.shape("tracks");
  if (shape.size() != 4)
    throw InputError(fmt::format("{}: dataset 'tracks' has shape {}, expected 4 dimensions (frame, track, node, xy)", where,
                                 shape_text(shape)));

  // Axis order: the `dims` attribute, else SLEAP's legacy layout.
  std::vector<std::size_t> pos;
  std::string layout;
  if (auto dims = dims_attribute(h5, "tracks", 4)) {
    pos = *dims;
    layout = "dims attribute";
  } else {
    auto transpose = h5.int_attribute("/", "transpose");
    bool transposed = !transpose || transpose->empty() || transpose->front() != 0;
    pos = transposed ? std::vector<std::size_t>{3, 0, 2, 1} : std::vector<std::size_t>{0, 3, 1, 2};
    layout = transposed ? "SLEAP legacy (track, xy, node, frame)" : "SLEAP legacy transpose=0 (frame, node, xy, track)";
  }
  const std::size_t n_frames = static_cast<std::size_t>(shape[pos[kFrame]]);
  const std::size_t n_tracks = static_cast<std::size_t>(shape[pos[kTrack]]);
  const std::size_t n_nodes = static_cast<std::size_t>(shape[pos[kNode]]);
  if (shape[pos[kXy]] != 2 || n_nodes != nodes.size() || (!track_names.empty() && n_tracks != track_names.size()))
    throw InputError(fmt::format("{}: dataset 'tracks' has shape {}, read as (frame, track, node, xy) = ({}, {}, {}, {}) "
                                 "from the {}, which does not match node_names ({}) and track_names ({}) with xy = 2",
                                 where, shape_text(shape), n_frames, n_tracks, n_nodes, shape[pos[kXy]], layout,
                                 nodes.size(), track_names.size()));
  if (track_names.empty()) {  // single-instance projects have no tracks
    for (std::size_t t = 0; t < n_tracks; ++t) track_names.push_back(std::to_string(t));
  }
  const std::vector<double> coords = h5.read_f64("tracks");
  const auto stride = axis_strides(shape, pos);

  // point_scores: (frame, track, node) in its own `dims` order, else the tracks order without xy.
  std::vector<double> scores;
  std::array<std::size_t, 4> score_stride{0, 0, 0, 0};
  if (h5.has("point_scores")) {
    std::vector<hsize_t> score_shape;
    scores = h5.read_f64("point_scores", &score_shape);
    std::vector<std::size_t> spos;
    if (auto dims = dims_attribute(h5, "point_scores", 3)) {
      spos = *dims;
    } else {
      spos.assign(4, std::numeric_limits<std::size_t>::max());
      for (std::size_t axis = 0; axis < 3; ++axis)
        spos[axis] = pos[axis] - (pos[kXy] < pos[axis] ? 1 : 0);
    }
    bool ok = score_shape.size() == 3;
    for (std::size_t axis = 0; ok && axis < 3; ++axis) {
      const std::size_t expected = axis == kFrame ? n_frames : axis == kTrack ? n_tracks : n_nodes;
      ok = spos[axis] < 3 && score_shape[spos[axis]] == expected;
    }
    if (!ok)
      throw InputError(fmt::format("{}: dataset 'point_scores' has shape {}, expected (frame, track, node) sizes {}, {}, {} "
                                   "in the order of its dims attribute or of 'tracks'",
                                   where, shape_text(score_shape), n_frames, n_tracks, n_nodes));
    score_stride = axis_strides(score_shape, spos);
  }

  // Occupancy: frames in which the track has at least one present keypoint.
  std::vector<std::size_t> occupied(n_tracks, 0);
  for (std::size_t f = 0; f < n_frames; ++f) {
    for (std::size_t t = 0; t < n_tracks; ++t) {
      const std::size_t base = f * stride[kFrame] + t * stride[kTrack];
      for (std::size_t k = 0; k < n_nodes; ++k) {
        const std::size_t at = base + k * stride[kNode];
        if (std::isfinite(coords[at]) && std::isfinite(coords[at + stride[kXy]])) {
          ++occupied[t];
          break;
        }
      }
    }
  }
  const double needed = options.min_track_fraction * static_cast<double>(n_frames);
  std::vector<std::size_t> kept;
  std::vector<std::string> dropped;
  for (std::size_t t = 0; t < n_tracks; ++t) {
    if (static_cast<double>(occupied[t]) >= needed) kept.push_back(t);
    else dropped.push_back(fmt::format("'{}' ({})", track_names[t], occupied[t]));
  }
  std::vector<std::string> notes;
  if (kept.empty()) {
    std::size_t best = static_cast<std::size_t>(std::max_element(occupied.begin(), occupied.end()) - occupied.begin());
    throw InputError(fmt::format("{}: no SLEAP track has an instance in at least {:g}% of the {} frames "
                                 "(min_track_fraction = {}; best: track '{}' with {} frames); lower min_track_fraction",
                                 where, options.min_track_fraction * 100.0, n_frames, options.min_track_fraction,
                                 n_tracks ? track_names[best] : "-", n_tracks ? occupied[best] : 0));
  }
  if (!dropped.empty())
    notes.push_back(fmt::format("dropped {} of {} SLEAP tracks with an instance in fewer than {:g}% of the {} frames "
                                "(min_track_fraction = {}); track (frames): {}",
                                dropped.size(), n_tracks, options.min_track_fraction * 100.0, n_frames,
                                options.min_track_fraction, join_names(dropped)));
  {
    std::vector<std::string> mapping;
    for (std::size_t i = 0; i < kept.size(); ++i) mapping.push_back(fmt::format("{} = track '{}'", i, track_names[kept[i]]));
    notes.push_back(fmt::format("ids: {}", join_names(mapping)));
  }

  std::vector<int64_t> frames(n_frames);
  std::iota(frames.begin(), frames.end(), int64_t{0});
  importer_detail::PoseGrid grid(std::move(frames), kept.size(), n_nodes);
  for (std::size_t f = 0; f < n_frames; ++f) {
    for (std::size_t a = 0; a < kept.size(); ++a) {
      const std::size_t t = kept[a];
      for (std::size_t k = 0; k < n_nodes; ++k) {
        const std::size_t at = f * stride[kFrame] + t * stride[kTrack] + k * stride[kNode];
        const std::size_t out = grid.at(f, a, k);
        grid.x[out] = coords[at];
        grid.y[out] = coords[at + stride[kXy]];
        grid.p[out] = scores.empty() ? std::numeric_limits<double>::quiet_NaN()
                                     : scores[f * score_stride[kFrame] + t * score_stride[kTrack] + k * score_stride[kNode]];
      }
    }
  }

  importer_detail::AngleKeypoints angle = importer_detail::resolve_angle_keypoints(nodes, options, file, notes);
  if (!options.fps) notes.push_back("fps unknown (SLEAP analysis files store none): time is empty (pass fps to fill it)");
  Table table = importer_detail::pose_grid_to_table(grid, options.fps, angle);
  ImportedSequence seq = importer_detail::make_sequence(
      file, options, importer_detail::stem_without(file, {".analysis"}), std::move(table), options.fps);
  seq.keypoints = nodes;
  seq.notes = std::move(notes);
  return seq;
}

}  // namespace mosaic

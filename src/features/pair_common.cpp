#include "features/pair_common.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "mosaic/errors.hpp"

namespace mosaic::features {

std::size_t animals_with_rows(const AnimalTracks& animals) noexcept {
  std::size_t n = 0;
  for (std::size_t k = 0; k < animals.animals(); ++k) n += animals.rows_of(k) > 0 ? 1 : 0;
  return n;
}

void require_unique_frames(const AnimalTracks& animals, const std::string& where) {
  for (std::size_t k = 0; k < animals.animals(); ++k) {
    auto o = animals.order_of(k);
    for (std::size_t i = 1; i < o.size(); ++i)
      if (o[i] == o[i - 1])
        throw InputError(fmt::format("{}: id {} has several rows at frame {}; expected one row per animal and frame",
                                     where, animals.ids[k], o[i]));
  }
}

void throw_single_frame(const std::string& where, const AnimalTracks& animals, std::size_t a, std::size_t b,
                        std::size_t row_in_a) {
  throw InputError(fmt::format(
      "{}: ids {} and {} share a single frame ({}); the velocities need at least 2 joined frames (numpy.gradient), "
      "so the reference fails the whole sequence here",
      where, animals.ids[a], animals.ids[b], animals.order_of(a)[row_in_a]));
}

std::vector<std::size_t> FrameLayout::rows_by_frame() const {
  std::vector<std::size_t> start(present.size() + 1, 0);
  for (std::size_t f = 0; f < present.size(); ++f) start[f + 1] = start[f] + present[f];
  std::vector<std::size_t> out(start.back());
  for (std::size_t r = 0; r < frame_rank.size(); ++r) out[start[frame_rank[r]] + rank_in_frame[r]] = r;
  return out;
}

FrameLayout frame_layout(const AnimalTracks& animals) {
  FrameLayout l;
  std::vector<double> frames(animals.order.begin(), animals.order.end());
  std::sort(frames.begin(), frames.end());
  frames.erase(std::unique(frames.begin(), frames.end()), frames.end());
  const std::size_t n_rows = animals.order.size();
  l.frame_rank.resize(n_rows);
  l.rank_in_frame.resize(n_rows);
  l.present.assign(frames.size(), 0);
  for (std::size_t k = 0; k < animals.animals(); ++k) {
    // each animal's frames ascend: walk the distinct frames alongside
    std::size_t f = 0;
    for (std::size_t r = animals.offsets[k]; r < animals.offsets[k + 1]; ++r) {
      while (frames[f] < animals.order[r]) ++f;
      l.frame_rank[r] = f;
      l.rank_in_frame[r] = l.present[f]++;
    }
  }
  l.offset.resize(frames.size());
  std::size_t total = 0;
  for (std::size_t f = 0; f < frames.size(); ++f) {
    l.offset[f] = total;
    total += l.present[f] * (l.present[f] - (l.present[f] > 0 ? 1 : 0));
  }
  l.total_rows = total;
  return l;
}

}  // namespace mosaic::features

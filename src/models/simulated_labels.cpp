// simulated_labels.cpp: behaviour labels for simulated data from the simulator's ground truth
// (the demo's labels for behavior-xgb); see write_simulated_behavior_labels in simulate.hpp.
#include "models/behavior_labels.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {

int write_simulated_behavior_labels(const Dataset& dataset, const SimulationOptions& options, const std::string& group,
                                    const std::string& kind) {
  constexpr int8_t kApproach = 2, kFlee = 3;  // SimulatedBehaviour::mode values
  for (int s = 0; s < options.sequences; ++s) {
    SimulatedBehaviour truth;
    Table t = simulate_sequence(options, s, truth);
    auto frame = t.column("frame").i64();
    auto id = t.column("id").i64();
    models::PairEvents ev;
    ev.label_ids = {0, 1, 2};
    ev.label_names = {"other", "approach", "avoid"};
    ev.n_frames = options.frames;
    const auto animals = static_cast<std::size_t>(options.animals);
    // Rows are sorted by frame then id, every animal on every frame.
    for (std::size_t base = 0; base + animals <= t.num_rows(); base += animals) {
      for (std::size_t a = 0; a < animals; ++a) {
        for (std::size_t b = a + 1; b < animals; ++b) {
          const std::size_t ra = base + a, rb = base + b;
          auto towards = [&](std::size_t from, std::size_t to, int8_t mode) {
            return truth.mode[from] == mode && truth.partner[from] == id[to];
          };
          int64_t label = 0;
          if (towards(ra, rb, kFlee) || towards(rb, ra, kFlee)) label = 2;
          else if (towards(ra, rb, kApproach) || towards(rb, ra, kApproach)) label = 1;
          ev.frames.push_back(frame[ra]);
          ev.labels.push_back(label);
          ev.id1.push_back(id[ra]);
          ev.id2.push_back(id[rb]);
        }
      }
    }
    models::write_pair_labels(dataset, kind, group, simulated_sequence_name(s), ev);
  }
  return options.sequences;
}

}  // namespace mosaic

// feature_base.hpp (internal): what a feature file needs to declare and register a feature.
//
//   namespace mosaic::features {
//   namespace {
//   const FeatureInfo kInfo{.name = "speed-angvel", .version = "0.1+cpp.1", .summary = "..."};
//   const ParamSchema& Schema() { static const ParamSchema s{"SpeedAngvelParams", {...}}; return s; }
//   class SpeedAngvel final : public StatelessFeature<SpeedAngvel> {
//    public:
//     using StatelessFeature::StatelessFeature;
//     static const FeatureInfo& static_info() { return kInfo; }
//     static const ParamSchema& static_schema() { return Schema(); }
//     Table apply(const Table& df) const override;
//   };
//   }  // namespace
//   MOSAIC_REGISTER_FEATURE(SpeedAngvel);
//   }  // namespace mosaic::features
#pragma once

#include <memory>

#include "mosaic/feature.hpp"
#include "mosaic/params.hpp"

namespace mosaic::features {

/// \brief CRTP base: info() and schema() from the derived class's static_info()/static_schema().
template <class Derived>
class FeatureBase : public Feature {
 public:
  using Feature::Feature;
  const FeatureInfo& info() const override { return Derived::static_info(); }
  const ParamSchema& schema() const override { return Derived::static_schema(); }
};

/// \brief A feature without state: load_state is always ready, fit and save_state do nothing.
template <class Derived>
class StatelessFeature : public FeatureBase<Derived> {
 public:
  using FeatureBase<Derived>::FeatureBase;
  bool load_state(const std::filesystem::path&, const ArtifactPaths&, const DependencyLookups&) override {
    return true;
  }
};

/// \brief Registers a feature class at start-up (the library is shared, so the object file is kept).
template <class T>
struct FeatureRegistration {
  explicit FeatureRegistration(const char* file) {
    FeatureFactory f;
    f.info = &T::static_info();
    f.schema = []() -> const ParamSchema& { return T::static_schema(); };
    f.create = [](Inputs inputs, Json params) -> std::unique_ptr<Feature> {
      return std::make_unique<T>(std::move(inputs), std::move(params));
    };
    f.source_file = file;
    register_feature(std::move(f));
  }
};

}  // namespace mosaic::features

#define MOSAIC_REGISTER_FEATURE(TYPE) \
  static const ::mosaic::features::FeatureRegistration<TYPE> mosaic_feature_registration_##TYPE(__FILE__)

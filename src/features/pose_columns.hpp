// pose_columns.hpp (internal): finding keypoint columns the way the reference does.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mosaic::features {

/// \brief The reference's pose_column_pairs: every `poseX*` column, names sorted
/// lexicographically (poseX0, poseX1, poseX10, poseX2, ...), paired with `poseY<same suffix>`
/// when that column exists.
std::vector<std::pair<std::string, std::string>> pose_column_pairs(const std::vector<std::string>& columns,
                                                                   const std::string& x_prefix = "poseX",
                                                                   const std::string& y_prefix = "poseY");

}  // namespace mosaic::features

// pair_position_internal.hpp (internal): pair-position with and without DECISIONS F7, so tests
// can check the reference's numbers on every row (F7 off) and that F7 changes only the rows whose
// ANGLE fills or windows cross +-pi (F7 on).
#pragma once

#include "mosaic/json.hpp"
#include "mosaic/table.hpp"

namespace mosaic::features {

/// \brief pair-position's apply for `params` (overrides, as make_feature takes them); with
/// `unwrap_angles` false ANGLE is interpolated and smoothed as raw values, as the reference does.
Table pair_position_apply(const Json& params, const Table& df, bool unwrap_angles);

}  // namespace mosaic::features

// run_id.hpp: run identity (hash_params, run ids, storage names) and entry-key escaping.
//
// A run id is `<version>-<first 10 hex of SHA-1 of the canonical payload>`, where the canonical
// payload is Python's `json.dumps(payload, sort_keys=True)` (pipeline.md §2.2-2.4). Entry keys
// name per-entry files: `<safe group>__<safe sequence>` with percent-encoding (§1.5).
//
//   Json payload = {{"_params", Json::object()}, {"_inputs", {"tracks"}},
//                   {"_frame_range", {nullptr, nullptr}}};
//   make_run_id("0.1", payload);                           // "0.1-3b632409e1"
//   derive_storage_name("speed-angvel", "tracks");         // "speed-angvel__from__tracks"
//   make_entry_key("lab A", "m1/trial");                   // "lab%20A__m1%2Ftrial"
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "mosaic/json.hpp"

namespace mosaic {

/// \brief Return the SHA-1 of `data` as 40 lowercase hex characters.
std::string sha1_hex(std::string_view data);

/// \brief Serialize a hash payload as Python's `json.dumps(payload, sort_keys=True)`.
///
/// Compact separators `", "`/`": "`, keys sorted at every level, ASCII-only. `payload` must
/// already be normalized (Python's `json_ready`, §2.1): floats as doubles, ints as integers.
std::string canonical_payload_string(const Json& payload);

/// \brief Compute Python's `hash_params(payload)`: the first 10 lowercase hex characters of the
/// SHA-1 of `canonical_payload_string(payload)`.
std::string hash_params(const Json& payload);

/// \brief Build the run id `<version>-<hash_params(payload)>`, e.g. `0.1-3b632409e1`.
std::string make_run_id(std::string_view version, const Json& payload);

/// \brief Make a name safe for one path component, as Python's `quote(s.strip(), safe="")`.
///
/// Strips leading and trailing whitespace (Python's `str.isspace` set, which includes U+00A0
/// and U+3000), then percent-encodes every UTF-8 byte except `A-Z a-z 0-9 _ . - ~` as `%XX`
/// with uppercase hex: `/` -> `%2F`, space -> `%20`, `%` -> `%25`, `é` -> `%C3%A9`. Bytes that
/// are not valid UTF-8 (Python strings cannot hold them) are percent-encoded like any other.
std::string to_safe_name(std::string_view name);

/// \brief Undo `to_safe_name`, as Python's `urllib.parse.unquote`.
///
/// Decodes every `%XX` (either hex case); a `%` not followed by two hex digits stays literal, and
/// `+` is not a space. Decoded bytes that are not valid UTF-8 become U+FFFD, as with
/// `errors="replace"`.
std::string from_safe_name(std::string_view safe_name);

/// \brief Build the key that names an entry's files: `<safe group>__<safe sequence>`.
///
/// An empty `group` gives just the safe sequence. The emptiness test is on the raw group: a
/// whitespace-only group is non-empty, but its safe form is empty, so no `__` prefix is added.
/// `__` is not escaped, so group `a__b` + sequence `c` and group `a` + sequence `b__c` both give
/// `a__b__c` (Python behaves the same; callers that map keys to entries must refuse collisions).
std::string make_entry_key(std::string_view group, std::string_view sequence);

/// \brief The (group, sequence) an index row stands for, given the entry key of its file name.
/// pandas rewrites index cells with type inference ("001" -> "1", "" -> "nan"); DECISIONS P8
/// accepts such files: when the cells do not give back `entry_key`, the split of the key whose
/// names equal the cells up to that mangling wins. Cells that match are returned unchanged.
std::pair<std::string, std::string> entry_names_from_key(std::string_view entry_key, std::string_view group_cell,
                                                         std::string_view sequence_cell);

/// \brief Name a feature's storage folder: `<name>__from__<suffix>`, or `name` without a suffix.
///
/// `suffix` is `Inputs.storage_suffix()`: `std::nullopt` when the feature has no inputs.
std::string derive_storage_name(std::string_view name, std::optional<std::string> suffix);

}  // namespace mosaic

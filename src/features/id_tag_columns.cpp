// id-tag-columns: attach per-id tags (labels/<kind>/<entry>.npz or .json) to every row of a
// sequence, e.g. focal / non-focal, so they can be merged into other features (features.md §2.13).
//
// Values are read as the reference reads them: numeric npz arrays give ints (Python int(), so
// floats are truncated), object arrays keep their Python values (int, float, bool, str, None).
// Two deliberate fixes, both only where the reference drops a whole sequence's tags (empty
// output) or invents a column, so the version carries "+cpp.1":
//  - `meta__<key>` arrays (save_id_labels' metadata, one element) are metadata, not fields; the
//    reference indexes them per id and loses the sequence as soon as it has two ids;
//  - text that is not an integer (in `<U` arrays, which mosaic-cpp writes, and in JSON keys) stays
//    text; the reference's int() conversion fails and drops the sequence. Integer text still
//    becomes an int, so a `<U` "3" matches id 3 as in the reference.
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <set>
#include <variant>

#include "features/feature_base.hpp"
#include "io/pickle.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/json.hpp"
#include "mosaic/npz.hpp"

namespace mosaic::features {
namespace {

const FeatureInfo kInfo{.name = "id-tag-columns",
                        .version = "0.1+cpp.1",
                        .summary = "Attach per-id tags from labels/<label_kind> (e.g. focal / non-focal) to every row.",
                        .category = "tag",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "IdTagColumns"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "IdTagColumnsParams",
      {param("labels", labels_source_type("id_tags"), Json::object(), "Labels to read: labels/<kind>/ (kind follows label_kind)."),
       param_str("label_kind", "id_tags", "Label kind (labels/<label_kind>/); overrides labels.kind."),
       param("fields", ParamType::optional(ParamType::list(ParamType::string())), Json(),
             "Tag fields to attach, in this order (None = every field, sorted)."),
       param("field_renames", ParamType::optional(ParamType::dict(ParamType::string())), Json(),
             "Output column name per field (fields not listed keep their name).")}};
  return schema;
}

// A Python value as read from a labels file: None, int, float, bool or str.
struct None {};
using Value = std::variant<None, int64_t, double, bool, std::string>;

// A dict key: a number (ints and floats hash alike in Python) or a string.
struct Key {
  bool is_text = false;
  double number = 0;
  std::string text;
  bool operator<(const Key& o) const {
    if (is_text != o.is_text) return is_text < o.is_text;
    return is_text ? text < o.text : number < o.number;
  }
};

using Tags = std::map<std::string, Value>;
struct SequenceTags {
  std::map<Key, Tags> by_id;
  std::set<std::string> fields;  // union, sorted
};

struct Skip {};  // the reference's `except Exception: continue`

// Python int() of a string: optional surrounding whitespace, a sign, digits (with single '_'
// between digits).
std::optional<int64_t> parse_python_int(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  std::string digits;
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) digits += s[i++];
  bool last_digit = false;
  std::size_t n_digits = 0;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      digits += s[i];
      last_digit = true;
      ++n_digits;
    } else if (s[i] == '_' && last_digit && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') {
      last_digit = false;
    } else {
      return std::nullopt;
    }
  }
  if (n_digits == 0) return std::nullopt;
  int64_t v = 0;
  const char* b = digits.data() + (digits[0] == '+' ? 1 : 0);
  auto [p, ec] = std::from_chars(b, digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
  return v;
}

// Element e of a numpy array as the reference sees `int(a[e]) if hasattr(a[e], "item") else a[e]`.
Value element(const NpyArray& a, std::size_t e) {
  switch (a.dtype) {
    case NpyDType::kObject: {
      const PyValue* v = e < a.objects.size() ? a.objects[e].get() : nullptr;
      if (!v) throw Skip{};
      switch (v->kind) {
        case PyValue::Kind::kNone: return None{};
        case PyValue::Kind::kBool: return v->b;
        case PyValue::Kind::kInt: return v->i;
        case PyValue::Kind::kFloat: return v->f;
        case PyValue::Kind::kStr: return v->s;
        default: throw Skip{};
      }
    }
    case NpyDType::kUnicode: {
      const std::string& s = a.to_strings().at(e);
      if (auto i = parse_python_int(s)) return *i;
      return s;  // fix: text stays text
    }
    case NpyDType::kFloat64:
    case NpyDType::kFloat32: {
      const double d = a.to_double()[e];
      if (!std::isfinite(d)) throw Skip{};  // int(nan) raises
      return static_cast<int64_t>(std::trunc(d));
    }
    default:
      return a.to_int64()[e];
  }
}

Key key_of(const Value& v) {
  Key k;
  if (const auto* s = std::get_if<std::string>(&v)) {
    k.is_text = true;
    k.text = *s;
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    k.number = static_cast<double>(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    k.number = *d;
  } else if (const auto* b = std::get_if<bool>(&v)) {
    k.number = *b ? 1 : 0;
  } else {
    k.number = std::numeric_limits<double>::quiet_NaN();  // None never matches an id
  }
  return k;
}

SequenceTags read_npz_tags(const std::filesystem::path& path) {
  NpzArchive npz = read_npz(path);
  SequenceTags out;
  const NpyArray* ids = npz.contains("ids") ? &npz.at("ids") : (npz.contains("id") ? &npz.at("id") : nullptr);
  if (!ids) return out;
  std::vector<std::string> fields;
  for (const auto& [k, v] : npz.arrays)
    if (k != "ids" && k != "id" && k.rfind("meta__", 0) != 0) fields.push_back(k);
  const auto n = static_cast<std::size_t>(ids->size());
  for (std::size_t e = 0; e < n; ++e) {
    Tags tags;
    for (const auto& f : fields) {
      const NpyArray& a = npz.at(f);
      if (static_cast<std::size_t>(a.size()) <= e) throw Skip{};  // IndexError
      tags[f] = element(a, e);
    }
    out.by_id[key_of(element(*ids, e))] = std::move(tags);
  }
  for (const auto& f : fields)
    if (n > 0) out.fields.insert(f);
  return out;
}

Value json_value(const Json& j) {
  if (j.is_null()) return None{};
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  throw Skip{};
}

SequenceTags read_json_tags(const std::filesystem::path& path) {
  Json raw = python_json_loads(read_file_text(path));
  SequenceTags out;
  if (!raw.is_object() || !raw.contains("labels") || !raw["labels"].is_object()) return out;
  for (auto it = raw["labels"].begin(); it != raw["labels"].end(); ++it) {
    Tags tags;
    if (it.value().is_object())
      for (auto f = it.value().begin(); f != it.value().end(); ++f) {
        tags[f.key()] = json_value(f.value());
        out.fields.insert(f.key());
      }
    // fix: JSON keys are always text; an integer key matches the numeric id it names.
    Value k = it.key();
    if (auto i = parse_python_int(it.key())) k = *i;
    out.by_id[key_of(k)] = std::move(tags);
  }
  return out;
}

// Python's str() of a cell, for the (group, sequence) lookup.
std::string cell_str(const Column& c, std::size_t row) {
  if (c.type() == DType::kString) return std::string(c.str(row));
  if (is_integer(c.type()) && !c.is_null(row)) return fmt::format("{}", c.as_int64(row));
  return fmt::format("{}", c.as_double(row));
}

// One output column from per-row values, typed as pandas' Series.map would type it.
Column make_column(const std::vector<Value>& vals) {
  bool any_missing = false, any_str = false, any_float = false, any_int = false, any_bool = false;
  for (const auto& v : vals) {
    if (std::holds_alternative<None>(v)) any_missing = true;
    else if (std::holds_alternative<std::string>(v)) any_str = true;
    else if (const auto* d = std::get_if<double>(&v)) (std::isnan(*d) ? any_missing : any_float) = true;
    else if (std::holds_alternative<int64_t>(v)) any_int = true;
    else any_bool = true;
  }
  const std::size_t n = vals.size();
  if (any_str) {
    std::vector<std::string> dict;
    std::map<std::string, int32_t> code_of;
    std::vector<int32_t> codes(n, -1);
    for (std::size_t r = 0; r < n; ++r) {
      std::string s;
      if (const auto* t = std::get_if<std::string>(&vals[r])) s = *t;
      else if (const auto* i = std::get_if<int64_t>(&vals[r])) s = fmt::format("{}", *i);
      else if (const auto* d = std::get_if<double>(&vals[r])) {
        if (std::isnan(*d)) continue;
        s = fmt::format("{}", *d);
      } else if (const auto* b = std::get_if<bool>(&vals[r])) s = *b ? "True" : "False";
      else continue;
      auto [it, inserted] = code_of.emplace(s, static_cast<int32_t>(dict.size()));
      if (inserted) dict.push_back(s);
      codes[r] = it->second;
    }
    return Column::from_dictionary(std::move(dict), std::move(codes));
  }
  if (any_bool && !any_int && !any_float) {
    std::vector<uint8_t> b(n, 0), valid(n, 1);
    for (std::size_t r = 0; r < n; ++r) {
      if (const auto* v = std::get_if<bool>(&vals[r])) b[r] = *v;
      else valid[r] = 0;
    }
    return any_missing ? Column::from_bool(std::move(b), std::move(valid)) : Column::from_bool(std::move(b));
  }
  if (!any_missing && !any_float) {
    std::vector<int64_t> v(n);
    for (std::size_t r = 0; r < n; ++r) {
      if (const auto* i = std::get_if<int64_t>(&vals[r])) v[r] = *i;
      else v[r] = std::get<bool>(vals[r]) ? 1 : 0;
    }
    return Column::from_int64(std::move(v));
  }
  std::vector<double> v(n, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t r = 0; r < n; ++r) {
    if (const auto* i = std::get_if<int64_t>(&vals[r])) v[r] = static_cast<double>(*i);
    else if (const auto* d = std::get_if<double>(&vals[r])) v[r] = *d;
    else if (const auto* b = std::get_if<bool>(&vals[r])) v[r] = *b ? 1 : 0;
  }
  return Column::from_float64(std::move(v));
}

class IdTagColumns final : public FeatureBase<IdTagColumns> {
 public:
  IdTagColumns(Inputs inputs, Json params) : FeatureBase(std::move(inputs), std::move(params)) {
    // The reference syncs labels.kind with label_kind in __init__, before the run id is hashed.
    const std::string kind = params_["label_kind"].get<std::string>();
    if (params_["labels"].value("kind", "") != kind) params_["labels"] = Json{{"kind", kind}};
    if (params_["fields"].is_array())
      for (const auto& f : params_["fields"]) fields_.push_back(f.get<std::string>());
    else
      all_fields_ = true;
    if (params_["field_renames"].is_object())
      for (auto it = params_["field_renames"].begin(); it != params_["field_renames"].end(); ++it)
        renames_[it.key()] = it.value().get<std::string>();
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  bool load_state(const std::filesystem::path&, const ArtifactPaths&, const DependencyLookups& lookups) override {
    tags_.clear();
    auto it = lookups.find("labels");
    if (it == lookups.end()) return true;
    for (const auto& [key, path] : it->second) {
      if (!std::filesystem::exists(path)) continue;
      try {
        if (path.extension() == ".npz") tags_[key] = read_npz_tags(path);
        else if (path.extension() == ".json") tags_[key] = read_json_tags(path);
      } catch (const Skip&) {
        // The reference skips a file it cannot read (and so gives that sequence no output).
      } catch (const Error&) {
      }
    }
    return true;
  }

  Table apply(const Table& df) const override {
    if (df.num_rows() == 0) return Table();
    const std::string group = df.has_column("group") ? cell_str(df.column("group"), 0) : "";
    const std::string sequence = df.has_column("sequence") ? cell_str(df.column("sequence"), 0) : "";
    auto found = tags_.find({group, sequence});
    if (found == tags_.end() || found->second.by_id.empty()) return Table();
    const SequenceTags& st = found->second;
    std::vector<std::string> fields = all_fields_ ? std::vector<std::string>(st.fields.begin(), st.fields.end()) : fields_;

    const std::size_t n = df.num_rows();
    Table out;
    for (const char* c : {"frame", "time", "group", "sequence", "id"})
      if (df.has_column(c)) out.add_column(c, df.shared_column(*df.column_index(c)));
    if (!df.has_column("group")) out.add_column("group", Column::constant_string(group, n));
    if (!df.has_column("sequence")) out.add_column("sequence", Column::constant_string(sequence, n));
    if (!df.has_column("id")) out.add_column("id", Column::constant_float64(std::numeric_limits<double>::quiet_NaN(), n));

    // The tags of each row's id (nullptr = no tags: every field is NaN).
    const Column& id = out.column("id");
    std::vector<const Tags*> row_tags(n, nullptr);
    for (std::size_t r = 0; r < n; ++r) {
      if (id.is_null(r)) continue;
      Key k;
      if (id.type() == DType::kString) {
        k.is_text = true;
        k.text = std::string(id.str(r));
      } else {
        k.number = id.as_double(r);
      }
      auto it = st.by_id.find(k);
      if (it != st.by_id.end()) row_tags[r] = &it->second;
    }
    std::vector<Value> vals(n);
    for (const auto& field : fields) {
      for (std::size_t r = 0; r < n; ++r) {
        vals[r] = std::numeric_limits<double>::quiet_NaN();
        if (!row_tags[r]) continue;
        auto it = row_tags[r]->find(field);
        if (it != row_tags[r]->end()) vals[r] = it->second;
      }
      auto rn = renames_.find(field);
      out.set_column(rn == renames_.end() ? field : rn->second, make_column(vals));
    }
    return out;
  }

 private:
  bool all_fields_ = false;
  std::vector<std::string> fields_;
  std::map<std::string, std::string> renames_;
  std::map<std::pair<std::string, std::string>, SequenceTags> tags_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(IdTagColumns);
}  // namespace mosaic::features

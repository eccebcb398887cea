#include "connectors/parquet_row_group_filter.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <parquet/statistics.h>
#include <simdjson.h>

#include "core/error.h"

namespace millstream {

namespace {

enum class ValueKind { kInteger, kFloat, kString };

// A literal or a statistics bound. Integers are scaled to a common unit for timestamps (a
// column in ms against a literal in us compares at us), in 128 bits so that scaling never
// overflows.
struct Value {
  ValueKind kind = ValueKind::kInteger;
  __int128 integer = 0;
  double floating = 0;
  std::string text;
};

// <0, 0, >0 as a is below, equal to, above b; nullopt when they do not compare (NaN, kinds).
std::optional<int> Compare(const Value& a, const Value& b) {
  if (a.kind == ValueKind::kString || b.kind == ValueKind::kString) {
    if (a.kind != b.kind) return std::nullopt;
    return a.text.compare(b.text);  // bytewise, as Parquet orders UTF-8 statistics
  }
  if (a.kind == ValueKind::kInteger && b.kind == ValueKind::kInteger) {
    return a.integer < b.integer ? -1 : (a.integer > b.integer ? 1 : 0);
  }
  // long double holds every int64 exactly (x86-64's 64-bit mantissa).
  const long double x = a.kind == ValueKind::kInteger ? static_cast<long double>(a.integer)
                                                      : static_cast<long double>(a.floating);
  const long double y = b.kind == ValueKind::kInteger ? static_cast<long double>(b.integer)
                                                      : static_cast<long double>(b.floating);
  if (std::isnan(x) || std::isnan(y)) return std::nullopt;
  return x < y ? -1 : (x > y ? 1 : 0);
}

// Nanoseconds per unit: timestamps of two units compare at ns.
int64_t NanosPerUnit(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND: return 1'000'000'000;
    case arrow::TimeUnit::MILLI: return 1'000'000;
    case arrow::TimeUnit::MICRO: return 1'000;
    case arrow::TimeUnit::NANO: return 1;
  }
  return 1;
}

// The unit of a timestamp type as Arrow prints it ("timestamp[us, tz=UTC]").
std::optional<arrow::TimeUnit::type> UnitOfTypeName(std::string_view type) {
  constexpr std::string_view kPrefix = "timestamp[";
  if (type.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::string_view rest = type.substr(kPrefix.size());
  const std::string_view unit = rest.substr(0, rest.find_first_of(",]"));
  if (unit == "s") return arrow::TimeUnit::SECOND;
  if (unit == "ms") return arrow::TimeUnit::MILLI;
  if (unit == "us") return arrow::TimeUnit::MICRO;
  if (unit == "ns") return arrow::TimeUnit::NANO;
  return std::nullopt;
}

}  // namespace

struct ParquetRowGroupFilter::Term {
  enum class Kind { kUnknown, kAnd, kOr, kCompare, kIsNull, kIsNotNull } kind = Kind::kUnknown;
  std::vector<std::unique_ptr<Term>> children;  // kAnd, kOr
  std::string op;           // kCompare: eq, ne, lt, le, gt, ge, with the column on the left
  int leaf = -1;            // kCompare, kIsNull, kIsNotNull
  ValueKind column_kind = ValueKind::kInteger;
  int64_t column_scale = 1;  // integers of the column times this compare with `literal`
  bool literal_null = false;
  Value literal;
};

namespace {

using Term = ParquetRowGroupFilter::Term;

std::string Flipped(const std::string& op) {
  if (op == "lt") return "gt";
  if (op == "le") return "ge";
  if (op == "gt") return "lt";
  if (op == "ge") return "le";
  return op;  // eq, ne
}

// The column kind of a flat field whose statistics this filter reads, with its timestamp unit.
std::optional<ValueKind> ColumnKindOf(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::INT8:
    case arrow::Type::INT16:
    case arrow::Type::INT32:
    case arrow::Type::INT64:
    case arrow::Type::TIMESTAMP:
      return ValueKind::kInteger;
    case arrow::Type::FLOAT:
    case arrow::Type::DOUBLE:
      return ValueKind::kFloat;
    case arrow::Type::STRING:
    case arrow::Type::LARGE_STRING:
      return ValueKind::kString;
    default:
      return std::nullopt;
  }
}

class TermParser {
 public:
  TermParser(const arrow::Schema& schema, const std::vector<std::vector<int>>& leaves_of_field,
             std::vector<int>* leaves)
      : schema_(schema), leaves_of_field_(leaves_of_field), leaves_(*leaves) {}

  std::unique_ptr<Term> Parse(simdjson::dom::element element) {
    auto term = std::make_unique<Term>();
    simdjson::dom::object object;
    std::string_view fn;
    simdjson::dom::array args;
    if (element.get(object) != simdjson::SUCCESS || object["fn"].get(fn) != simdjson::SUCCESS ||
        object["args"].get(args) != simdjson::SUCCESS) {
      return term;  // a column, a literal, an alias: not a predicate this filter reads
    }
    std::vector<simdjson::dom::element> operands(args.begin(), args.end());
    if ((fn == "and" || fn == "or") && operands.size() == 2) {
      term->kind = fn == "and" ? Term::Kind::kAnd : Term::Kind::kOr;
      for (auto operand : operands) term->children.push_back(Parse(operand));
      return term;
    }
    if ((fn == "is_null" || fn == "is_not_null") && operands.size() == 1) {
      if (!Column(operands[0], term.get())) return term;
      term->kind = fn == "is_null" ? Term::Kind::kIsNull : Term::Kind::kIsNotNull;
      return term;
    }
    static constexpr std::string_view kComparisons[] = {"eq", "ne", "lt", "le", "gt", "ge"};
    if (operands.size() != 2 ||
        std::find(std::begin(kComparisons), std::end(kComparisons), fn) == std::end(kComparisons)) {
      return term;
    }
    int column_side = Column(operands[0], term.get()) ? 0 : (Column(operands[1], term.get()) ? 1 : -1);
    if (column_side < 0 || !Literal(operands[1 - column_side], term.get())) {
      term->kind = Term::Kind::kUnknown;
      return term;
    }
    term->op = column_side == 0 ? std::string(fn) : Flipped(std::string(fn));
    term->kind = Term::Kind::kCompare;
    return term;
  }

 private:
  // {"col": name} of a flat field with usable statistics: sets the term's leaf and kind.
  bool Column(simdjson::dom::element element, Term* term) {
    std::string_view name;
    if (element["col"].get(name) != simdjson::SUCCESS) return false;
    const int field = schema_.GetFieldIndex(std::string(name));
    if (field < 0 || leaves_of_field_[field].size() != 1) return false;
    const auto& type = *schema_.field(field)->type();
    const auto kind = ColumnKindOf(type);
    if (!kind) return false;
    term->leaf = leaves_of_field_[field].front();
    term->column_kind = *kind;
    term->column_scale = 1;
    if (type.id() == arrow::Type::TIMESTAMP) {
      column_unit_ = static_cast<const arrow::TimestampType&>(type).unit();
      term->column_scale = -1;  // set once the literal's unit is known
    }
    if (std::find(leaves_.begin(), leaves_.end(), term->leaf) == leaves_.end()) {
      leaves_.push_back(term->leaf);
    }
    return true;
  }

  // {"lit": value, "type": type} of a kind that compares with the term's column.
  bool Literal(simdjson::dom::element element, Term* term) {
    simdjson::dom::element value;
    std::string_view type;
    if (element["lit"].get(value) != simdjson::SUCCESS ||
        element["type"].get(type) != simdjson::SUCCESS) {
      return false;
    }
    if (value.is_null()) {
      term->literal_null = true;
      return true;
    }
    Value& literal = term->literal;
    const bool column_is_timestamp = term->column_scale < 0;
    if (const auto unit = UnitOfTypeName(type)) {
      int64_t raw;
      if (!column_is_timestamp || value.get(raw) != simdjson::SUCCESS) return false;
      // Both sides at nanoseconds: exact in 128 bits.
      literal.kind = ValueKind::kInteger;
      literal.integer = static_cast<__int128>(raw) * NanosPerUnit(*unit);
      term->column_scale = NanosPerUnit(column_unit_);
      return true;
    }
    if (column_is_timestamp) return false;
    if (type == "int64") {
      int64_t raw;
      if (value.get(raw) != simdjson::SUCCESS) return false;
      literal.kind = ValueKind::kInteger;
      literal.integer = raw;
      return term->column_kind != ValueKind::kString;
    }
    if (type == "float64") {
      double raw;
      if (value.get(raw) != simdjson::SUCCESS || std::isnan(raw)) return false;
      literal.kind = ValueKind::kFloat;
      literal.floating = raw;
      return term->column_kind != ValueKind::kString;
    }
    if (type == "string") {
      std::string_view raw;
      if (value.get(raw) != simdjson::SUCCESS) return false;
      literal.kind = ValueKind::kString;
      literal.text = std::string(raw);
      return term->column_kind == ValueKind::kString;
    }
    return false;
  }

  const arrow::Schema& schema_;
  const std::vector<std::vector<int>>& leaves_of_field_;
  std::vector<int>& leaves_;
  arrow::TimeUnit::type column_unit_ = arrow::TimeUnit::MILLI;
};

// The statistics' min and max as Values of the term's column, when the chunk has them.
bool MinMaxOf(const parquet::Statistics& statistics, const Term& term, Value* min, Value* max) {
  if (!statistics.HasMinMax()) return false;
  min->kind = max->kind = term.column_kind;
  switch (statistics.physical_type()) {
    case parquet::Type::INT32: {
      const auto& typed = static_cast<const parquet::Int32Statistics&>(statistics);
      min->integer = static_cast<__int128>(typed.min()) * term.column_scale;
      max->integer = static_cast<__int128>(typed.max()) * term.column_scale;
      return term.column_kind == ValueKind::kInteger;
    }
    case parquet::Type::INT64: {
      const auto& typed = static_cast<const parquet::Int64Statistics&>(statistics);
      min->integer = static_cast<__int128>(typed.min()) * term.column_scale;
      max->integer = static_cast<__int128>(typed.max()) * term.column_scale;
      return term.column_kind == ValueKind::kInteger;
    }
    case parquet::Type::FLOAT: {
      const auto& typed = static_cast<const parquet::FloatStatistics&>(statistics);
      min->floating = typed.min();
      max->floating = typed.max();
      return term.column_kind == ValueKind::kFloat;
    }
    case parquet::Type::DOUBLE: {
      const auto& typed = static_cast<const parquet::DoubleStatistics&>(statistics);
      min->floating = typed.min();
      max->floating = typed.max();
      return term.column_kind == ValueKind::kFloat;
    }
    case parquet::Type::BYTE_ARRAY: {
      const auto& typed = static_cast<const parquet::ByteArrayStatistics&>(statistics);
      min->text.assign(reinterpret_cast<const char*>(typed.min().ptr), typed.min().len);
      max->text.assign(reinterpret_cast<const char*>(typed.max().ptr), typed.max().len);
      return term.column_kind == ValueKind::kString;
    }
    default:
      return false;
  }
}

bool MayMatchCompare(const Term& term, const Value& min, const Value& max) {
  const auto low = Compare(min, term.literal);   // min against the literal
  const auto high = Compare(max, term.literal);  // max against the literal
  if (!low || !high) return true;
  const std::string& op = term.op;
  if (op == "eq") return *low <= 0 && *high >= 0;
  if (op == "lt") return *low < 0;
  if (op == "le") return *low <= 0;
  if (op == "gt") return *high > 0;
  if (op == "ge") return *high >= 0;
  // ne: only a group of that one value rules it out; a float group may hold NaN (not in the
  // statistics, and NaN != x is true).
  if (term.column_kind == ValueKind::kFloat) return true;
  return !(*low == 0 && *high == 0);
}

bool MayMatchTerm(const Term& term, const parquet::RowGroupMetaData& group) {
  switch (term.kind) {
    case Term::Kind::kUnknown:
      return true;
    case Term::Kind::kAnd:
      return MayMatchTerm(*term.children[0], group) && MayMatchTerm(*term.children[1], group);
    case Term::Kind::kOr:
      return MayMatchTerm(*term.children[0], group) || MayMatchTerm(*term.children[1], group);
    default:
      break;
  }
  const auto chunk = group.ColumnChunk(term.leaf);
  if (!chunk->is_stats_set()) return true;
  const std::shared_ptr<parquet::Statistics> statistics = chunk->statistics();
  if (!statistics) return true;
  const bool counted = statistics->HasNullCount();
  const int64_t nulls = counted ? statistics->null_count() : -1;
  if (term.kind == Term::Kind::kIsNull) return !counted || nulls > 0;
  if (term.kind == Term::Kind::kIsNotNull) return !counted || nulls < group.num_rows();
  // A comparison: true for no null, so a group of nulls (or a null literal) has no match.
  if (term.literal_null || (counted && nulls == group.num_rows())) return false;
  Value min, max;
  if (!MinMaxOf(*statistics, term, &min, &max)) return true;
  return MayMatchCompare(term, min, max);
}

}  // namespace

ParquetRowGroupFilter::ParquetRowGroupFilter(const std::string& predicate_json,
                                             const arrow::Schema& schema,
                                             const std::vector<std::vector<int>>& leaves_of_field) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(predicate_json).get(root) != simdjson::SUCCESS) {
    throw UserError("the filter pushed into a Parquet source is not JSON: " + predicate_json);
  }
  root_ = TermParser(schema, leaves_of_field, &leaves_).Parse(root);
}

ParquetRowGroupFilter::~ParquetRowGroupFilter() = default;

bool ParquetRowGroupFilter::MayMatch(const parquet::RowGroupMetaData& group) const {
  return MayMatchTerm(*root_, group);
}

}  // namespace millstream

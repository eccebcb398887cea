// count, sum, mean, var and stddev: the aggregates with a fixed-size numeric state.
#include <cmath>
#include <cstring>

#include <arrow/builder.h>

#include "core/error.h"
#include "ops/aggregate_function.h"
#include "ops/aggregate_value_traits.h"
#include "ops/exact_float_sum.h"

namespace millstream {

namespace {

using aggregate_detail::ForEachValid;

// count() counts rows; count(column) counts its non-null values.
class CountFunction final : public AggregateFunction {
 public:
  explicit CountFunction(bool count_rows) : count_rows_(count_rows) {}
  std::shared_ptr<arrow::DataType> output_type() const override { return arrow::int64(); }
  size_t state_bytes() const override { return 8; }
  void Update(const arrow::Array* input, const UpdateRows& rows,
              const StateRows& states) const override {
    auto bump = [&](int64_t, uint32_t group) { ++*reinterpret_cast<int64_t*>(states.at(group)); };
    if (count_rows_) {
      for (int64_t i = rows.begin; i < rows.end; ++i) {
        if (rows.group_of_row[i] != kNoGroup) bump(i, rows.group_of_row[i]);
      }
    } else {
      ForEachValid(*input, rows, bump);
    }
  }
  void Merge(uint8_t* into, const uint8_t* from, int64_t*) const override {
    *reinterpret_cast<int64_t*>(into) += *reinterpret_cast<const int64_t*>(from);
  }
  void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const override {
    CheckArrow(static_cast<arrow::Int64Builder*>(builder)->Append(
                   *reinterpret_cast<const int64_t*>(state)),
               "count output");
  }

 private:
  bool count_rows_;
};

// Reads a numeric or bool column as numbers.
template <typename ArrowType>
struct NumberReader {
  using CType = typename ArrowType::c_type;
  explicit NumberReader(const arrow::Array& array)
      : values(static_cast<const arrow::NumericArray<ArrowType>&>(array).raw_values()) {}
  CType operator()(int64_t row) const { return values[row]; }
  const CType* values;
};

struct BoolReader {
  explicit BoolReader(const arrow::Array& array)
      : array(static_cast<const arrow::BooleanArray&>(array)) {}
  int64_t operator()(int64_t row) const { return array.Value(row) ? 1 : 0; }
  const arrow::BooleanArray& array;
};

template <typename Acc>
struct SumState {
  Acc sum;
  int64_t has_value;
};

// Integers (and bools) sum exactly into int64 and fail loudly on overflow; floats into an
// ExactFloatSum, whose result does not depend on the order rows and panes arrive in.
template <typename Reader, typename Acc>
class SumFunction final : public AggregateFunction {
 public:
  static constexpr bool kFloat = std::is_same_v<Acc, ExactFloatSum>;
  explicit SumFunction(std::string name) : name_(std::move(name)) {}
  std::shared_ptr<arrow::DataType> output_type() const override {
    if constexpr (kFloat) return arrow::float64();
    else return arrow::int64();
  }
  size_t state_bytes() const override { return sizeof(SumState<Acc>); }
  void Update(const arrow::Array* input, const UpdateRows& rows,
              const StateRows& states) const override {
    Reader read(*input);
    bool overflow = false;
    ForEachValid(*input, rows, [&](int64_t row, uint32_t group) {
      auto* state = reinterpret_cast<SumState<Acc>*>(states.at(group));
      if constexpr (kFloat) {
        overflow |= !state->sum.Add(static_cast<double>(read(row)));
      } else {
        overflow |= __builtin_add_overflow(state->sum, static_cast<int64_t>(read(row)), &state->sum);
      }
      state->has_value = 1;
    });
    if (overflow) Overflow();
  }
  void Merge(uint8_t* into, const uint8_t* from, int64_t*) const override {
    auto* target = reinterpret_cast<SumState<Acc>*>(into);
    const auto* source = reinterpret_cast<const SumState<Acc>*>(from);
    if (!source->has_value) return;
    if constexpr (kFloat) {
      if (!target->sum.Merge(source->sum)) Overflow();
    } else {
      if (__builtin_add_overflow(target->sum, source->sum, &target->sum)) Overflow();
    }
    target->has_value = 1;
  }
  void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const override {
    const auto* sum = reinterpret_cast<const SumState<Acc>*>(state);
    if constexpr (kFloat) {
      auto* typed = static_cast<arrow::DoubleBuilder*>(builder);
      CheckArrow(sum->has_value ? typed->Append(sum->sum.Value()) : typed->AppendNull(), "sum output");
    } else {
      auto* typed = static_cast<arrow::Int64Builder*>(builder);
      CheckArrow(sum->has_value ? typed->Append(sum->sum) : typed->AppendNull(), "sum output");
    }
  }

 private:
  [[noreturn]] void Overflow() const {
    if constexpr (kFloat) {
      throw UserError("sum '" + name_ + "' added more than 2^33 float values into one group; "
                      "use smaller windows or pre-aggregate");
    } else {
      throw UserError("sum '" + name_ +
                      "' overflowed int64; cast the column to float64 before summing");
    }
  }
  std::string name_;
};

// The sum as sum's (order-independent), divided once at the end.
struct MeanState {
  ExactFloatSum sum;
  int64_t count;
};

template <typename Reader>
class MeanFunction final : public AggregateFunction {
 public:
  explicit MeanFunction(std::string name) : name_(std::move(name)) {}
  std::shared_ptr<arrow::DataType> output_type() const override { return arrow::float64(); }
  size_t state_bytes() const override { return sizeof(MeanState); }
  void Update(const arrow::Array* input, const UpdateRows& rows,
              const StateRows& states) const override {
    Reader read(*input);
    bool overflow = false;
    ForEachValid(*input, rows, [&](int64_t row, uint32_t group) {
      auto* state = reinterpret_cast<MeanState*>(states.at(group));
      overflow |= !state->sum.Add(static_cast<double>(read(row)));
      ++state->count;
    });
    if (overflow) Overflow();
  }
  void Merge(uint8_t* into, const uint8_t* from, int64_t*) const override {
    auto* target = reinterpret_cast<MeanState*>(into);
    const auto* source = reinterpret_cast<const MeanState*>(from);
    if (!target->sum.Merge(source->sum)) Overflow();
    target->count += source->count;
  }
  void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const override {
    const auto* mean = reinterpret_cast<const MeanState*>(state);
    auto* typed = static_cast<arrow::DoubleBuilder*>(builder);
    CheckArrow(mean->count > 0 ? typed->Append(mean->sum.Value() / static_cast<double>(mean->count))
                               : typed->AppendNull(),
               "mean output");
  }

 private:
  [[noreturn]] void Overflow() const {
    throw UserError("mean '" + name_ + "' added more than 2^33 values into one group; "
                    "use smaller windows or pre-aggregate");
  }
  std::string name_;
};

// Welford's running mean and sum of squared deviations: numerically stable, and mergeable
// (Chan et al.) for panes and sessions.
struct VarianceState {
  int64_t count;
  double mean;
  double m2;
};

template <typename Reader>
class VarianceFunction final : public AggregateFunction {
 public:
  explicit VarianceFunction(bool stddev) : stddev_(stddev) {}
  std::shared_ptr<arrow::DataType> output_type() const override { return arrow::float64(); }
  size_t state_bytes() const override { return sizeof(VarianceState); }
  void Update(const arrow::Array* input, const UpdateRows& rows,
              const StateRows& states) const override {
    Reader read(*input);
    ForEachValid(*input, rows, [&](int64_t row, uint32_t group) {
      auto* state = reinterpret_cast<VarianceState*>(states.at(group));
      double value = static_cast<double>(read(row));
      ++state->count;
      double delta = value - state->mean;
      state->mean += delta / static_cast<double>(state->count);
      state->m2 += delta * (value - state->mean);
    });
  }
  void Merge(uint8_t* into, const uint8_t* from, int64_t*) const override {
    auto* target = reinterpret_cast<VarianceState*>(into);
    const auto* source = reinterpret_cast<const VarianceState*>(from);
    if (source->count == 0) return;
    if (target->count == 0) {
      *target = *source;
      return;
    }
    double total = static_cast<double>(target->count + source->count);
    double delta = source->mean - target->mean;
    target->m2 += source->m2 + delta * delta * static_cast<double>(target->count) *
                                   static_cast<double>(source->count) / total;
    target->mean += delta * static_cast<double>(source->count) / total;
    target->count += source->count;
  }
  // Sample variance (ddof=1, like pandas); fewer than two values give null (SQL var_samp).
  void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const override {
    const auto* variance = reinterpret_cast<const VarianceState*>(state);
    auto* typed = static_cast<arrow::DoubleBuilder*>(builder);
    if (variance->count < 2) {
      CheckArrow(typed->AppendNull(), "var output");
      return;
    }
    double value = std::max(0.0, variance->m2) / static_cast<double>(variance->count - 1);
    CheckArrow(typed->Append(stddev_ ? std::sqrt(value) : value), "var output");
  }

 private:
  bool stddev_;
};

template <typename Reader, typename SumAcc>
std::unique_ptr<AggregateFunction> MakeFor(const AggregateSpec& spec) {
  if (spec.kind == "sum") return std::make_unique<SumFunction<Reader, SumAcc>>(spec.output_name);
  if (spec.kind == "mean") return std::make_unique<MeanFunction<Reader>>(spec.output_name);
  return std::make_unique<VarianceFunction<Reader>>(spec.kind == "stddev");
}

}  // namespace

std::unique_ptr<AggregateFunction> MakeCountFunction(const AggregateSpec& spec,
                                                     const arrow::Schema& schema) {
  if (spec.input_column == -1) return std::make_unique<CountFunction>(true);
  if (spec.input_column < 0 || spec.input_column >= schema.num_fields()) {
    throw UserError("aggregate '" + spec.output_name + "' (count): input column index " +
                    std::to_string(spec.input_column) + " is outside the input schema (" +
                    std::to_string(schema.num_fields()) + " columns)");
  }
  return std::make_unique<CountFunction>(false);
}

std::unique_ptr<AggregateFunction> MakeArithmeticFunction(const AggregateSpec& spec,
                                                          const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::BOOL: return MakeFor<BoolReader, int64_t>(spec);
    case arrow::Type::INT8: return MakeFor<NumberReader<arrow::Int8Type>, int64_t>(spec);
    case arrow::Type::INT16: return MakeFor<NumberReader<arrow::Int16Type>, int64_t>(spec);
    case arrow::Type::INT32: return MakeFor<NumberReader<arrow::Int32Type>, int64_t>(spec);
    case arrow::Type::INT64: return MakeFor<NumberReader<arrow::Int64Type>, int64_t>(spec);
    case arrow::Type::UINT8: return MakeFor<NumberReader<arrow::UInt8Type>, int64_t>(spec);
    case arrow::Type::UINT16: return MakeFor<NumberReader<arrow::UInt16Type>, int64_t>(spec);
    case arrow::Type::UINT32: return MakeFor<NumberReader<arrow::UInt32Type>, int64_t>(spec);
    case arrow::Type::UINT64: return MakeFor<NumberReader<arrow::UInt64Type>, int64_t>(spec);
    case arrow::Type::FLOAT: return MakeFor<NumberReader<arrow::FloatType>, ExactFloatSum>(spec);
    case arrow::Type::DOUBLE: return MakeFor<NumberReader<arrow::DoubleType>, ExactFloatSum>(spec);
    default: break;
  }
  FailInternal(__FILE__, __LINE__, "numeric type", "unexpected sum input " + type.ToString());
}

}  // namespace millstream

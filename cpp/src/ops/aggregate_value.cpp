// min, max, first and last: aggregates that keep one input value (numbers, bools, strings,
// timestamps) and return it with the input type.
#include <arrow/builder.h>

#include "core/error.h"
#include "ops/aggregate_function.h"
#include "ops/aggregate_value_traits.h"

namespace millstream {

namespace {

using aggregate_detail::ForEachValid;
using aggregate_detail::ReadBytes;
using aggregate_detail::AppendBytes;

template <typename Traits>
struct ExtremeState {
  typename Traits::Stored value;
  int64_t has_value;
};

template <typename Traits, bool kMax>
class ExtremeFunction final : public AggregateFunction {
  using State = ExtremeState<Traits>;

 public:
  explicit ExtremeFunction(std::shared_ptr<arrow::DataType> type) : type_(std::move(type)) {}
  std::shared_ptr<arrow::DataType> output_type() const override { return type_; }
  size_t state_bytes() const override { return sizeof(State); }
  bool owns_heap() const override { return Traits::kOwnsHeap; }
  void Destroy(uint8_t* state, int64_t* heap_bytes) const override {
    Traits::Release(&reinterpret_cast<State*>(state)->value, heap_bytes);
  }
  void Update(const arrow::Array* input, const UpdateRows& rows,
              const StateRows& states) const override {
    const auto& array = static_cast<const typename Traits::ArrayType&>(*input);
    ForEachValid(*input, rows, [&](int64_t row, uint32_t group) {
      Offer(reinterpret_cast<State*>(states.at(group)), Traits::Get(array, row), rows.heap_bytes);
    });
  }
  void Merge(uint8_t* into, const uint8_t* from, int64_t* heap_bytes) const override {
    const auto* source = reinterpret_cast<const State*>(from);
    if (source->has_value) {
      Offer(reinterpret_cast<State*>(into), Traits::ViewOf(source->value), heap_bytes);
    }
  }
  void Serialize(const uint8_t* state, std::string* out) const override {
    const auto* typed = reinterpret_cast<const State*>(state);
    out->push_back(typed->has_value ? 1 : 0);
    if (typed->has_value) Traits::Write(out, typed->value);
  }
  void Deserialize(std::string_view* in, uint8_t* state, int64_t* heap_bytes) const override {
    auto* typed = reinterpret_cast<State*>(state);
    uint8_t has_value = 0;
    ReadBytes(in, &has_value, 1);
    typed->has_value = has_value;
    if (has_value) Traits::Read(in, &typed->value, heap_bytes);
  }
  void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const override {
    const auto* typed = reinterpret_cast<const State*>(state);
    if (typed->has_value) {
      Traits::Append(builder, Traits::ViewOf(typed->value));
    } else {
      CheckArrow(builder->AppendNull(), "min/max output");
    }
  }

 private:
  static void Offer(State* state, typename Traits::View value, int64_t* heap_bytes) {
    if (state->has_value) {
      auto current = Traits::ViewOf(state->value);
      bool better = kMax ? Traits::Less(current, value) : Traits::Less(value, current);
      if (!better) return;
    }
    Traits::Set(&state->value, value, heap_bytes);
    state->has_value = 1;
  }
  std::shared_ptr<arrow::DataType> type_;
};

template <typename Traits>
struct PickState {
  typename Traits::Stored value;
  int64_t time_ms;
  int64_t seq;  // arrival order: breaks ties of event time
  int64_t has_value;
};

// first: the value with the smallest event time; last: the largest. Ties go to the row that
// arrived first, so the result does not depend on how rows were split into batches or panes.
// Without event time, first and last are by arrival.
template <typename Traits, bool kLast>
class PickFunction final : public AggregateFunction {
  using State = PickState<Traits>;

 public:
  explicit PickFunction(std::shared_ptr<arrow::DataType> type) : type_(std::move(type)) {}
  std::shared_ptr<arrow::DataType> output_type() const override { return type_; }
  size_t state_bytes() const override { return sizeof(State); }
  bool owns_heap() const override { return Traits::kOwnsHeap; }
  void Destroy(uint8_t* state, int64_t* heap_bytes) const override {
    Traits::Release(&reinterpret_cast<State*>(state)->value, heap_bytes);
  }
  void Update(const arrow::Array* input, const UpdateRows& rows,
              const StateRows& states) const override {
    const auto& array = static_cast<const typename Traits::ArrayType&>(*input);
    ForEachValid(*input, rows, [&](int64_t row, uint32_t group) {
      // Without event time (running aggregates) arrival order is the order.
      int64_t time_ms = rows.times_ms ? rows.times_ms[row] : rows.first_seq + row;
      Offer(reinterpret_cast<State*>(states.at(group)), Traits::Get(array, row), time_ms,
            rows.first_seq + row, rows.heap_bytes);
    });
  }
  void Merge(uint8_t* into, const uint8_t* from, int64_t* heap_bytes) const override {
    const auto* source = reinterpret_cast<const State*>(from);
    if (source->has_value) {
      Offer(reinterpret_cast<State*>(into), Traits::ViewOf(source->value), source->time_ms,
            source->seq, heap_bytes);
    }
  }
  void Serialize(const uint8_t* state, std::string* out) const override {
    const auto* typed = reinterpret_cast<const State*>(state);
    out->push_back(typed->has_value ? 1 : 0);
    if (!typed->has_value) return;
    AppendBytes(out, &typed->time_ms, sizeof(int64_t));
    AppendBytes(out, &typed->seq, sizeof(int64_t));
    Traits::Write(out, typed->value);
  }
  void Deserialize(std::string_view* in, uint8_t* state, int64_t* heap_bytes) const override {
    auto* typed = reinterpret_cast<State*>(state);
    uint8_t has_value = 0;
    ReadBytes(in, &has_value, 1);
    typed->has_value = has_value;
    if (!has_value) return;
    ReadBytes(in, &typed->time_ms, sizeof(int64_t));
    ReadBytes(in, &typed->seq, sizeof(int64_t));
    Traits::Read(in, &typed->value, heap_bytes);
  }
  void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const override {
    const auto* typed = reinterpret_cast<const State*>(state);
    if (typed->has_value) {
      Traits::Append(builder, Traits::ViewOf(typed->value));
    } else {
      CheckArrow(builder->AppendNull(), "first/last output");
    }
  }

 private:
  static void Offer(State* state, typename Traits::View value, int64_t time_ms, int64_t seq,
                    int64_t* heap_bytes) {
    if (state->has_value) {
      bool better = kLast ? (time_ms > state->time_ms ||
                             (time_ms == state->time_ms && seq < state->seq))
                          : (time_ms < state->time_ms ||
                             (time_ms == state->time_ms && seq < state->seq));
      if (!better) return;
    }
    Traits::Set(&state->value, value, heap_bytes);
    state->time_ms = time_ms;
    state->seq = seq;
    state->has_value = 1;
  }
  std::shared_ptr<arrow::DataType> type_;
};

}  // namespace

std::unique_ptr<AggregateFunction> MakeValueFunction(const AggregateSpec& spec,
                                                     const std::shared_ptr<arrow::DataType>& type) {
  return aggregate_detail::VisitValueTraits(
      *type, [&](auto traits) -> std::unique_ptr<AggregateFunction> {
        using Traits = decltype(traits);
        if (spec.kind == "min") return std::make_unique<ExtremeFunction<Traits, false>>(type);
        if (spec.kind == "max") return std::make_unique<ExtremeFunction<Traits, true>>(type);
        if (spec.kind == "first") return std::make_unique<PickFunction<Traits, false>>(type);
        MS_CHECK(spec.kind == "last", "unexpected value aggregate " + spec.kind);
        return std::make_unique<PickFunction<Traits, true>>(type);
      });
}

}  // namespace millstream

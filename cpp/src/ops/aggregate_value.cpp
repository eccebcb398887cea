// min, max, first and last: aggregates that keep one input value (numbers, bools, strings,
// timestamps) and return it with the input type.
#include <arrow/builder.h>

#include <type_traits>

#include "core/error.h"
#include "ops/aggregate_function.h"
#include "ops/aggregate_value_traits.h"

namespace millstream {

namespace {

using aggregate_detail::ForEachValid;
using aggregate_detail::ReadBytes;
using aggregate_detail::AppendBytes;

// What decides which value is kept: a Choice has a Rank (what a candidate carries besides its
// value, kept and serialised with it) and Better(value, rank, current value, current rank).

// min and max: the value itself decides.
template <typename Traits, bool kMax>
struct ByValue {
  struct Rank {};
  static constexpr const char* kOutputName = "min/max output";
  static Rank RankOf(const UpdateRows&, int64_t) { return {}; }
  static bool Better(typename Traits::View value, Rank, typename Traits::View current, Rank) {
    return kMax ? Traits::Less(current, value) : Traits::Less(value, current);
  }
};

// first: the value with the smallest event time; last: the largest. Among rows with the same
// event time first takes the smallest value and last the largest: the result depends neither on
// batches nor on the order in which parallel splits deliver rows. Without event time (running
// aggregates) the order of arrival is the order.
template <typename Traits, bool kLast>
struct ByEventTime {
  struct Rank {
    int64_t time_ms;
  };
  static constexpr const char* kOutputName = "first/last output";
  static Rank RankOf(const UpdateRows& rows, int64_t row) {
    return {rows.times_ms ? rows.times_ms[row] : rows.first_seq + row};
  }
  static bool Better(typename Traits::View value, const Rank& rank, typename Traits::View current,
                     const Rank& current_rank) {
    if (rank.time_ms == current_rank.time_ms) {
      return kLast ? Traits::Less(current, value) : Traits::Less(value, current);
    }
    return kLast ? rank.time_ms > current_rank.time_ms : rank.time_ms < current_rank.time_ms;
  }
};

template <typename Traits, typename Choice>
class KeepOneFunction final : public AggregateFunction {
  using View = typename Traits::View;
  using Rank = typename Choice::Rank;
  static_assert(std::is_trivially_copyable_v<Rank>, "a Rank is serialised as its bytes");
  struct State {
    typename Traits::Stored value;
    [[no_unique_address]] Rank rank;  // min/max: takes no space
    int64_t has_value;
  };

 public:
  explicit KeepOneFunction(std::shared_ptr<arrow::DataType> type) : type_(std::move(type)) {}
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
      Offer(reinterpret_cast<State*>(states.at(group)), Traits::Get(array, row),
            Choice::RankOf(rows, row), rows.heap_bytes);
    });
  }
  void Merge(uint8_t* into, const uint8_t* from, int64_t* heap_bytes) const override {
    const auto* source = reinterpret_cast<const State*>(from);
    if (source->has_value) {
      Offer(reinterpret_cast<State*>(into), Traits::ViewOf(source->value), source->rank,
            heap_bytes);
    }
  }
  void Serialize(const uint8_t* state, std::string* out) const override {
    const auto* typed = reinterpret_cast<const State*>(state);
    out->push_back(typed->has_value ? 1 : 0);
    if (!typed->has_value) return;
    if constexpr (!std::is_empty_v<Rank>) AppendBytes(out, &typed->rank, sizeof(Rank));
    Traits::Write(out, typed->value);
  }
  void Deserialize(std::string_view* in, uint8_t* state, int64_t* heap_bytes) const override {
    auto* typed = reinterpret_cast<State*>(state);
    uint8_t has_value = 0;
    ReadBytes(in, &has_value, 1);
    typed->has_value = has_value;
    if (!has_value) return;
    if constexpr (!std::is_empty_v<Rank>) ReadBytes(in, &typed->rank, sizeof(Rank));
    Traits::Read(in, &typed->value, heap_bytes);
  }
  void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const override {
    const auto* typed = reinterpret_cast<const State*>(state);
    if (typed->has_value) {
      Traits::Append(builder, Traits::ViewOf(typed->value));
    } else {
      CheckArrow(builder->AppendNull(), Choice::kOutputName);
    }
  }

 private:
  static void Offer(State* state, View value, const Rank& rank, int64_t* heap_bytes) {
    if (state->has_value &&
        !Choice::Better(value, rank, Traits::ViewOf(state->value), state->rank)) {
      return;
    }
    Traits::Set(&state->value, value, heap_bytes);
    state->rank = rank;
    state->has_value = 1;
  }
  std::shared_ptr<arrow::DataType> type_;
};

template <typename Traits, typename Choice>
std::unique_ptr<AggregateFunction> KeepOne(const std::shared_ptr<arrow::DataType>& type) {
  return std::make_unique<KeepOneFunction<Traits, Choice>>(type);
}

}  // namespace

std::unique_ptr<AggregateFunction> MakeValueFunction(const AggregateSpec& spec,
                                                     const std::shared_ptr<arrow::DataType>& type) {
  return aggregate_detail::VisitValueTraits(
      *type, [&](auto traits) -> std::unique_ptr<AggregateFunction> {
        using Traits = decltype(traits);
        if (spec.kind == "min") return KeepOne<Traits, ByValue<Traits, false>>(type);
        if (spec.kind == "max") return KeepOne<Traits, ByValue<Traits, true>>(type);
        if (spec.kind == "first") return KeepOne<Traits, ByEventTime<Traits, false>>(type);
        MS_CHECK(spec.kind == "last", "unexpected value aggregate " + spec.kind);
        return KeepOne<Traits, ByEventTime<Traits, true>>(type);
      });
}

}  // namespace millstream

// count_distinct and collect_list: aggregates whose state grows with the input, kept on the heap
// (and counted in heap_bytes so the hot-state budget sees them).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>
#include <utility>
#include <vector>

#include <arrow/builder.h>

#include "core/error.h"
#include "ops/aggregate_function.h"
#include "ops/aggregate_value_traits.h"

namespace millstream {

namespace {

using aggregate_detail::AppendBytes;
using aggregate_detail::AppendString;
using aggregate_detail::ForEachValid;
using aggregate_detail::ReadBytes;
using aggregate_detail::ReadString;

// A value owned by a collection: numbers and bools by value, strings as std::string.
template <typename Traits>
using Owned = std::conditional_t<std::is_same_v<typename Traits::View, std::string_view>,
                                 std::string, typename Traits::Stored>;

template <typename T>
void WriteOwned(std::string* out, const T& value) {
  if constexpr (std::is_same_v<T, std::string>) AppendString(out, value);
  else AppendBytes(out, &value, sizeof(value));
}

template <typename T>
T ReadOwned(std::string_view* in) {
  if constexpr (std::is_same_v<T, std::string>) {
    return std::string(ReadString(in));
  } else {
    T value;
    ReadBytes(in, &value, sizeof(value));
    return value;
  }
}

template <typename T>
int64_t OwnedBytes(const T& value) {
  if constexpr (std::is_same_v<T, std::string>) return 48 + static_cast<int64_t>(value.size());
  else return 32;  // a set node or a list slot with its share of the table
}

// Distinct keys compare as SQL does: -0.0 equals 0.0 and all NaNs are one value.
template <typename Traits>
auto DistinctKey(typename Traits::View value) {
  if constexpr (std::is_same_v<typename Traits::View, std::string_view>) {
    return std::string(value);
  } else if constexpr (std::is_floating_point_v<typename Traits::View>) {
    double number = static_cast<double>(value);
    if (std::isnan(number)) number = std::numeric_limits<double>::quiet_NaN();
    if (number == 0.0) number = 0.0;
    uint64_t bits;
    std::memcpy(&bits, &number, sizeof(bits));
    return bits;
  } else {
    return static_cast<uint64_t>(value);
  }
}

template <typename Traits>
class CountDistinctFunction final : public AggregateFunction {
  using Key = decltype(DistinctKey<Traits>(std::declval<typename Traits::View>()));
  using Set = std::unordered_set<Key>;
  struct State {
    Set* set;
  };

 public:
  std::shared_ptr<arrow::DataType> output_type() const override { return arrow::int64(); }
  size_t state_bytes() const override { return sizeof(State); }
  bool owns_heap() const override { return true; }
  void Destroy(uint8_t* state, int64_t* heap_bytes) const override {
    auto* typed = reinterpret_cast<State*>(state);
    if (typed->set == nullptr) return;
    for (const Key& key : *typed->set) *heap_bytes -= OwnedBytes(key);
    delete typed->set;
    typed->set = nullptr;
  }
  void Update(const arrow::Array* input, const UpdateRows& rows,
              const StateRows& states) const override {
    const auto& array = static_cast<const typename Traits::ArrayType&>(*input);
    ForEachValid(*input, rows, [&](int64_t row, uint32_t group) {
      Insert(reinterpret_cast<State*>(states.at(group)), DistinctKey<Traits>(Traits::Get(array, row)),
             rows.heap_bytes);
    });
  }
  void Merge(uint8_t* into, const uint8_t* from, int64_t* heap_bytes) const override {
    const auto* source = reinterpret_cast<const State*>(from);
    if (source->set == nullptr) return;
    auto* target = reinterpret_cast<State*>(into);
    for (const Key& key : *source->set) Insert(target, key, heap_bytes);
  }
  void Serialize(const uint8_t* state, std::string* out) const override {
    const auto* typed = reinterpret_cast<const State*>(state);
    uint64_t size = typed->set ? typed->set->size() : 0;
    AppendBytes(out, &size, sizeof(size));
    if (typed->set) {
      for (const Key& key : *typed->set) WriteOwned(out, key);
    }
  }
  void Deserialize(std::string_view* in, uint8_t* state, int64_t* heap_bytes) const override {
    uint64_t size = 0;
    ReadBytes(in, &size, sizeof(size));
    auto* typed = reinterpret_cast<State*>(state);
    for (uint64_t i = 0; i < size; ++i) Insert(typed, ReadOwned<Key>(in), heap_bytes);
  }
  void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const override {
    const auto* typed = reinterpret_cast<const State*>(state);
    int64_t count = typed->set ? static_cast<int64_t>(typed->set->size()) : 0;
    CheckArrow(static_cast<arrow::Int64Builder*>(builder)->Append(count), "count_distinct output");
  }

 private:
  static void Insert(State* state, const Key& key, int64_t* heap_bytes) {
    if (state->set == nullptr) state->set = new Set();
    if (state->set->insert(key).second) *heap_bytes += OwnedBytes(key);
  }
};

// The values in arrival order (a list per group; nulls are left out like everywhere else,
// and a group without a non-null value gives a null list).
template <typename Traits>
class CollectListFunction final : public AggregateFunction {
  using Item = std::pair<int64_t, Owned<Traits>>;  // (arrival seq, value)
  using List = std::vector<Item>;
  struct State {
    List* list;
  };

 public:
  explicit CollectListFunction(std::shared_ptr<arrow::DataType> type)
      : type_(arrow::list(std::move(type))) {}
  std::shared_ptr<arrow::DataType> output_type() const override { return type_; }
  size_t state_bytes() const override { return sizeof(State); }
  bool owns_heap() const override { return true; }
  void Destroy(uint8_t* state, int64_t* heap_bytes) const override {
    auto* typed = reinterpret_cast<State*>(state);
    if (typed->list == nullptr) return;
    for (const Item& item : *typed->list) *heap_bytes -= OwnedBytes(item.second);
    delete typed->list;
    typed->list = nullptr;
  }
  void Update(const arrow::Array* input, const UpdateRows& rows,
              const StateRows& states) const override {
    const auto& array = static_cast<const typename Traits::ArrayType&>(*input);
    ForEachValid(*input, rows, [&](int64_t row, uint32_t group) {
      auto* state = reinterpret_cast<State*>(states.at(group));
      if (state->list == nullptr) state->list = new List();
      state->list->emplace_back(rows.first_seq + row, Owned<Traits>(Traits::Get(array, row)));
      *rows.heap_bytes += OwnedBytes(state->list->back().second);
    });
  }
  void Merge(uint8_t* into, const uint8_t* from, int64_t* heap_bytes) const override {
    const auto* source = reinterpret_cast<const State*>(from);
    if (source->list == nullptr || source->list->empty()) return;
    auto* target = reinterpret_cast<State*>(into);
    if (target->list == nullptr) target->list = new List();
    size_t middle = target->list->size();
    for (const Item& item : *source->list) {
      target->list->push_back(item);
      *heap_bytes += OwnedBytes(item.second);
    }
    auto by_seq = [](const Item& a, const Item& b) { return a.first < b.first; };
    std::inplace_merge(target->list->begin(), target->list->begin() + middle,
                       target->list->end(), by_seq);
  }
  void Serialize(const uint8_t* state, std::string* out) const override {
    const auto* typed = reinterpret_cast<const State*>(state);
    uint64_t size = typed->list ? typed->list->size() : 0;
    AppendBytes(out, &size, sizeof(size));
    if (typed->list == nullptr) return;
    for (const Item& item : *typed->list) {
      AppendBytes(out, &item.first, sizeof(item.first));
      WriteOwned(out, item.second);
    }
  }
  void Deserialize(std::string_view* in, uint8_t* state, int64_t* heap_bytes) const override {
    uint64_t size = 0;
    ReadBytes(in, &size, sizeof(size));
    if (size == 0) return;
    auto* typed = reinterpret_cast<State*>(state);
    if (typed->list == nullptr) typed->list = new List();
    typed->list->reserve(size);
    for (uint64_t i = 0; i < size; ++i) {
      int64_t seq = 0;
      ReadBytes(in, &seq, sizeof(seq));
      typed->list->emplace_back(seq, ReadOwned<Owned<Traits>>(in));
      *heap_bytes += OwnedBytes(typed->list->back().second);
    }
  }
  void Finalize(const uint8_t* state, arrow::ArrayBuilder* builder) const override {
    auto* list_builder = static_cast<arrow::ListBuilder*>(builder);
    const auto* typed = reinterpret_cast<const State*>(state);
    if (typed->list == nullptr || typed->list->empty()) {  // no non-null value: null, as sum
      CheckArrow(list_builder->AppendNull(), "collect_list output");
      return;
    }
    CheckArrow(list_builder->Append(), "collect_list output");
    arrow::ArrayBuilder* values = list_builder->value_builder();
    for (const Item& item : *typed->list) {
      Traits::Append(values, typename Traits::View(item.second));
    }
  }

 private:
  std::shared_ptr<arrow::DataType> type_;
};

}  // namespace

std::unique_ptr<AggregateFunction> MakeCollectFunction(
    const AggregateSpec& spec, const std::shared_ptr<arrow::DataType>& type) {
  return aggregate_detail::VisitValueTraits(
      *type, [&](auto traits) -> std::unique_ptr<AggregateFunction> {
        using Traits = decltype(traits);
        if (spec.kind == "count_distinct") return std::make_unique<CountDistinctFunction<Traits>>();
        MS_CHECK(spec.kind == "collect_list", "unexpected collection aggregate " + spec.kind);
        return std::make_unique<CollectListFunction<Traits>>(type);
      });
}

}  // namespace millstream

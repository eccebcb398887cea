// str.contains str.starts_with str.ends_with str.lower str.upper str.len str.slice.
// Lengths and slices count UTF-8 characters (code points), not bytes. Hand-written where Arrow
// has other semantics (utf8_length is int32, utf8_slice_codeunits has no polars-style
// (offset, length)) or is slower: literal search and ASCII case mapping. Non-ASCII case mapping
// and regular expressions (RE2) go to Arrow. Case mapping is per code point (utf8proc), so
// "ß".upper() stays "ß" where Python gives "SS".
#include <cstring>
#include <limits>
#include <type_traits>

#include <arrow/array/array_binary.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/bitmap_generate.h>

#include "core/error.h"
#include "core/time_arithmetic.h"
#include "expr/function_registry.h"
#include "expr/kernel_support.h"
#include "expr/row_selection.h"
#include "expr/type_rules.h"

namespace millstream::expr {

namespace {

// A utf8 / large_utf8 column: offsets already shifted by the array offset, data not.
template <typename Offset>
struct StringColumn {
  explicit StringColumn(const arrow::ArrayData& array)
      : offsets(array.GetValues<Offset>(1)),
        data(array.buffers[2] ? array.buffers[2]->data() : nullptr),
        length(array.length) {}
  std::string_view view(int64_t i) const {
    return {reinterpret_cast<const char*>(data) + offsets[i], static_cast<size_t>(offsets[i + 1] - offsets[i])};
  }
  // True if no byte of the column's characters has the high bit set.
  bool IsAscii() const {
    const uint8_t* begin = data + offsets[0];
    int64_t size = offsets[length] - offsets[0];
    uint8_t any_high = 0;
    for (int64_t i = 0; i < size; ++i) any_high |= begin[i];
    return (any_high & 0x80) == 0;
  }
  const Offset* offsets;
  const uint8_t* data;
  int64_t length;
};

// Calls body(StringColumn<int32_t or int64_t>) for the column's offset width.
template <typename Body>
auto VisitStrings(const arrow::Datum& value, Body&& body) {
  const arrow::ArrayData& array = *value.array();
  if (array.type->id() == arrow::Type::LARGE_STRING) return body(StringColumn<int64_t>(array));
  return body(StringColumn<int32_t>(array));
}

inline bool IsContinuationByte(uint8_t byte) { return (byte & 0xC0) == 0x80; }

int64_t CountCharacters(std::string_view text) {
  int64_t count = 0;
  for (char c : text) count += !IsContinuationByte(static_cast<uint8_t>(c));
  return count;
}

// Byte position of character `index` (0 <= index <= character count).
size_t BytePosition(std::string_view text, int64_t index) {
  size_t position = 0;
  for (int64_t seen = 0; position < text.size(); ++position) {
    if (!IsContinuationByte(static_cast<uint8_t>(text[position]))) {
      if (seen == index) return position;
      ++seen;
    }
  }
  return text.size();
}

template <typename Predicate>
arrow::Datum StringPredicate(const arrow::Datum& value, Predicate predicate) {
  return VisitStrings(value, [&](auto column) {
    auto bits = AllocateBitmap(column.length);
    int64_t row = 0;
    arrow::internal::GenerateBitsUnrolled(bits->mutable_data(), 0, column.length,
                                          [&] { return predicate(column.view(row++)); });
    return arrow::Datum(MakeArray(arrow::boolean(), column.length, ValidityAtZero(*value.array()),
                                  std::move(bits)));
  });
}

// Literal search over the whole data buffer at once (glibc's memmem is vectorised) instead of a
// search call per row: a hit is mapped back to its row, and kept if it does not run past the
// row's end. Measured 4x faster than std::string_view::find per row for short strings.
arrow::Datum ContainsLiteral(const arrow::Datum& value, const std::string& pattern) {
  return VisitStrings(value, [&](auto column) {
    auto bits = AllocateBitmap(column.length);
    uint8_t* bitmap = bits->mutable_data();
    if (pattern.empty()) {
      for (int64_t i = 0; i < column.length; ++i) arrow::bit_util::SetBit(bitmap, i);
    } else {
      const char* base = reinterpret_cast<const char*>(column.data);
      int64_t position = column.offsets[0];
      int64_t end = column.offsets[column.length];
      int64_t row = 0;
      while (position < end) {
        const void* hit = memmem(base + position, static_cast<size_t>(end - position), pattern.data(), pattern.size());
        if (hit == nullptr) break;
        int64_t at = static_cast<const char*>(hit) - base;
        while (column.offsets[row + 1] <= at) ++row;
        if (at + static_cast<int64_t>(pattern.size()) <= column.offsets[row + 1]) {
          arrow::bit_util::SetBit(bitmap, row);
          position = column.offsets[row + 1];
        } else {
          position = at + 1;
        }
      }
    }
    return arrow::Datum(MakeArray(arrow::boolean(), column.length, ValidityAtZero(*value.array()), std::move(bits)));
  });
}

// Offsets of the output when every string keeps its byte length: the input's when they start at
// zero, else shifted copies.
template <typename Offset>
std::shared_ptr<arrow::Buffer> OffsetsFromZero(const arrow::ArrayData& array, const StringColumn<Offset>& column) {
  if (array.offset == 0 && column.offsets[0] == 0) return array.buffers[1];
  auto buffer = AllocateBytes((column.length + 1) * static_cast<int64_t>(sizeof(Offset)));
  Offset* out = buffer->template mutable_data_as<Offset>();
  for (int64_t i = 0; i <= column.length; ++i) out[i] = column.offsets[i] - column.offsets[0];
  return buffer;
}

// The rows whose characters have a byte >= 0x80, from one scan of the character bytes, eight
// at a time.
template <typename Offset>
std::vector<int32_t> NonAsciiRows(const StringColumn<Offset>& column) {
  std::vector<int32_t> rows;
  const int64_t end = column.offsets[column.length];
  int64_t position = column.offsets[0];
  int64_t row = 0;
  while (position < end) {
    while (position + 8 <= end) {
      uint64_t word;
      std::memcpy(&word, column.data + position, sizeof(word));
      if ((word & 0x8080808080808080ULL) != 0) {
        position += __builtin_ctzll(word & 0x8080808080808080ULL) / 8;
        break;
      }
      position += 8;
    }
    while (position < end && column.data[position] < 0x80) ++position;
    if (position >= end) break;
    while (column.offsets[row + 1] <= position) ++row;
    rows.push_back(static_cast<int32_t>(row));
    position = column.offsets[row + 1];
  }
  return rows;
}

// Flips the case of the ASCII letters `from`..`from`+25 in `size` bytes.
void ChangeAsciiCase(const uint8_t* in, int64_t size, uint8_t from, uint8_t* out) {
  for (int64_t i = 0; i < size; ++i) {
    uint8_t byte = in[i];
    out[i] = static_cast<uint8_t>(byte - from) < 26 ? byte ^ 0x20 : byte;
  }
}

// ASCII rows are mapped here, byte by byte; the few rows with other characters go to Arrow's
// utf8_upper / utf8_lower (per code point) and are spliced in. Arrow alone decodes every code
// point of every row: the in-memory benchmark's names (a few accented) took 4x longer that way.
arrow::Datum ChangeCase(const arrow::Datum& value, bool upper) {
  const char* arrow_function = upper ? "utf8_upper" : "utf8_lower";
  const uint8_t from = upper ? 'a' : 'A';
  const arrow::ArrayData& array = *value.array();
  return VisitStrings(value, [&](auto column) {
    using Offset = std::remove_const_t<std::remove_pointer_t<decltype(column.offsets)>>;
    const std::vector<int32_t> mixed = NonAsciiRows(column);
    if (mixed.size() * 8 > static_cast<size_t>(column.length)) return CallArrow(arrow_function, {value});
    const uint8_t* in = column.data;
    const int64_t first = column.offsets[0];
    // The mixed rows, mapped by Arrow (row j of `mapped` is row mixed[j]); without any, `mapped`
    // is never read.
    arrow::Datum mapped_datum = value;
    if (!mixed.empty()) {
      const RowSelection selection{arrow::Buffer::Wrap(mixed.data(), mixed.size()),
                                   static_cast<int64_t>(mixed.size()), nullptr};
      mapped_datum = CallArrow(arrow_function, {arrow::Datum(TakeSelected(*value.make_array(), selection))});
    }
    const StringColumn<Offset> mapped(*mapped_datum.array());
    // Byte lengths may change (a few code points have a case partner of another width).
    int64_t growth = 0;
    bool resized = false;  // then the input's offsets do not fit (even when growth sums to 0)
    for (size_t j = 0; j < mixed.size(); ++j) {
      const int64_t change = (mapped.offsets[j + 1] - mapped.offsets[j]) -
                             (column.offsets[mixed[j] + 1] - column.offsets[mixed[j]]);
      growth += change;
      resized |= change != 0;
    }
    const int64_t size = column.offsets[column.length] - first + growth;
    MS_CHECK(size <= std::numeric_limits<Offset>::max(), "case mapping: the strings outgrow their offsets");
    auto data = AllocateBytes(size);
    uint8_t* out = data->mutable_data();
    std::shared_ptr<arrow::Buffer> offsets_buffer = OffsetsFromZero(array, column);
    Offset* out_offsets = nullptr;
    if (resized) {
      offsets_buffer = AllocateBytes((column.length + 1) * static_cast<int64_t>(sizeof(Offset)));
      out_offsets = offsets_buffer->template mutable_data_as<Offset>();
    }
    int64_t shift = -first;  // output offset minus input offset of the current row
    int64_t row = 0;
    for (size_t j = 0; j <= mixed.size(); ++j) {
      const int64_t stop = j < mixed.size() ? mixed[j] : column.length;  // ASCII rows [row, stop)
      ChangeAsciiCase(in + column.offsets[row], column.offsets[stop] - column.offsets[row], from,
                      out + column.offsets[row] + shift);
      if (out_offsets != nullptr) {
        for (int64_t r = row; r < stop; ++r) out_offsets[r] = static_cast<Offset>(column.offsets[r] + shift);
      }
      if (j == mixed.size()) break;
      const std::string_view text = mapped.view(static_cast<int64_t>(j));
      std::memcpy(out + column.offsets[stop] + shift, text.data(), text.size());
      if (out_offsets != nullptr) out_offsets[stop] = static_cast<Offset>(column.offsets[stop] + shift);
      shift += static_cast<int64_t>(text.size()) - (column.offsets[stop + 1] - column.offsets[stop]);
      row = stop + 1;
    }
    if (out_offsets != nullptr) out_offsets[column.length] = static_cast<Offset>(size);
    return arrow::Datum(arrow::ArrayData::Make(array.type, column.length,
                                               {ValidityAtZero(array), offsets_buffer, data},
                                               array.GetNullCount()));
  });
}

arrow::Datum Length(const arrow::Datum& value) {
  return VisitStrings(value, [&](auto column) {
    auto buffer = AllocateBytes(column.length * 8);
    int64_t* out = buffer->template mutable_data_as<int64_t>();
    if (column.IsAscii()) {
      for (int64_t i = 0; i < column.length; ++i) out[i] = column.offsets[i + 1] - column.offsets[i];
    } else {
      for (int64_t i = 0; i < column.length; ++i) out[i] = CountCharacters(column.view(i));
    }
    return arrow::Datum(MakeArray(arrow::int64(), column.length, ValidityAtZero(*value.array()),
                                  std::move(buffer)));
  });
}

// polars' str.slice(offset, length): a negative start counts from the end; both ends are
// clamped to the string.
arrow::Datum Slice(const arrow::Datum& value, int64_t start, std::optional<int64_t> length) {
  const arrow::ArrayData& array = *value.array();
  return VisitStrings(value, [&](auto column) {
    using Offset = std::remove_const_t<std::remove_pointer_t<decltype(column.offsets)>>;
    bool ascii = column.IsAscii();
    int64_t input_size = column.offsets[column.length] - column.offsets[0];
    auto offsets_buffer = AllocateBytes((column.length + 1) * static_cast<int64_t>(sizeof(Offset)));
    auto data_buffer = AllocateBytes(input_size);
    Offset* offsets = offsets_buffer->template mutable_data_as<Offset>();
    uint8_t* out = data_buffer->mutable_data();
    Offset written = 0;
    offsets[0] = 0;
    for (int64_t i = 0; i < column.length; ++i) {
      std::string_view text = column.view(i);
      int64_t characters = ascii ? static_cast<int64_t>(text.size()) : CountCharacters(text);
      int64_t first = start >= 0 ? start : characters + start;
      int64_t last = length ? SaturatingAdd(first, *length) : characters;  // length may be 2**63-1
      first = std::clamp<int64_t>(first, 0, characters);
      last = std::clamp<int64_t>(last, first, characters);
      size_t begin = ascii ? first : BytePosition(text, first);
      size_t end = ascii ? last : begin + BytePosition(text.substr(begin), last - first);
      std::memcpy(out + written, text.data() + begin, end - begin);
      written += static_cast<Offset>(end - begin);
      offsets[i + 1] = written;
    }
    auto result = arrow::ArrayData::Make(array.type, column.length,
                                         {ValidityAtZero(array), offsets_buffer, data_buffer},
                                         array.GetNullCount());
    return arrow::Datum(result);
  });
}

// --- resolvers --------------------------------------------------------------------------------

ResolvedCall StringResolved(const CallSite& call, std::shared_ptr<arrow::DataType> output_type) {
  call.ExpectArgCount(1);
  if (KindOf(*call.arg(0).type) != TypeKind::kString) call.FailTypes("it needs a string");
  ResolvedCall resolved;
  resolved.argument_types = {ComputeType(call.arg(0).type)};
  resolved.output_type = output_type ? output_type : resolved.argument_types[0];
  return resolved;
}

ResolvedCall ResolveContains(const CallSite& call) {
  ResolvedCall resolved = StringResolved(call, arrow::boolean());
  std::string pattern = call.StringOption("pattern");
  if (call.BoolOption("literal", false)) {
    resolved.kernel = [pattern](const std::vector<arrow::Datum>& args, int64_t) {
      return ContainsLiteral(args[0], pattern);
    };
    return resolved;
  }
  auto options = std::make_shared<arrow::compute::MatchSubstringOptions>(pattern);
  // RE2 compiles the pattern per call; trying it once here turns a bad pattern into a user error
  // before any data flows.
  EnsureComputeInitialized();
  auto probe = arrow::compute::CallFunction("match_substring_regex",
                                            {arrow::Datum(std::make_shared<arrow::StringScalar>(""))},
                                            options.get());
  if (!probe.ok()) {
    call.FailOption("invalid regular expression \"" + pattern + "\" (" + probe.status().message() + ")");
  }
  resolved.kernel = [options](const std::vector<arrow::Datum>& args, int64_t) {
    return CallArrow("match_substring_regex", args, options.get());
  };
  return resolved;
}

ResolvedCall ResolveStartsWith(const CallSite& call) {
  ResolvedCall resolved = StringResolved(call, arrow::boolean());
  std::string pattern = call.StringOption("pattern");
  resolved.kernel = [pattern](const std::vector<arrow::Datum>& args, int64_t) {
    return StringPredicate(args[0], [&](std::string_view text) { return text.starts_with(pattern); });
  };
  return resolved;
}

ResolvedCall ResolveEndsWith(const CallSite& call) {
  ResolvedCall resolved = StringResolved(call, arrow::boolean());
  std::string pattern = call.StringOption("pattern");
  resolved.kernel = [pattern](const std::vector<arrow::Datum>& args, int64_t) {
    return StringPredicate(args[0], [&](std::string_view text) { return text.ends_with(pattern); });
  };
  return resolved;
}

Resolver ResolveCase(bool upper) {
  return [upper](const CallSite& call) {
    ResolvedCall resolved = StringResolved(call, nullptr);
    resolved.kernel = [upper](const std::vector<arrow::Datum>& args, int64_t) { return ChangeCase(args[0], upper); };
    return resolved;
  };
}

ResolvedCall ResolveLength(const CallSite& call) {
  ResolvedCall resolved = StringResolved(call, arrow::int64());
  resolved.kernel = [](const std::vector<arrow::Datum>& args, int64_t) { return Length(args[0]); };
  return resolved;
}

ResolvedCall ResolveSlice(const CallSite& call) {
  ResolvedCall resolved = StringResolved(call, nullptr);
  int64_t start = call.IntOption("start");
  std::optional<int64_t> length = call.OptionalIntOption("length");
  if (length && *length < 0) call.FailOption("the length of a slice cannot be negative");
  resolved.kernel = [start, length](const std::vector<arrow::Datum>& args, int64_t) {
    return Slice(args[0], start, length);
  };
  return resolved;
}

}  // namespace

void RegisterStringFunctions(FunctionRegistry& registry) {
  registry.Add("str.contains", "true where the string contains `pattern`: a regular expression (RE2), "
               "or a plain substring with literal=true.", ResolveContains);
  registry.Add("str.starts_with", "true where the string starts with `pattern`.", ResolveStartsWith);
  registry.Add("str.ends_with", "true where the string ends with `pattern`.", ResolveEndsWith);
  registry.Add("str.lower", "lower case, code point by code point.", ResolveCase(false));
  registry.Add("str.upper", "upper case, code point by code point.", ResolveCase(true));
  registry.Add("str.len", "the number of UTF-8 characters (code points), int64.", ResolveLength);
  registry.Add("str.slice", "characters [start, start + length) (polars' str.slice): a negative start "
               "counts from the end, a null length means to the end.", ResolveSlice);
}

}  // namespace millstream::expr

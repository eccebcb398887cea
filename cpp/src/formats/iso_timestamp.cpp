#include "formats/iso_timestamp.h"

#include <array>

#include "core/types.h"

namespace millstream {

namespace {

constexpr int64_t kSecondsPerDay = 86400;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

struct CivilDate {
  int64_t year;
  unsigned month;
  unsigned day;
};

CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned mp = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(year_of_era) + era * 400 + (month <= 2), month, day};
}

bool IsLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Reads exactly `count` digits at text[*pos].
bool ReadDigits(std::string_view text, size_t* pos, int count, unsigned* value) {
  if (*pos + count > text.size()) return false;
  unsigned result = 0;
  for (int i = 0; i < count; ++i) {
    const unsigned digit = static_cast<unsigned char>(text[*pos + i]) - '0';
    if (digit > 9) return false;
    result = result * 10 + digit;
  }
  *pos += count;
  *value = result;
  return true;
}

int DigitsOfUnit(arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND: return 0;
    case arrow::TimeUnit::MILLI: return 3;
    case arrow::TimeUnit::MICRO: return 6;
    case arrow::TimeUnit::NANO: return 9;
  }
  return 0;
}

}  // namespace

bool ParseIsoTimestamp(std::string_view text, arrow::TimeUnit::type unit, int64_t* value) {
  size_t pos = 0;
  unsigned year = 0, month = 0, day = 0;
  if (!ReadDigits(text, &pos, 4, &year) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, &pos, 2, &month) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, &pos, 2, &day)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return false;

  unsigned hour = 0, minute = 0, second = 0;
  int64_t fraction_units = 0;  // the fraction of a second, in `unit`
  int64_t offset_seconds = 0;  // east of UTC
  if (pos < text.size()) {
    const char separator = text[pos++];
    if (separator != 'T' && separator != 't' && separator != ' ') return false;
    if (!ReadDigits(text, &pos, 2, &hour) || pos >= text.size() || text[pos++] != ':' ||
        !ReadDigits(text, &pos, 2, &minute)) {
      return false;
    }
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!ReadDigits(text, &pos, 2, &second)) return false;
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        const int unit_digits = DigitsOfUnit(unit);
        int digits = 0;
        while (pos < text.size() && static_cast<unsigned char>(text[pos] - '0') <= 9) {
          if (digits < unit_digits) fraction_units = fraction_units * 10 + (text[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0 || digits > 9) return false;
        for (int i = digits; i < unit_digits; ++i) fraction_units *= 10;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return false;
    if (pos < text.size()) {
      const char zone = text[pos++];
      if (zone == 'Z' || zone == 'z') {
        if (pos != text.size()) return false;
      } else if (zone == '+' || zone == '-') {
        unsigned offset_hours = 0, offset_minutes = 0;
        if (!ReadDigits(text, &pos, 2, &offset_hours)) return false;
        if (pos < text.size() && text[pos] == ':') ++pos;
        if (pos < text.size() && !ReadDigits(text, &pos, 2, &offset_minutes)) return false;
        if (pos != text.size() || offset_hours > 23 || offset_minutes > 59) return false;
        offset_seconds = static_cast<int64_t>(offset_hours * 3600 + offset_minutes * 60);
        if (zone == '-') offset_seconds = -offset_seconds;
      } else {
        return false;
      }
    }
  }

  const int64_t seconds = DaysFromCivil(year, month, day) * kSecondsPerDay + hour * 3600 +
                          minute * 60 + second - offset_seconds;
  int64_t scaled = 0;
  if (__builtin_mul_overflow(seconds, TimestampUnitsPerSecond(unit), &scaled) ||
      __builtin_add_overflow(scaled, fraction_units, value)) {
    return false;
  }
  return true;
}

void AppendIsoTimestamp(int64_t value, arrow::TimeUnit::type unit, bool utc_suffix,
                        std::string* out) {
  const int64_t per_second = TimestampUnitsPerSecond(unit);
  int64_t seconds = value / per_second;
  int64_t fraction = value % per_second;
  if (fraction < 0) {  // floor division: -1 ms is 23:59:59.999 of the day before
    fraction += per_second;
    seconds -= 1;
  }
  int64_t days = seconds / kSecondsPerDay;
  int64_t second_of_day = seconds % kSecondsPerDay;
  if (second_of_day < 0) {
    second_of_day += kSecondsPerDay;
    days -= 1;
  }
  const CivilDate date = CivilFromDays(days);
  char buffer[64];
  char* p = buffer;
  auto put = [&p](int64_t number, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + number % 10);
      number /= 10;
    }
    p += width;
  };
  int64_t year = date.year;
  if (year < 0) {
    *p++ = '-';
    year = -year;
  }
  put(year, year > 9999 ? 5 : 4);
  *p++ = '-';
  put(date.month, 2);
  *p++ = '-';
  put(date.day, 2);
  *p++ = 'T';
  put(second_of_day / 3600, 2);
  *p++ = ':';
  put(second_of_day / 60 % 60, 2);
  *p++ = ':';
  put(second_of_day % 60, 2);
  if (fraction != 0) {
    *p++ = '.';
    put(fraction, DigitsOfUnit(unit));
  }
  if (utc_suffix) *p++ = 'Z';
  out->append(buffer, p);
}

bool IsIsoDateTime(std::string_view text, bool* has_zone) {
  if (text.size() < 16 || (text[10] != 'T' && text[10] != ' ')) return false;
  int64_t value = 0;
  if (!ParseIsoTimestamp(text, arrow::TimeUnit::MICRO, &value)) return false;
  const std::string_view time = text.substr(11);
  *has_zone = time.back() == 'Z' || time.find_first_of("+-") != std::string_view::npos;
  return true;
}

std::shared_ptr<arrow::DataType> InferredTimestampType(bool any_zone) {
  return arrow::timestamp(arrow::TimeUnit::MICRO, any_zone ? "UTC" : "");
}

}  // namespace millstream

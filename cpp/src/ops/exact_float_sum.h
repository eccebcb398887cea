// A float64 sum whose result does not depend on the order of its additions or merges, so that
// sum and mean come out bit for bit the same at any parallelism and arrival order (DESIGN.md's
// "same output for every run"). A plain `double +=` rounds after every addition, and at P=2 the
// rows of a key arrive from two splits in an order that changes from run to run.
//
// How: a double is an integer times a power of two, so every finite value is an integer count
// of 2^-1074 (the smallest subnormal). That count is cut into bins of 30 bits at fixed
// positions, and the state keeps the exact integer sum of each value's part in the 3 highest
// bins touched so far (the bins of the largest value seen). Integer addition is exact and
// associative, and which bins are kept depends only on the largest value (not on when it came),
// so the result is a function of the multiset of values: the same in any order and any merge
// tree. Parts below the kept bins are dropped: each value loses less than 2^-60 of the largest
// value's magnitude (a naive double sum loses up to 2^-53 of the running sum per addition), and
// a sum of values within 60 bits of the largest (cents of amounts up to 10^16, say) is exact
// before its one final rounding to double. The ReproBLAS "binned" sums (Demmel & Nguyen) rest
// on the same idea with floating-point bins; integer bins make it simpler here.
//
// Each bin holds an int64; a value adds less than 2^30 to it, so 2^33 values (8.6 billion) fit
// in one sum before Add/Merge report an overflow (the caller raises a UserError). -0.0 sums to
// +0.0; NaN and infinities follow IEEE (NaN if any NaN or both infinities, else the infinity).
//
// Example:
//   ExactFloatSum sum{};                 // all-zero bytes are the empty sum
//   bool overflow = false;
//   for (double v : values) overflow |= !sum.Add(v);
//   double total = sum.Value();
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace millstream {

struct ExactFloatSum {
  static constexpr int kBinBits = 30;
  static constexpr int kBins = 3;
  static constexpr uint64_t kBinMask = (uint64_t{1} << kBinBits) - 1;
  static constexpr uint32_t kPositiveInfinity = 1, kNegativeInfinity = 2, kNaN = 4;

  // bins[k]: the exact sum of the values' parts in bin (top_bin_plus_one - kBins + k); 0 means
  // nothing finite and non-zero was added yet. Zero bytes are the empty sum.
  int64_t bins[kBins];
  int32_t top_bin_plus_one;
  uint32_t specials;  // kPositiveInfinity | kNegativeInfinity | kNaN seen

  // Adds x; false if a bin overflowed (more than 2^33 values in one sum).
  bool Add(double x) {
    uint64_t bits;
    std::memcpy(&bits, &x, 8);
    const int exponent = static_cast<int>((bits >> 52) & 0x7ff);
    uint64_t mantissa = bits & ((uint64_t{1} << 52) - 1);
    const bool negative = (bits >> 63) != 0;
    if (exponent == 0x7ff) {
      specials |= mantissa != 0 ? kNaN : negative ? kNegativeInfinity : kPositiveInfinity;
      return true;
    }
    if (exponent == 0 && mantissa == 0) return true;
    int position = 0;  // of the mantissa's lowest bit, in bits above 2^-1074
    if (exponent != 0) {
      mantissa |= uint64_t{1} << 52;
      position = exponent - 1;
    }
    const int value_top_bin = (position + 52) / kBinBits;
    if (value_top_bin + 1 > top_bin_plus_one) Raise(value_top_bin + 1);
    // The value in units of the lowest kept bin's first bit: its top bit is below bit 90, so a
    // left shift (< 38 places) fits in 128 bits; a right shift drops what is below the bins.
    const int offset = position - (top_bin_plus_one - kBins) * kBinBits;
    unsigned __int128 scaled = mantissa;
    if (offset >= 0) {
      scaled <<= offset;
    } else {
      scaled = -offset < 64 ? mantissa >> -offset : 0;
    }
    const int64_t sign = negative ? -1 : 0;  // x -> (x ^ sign) - sign negates when negative
    bool overflow = false;
    for (int k = 0; k < kBins; ++k) {
      const int64_t part = static_cast<int64_t>(static_cast<uint64_t>(scaled >> (k * kBinBits)) & kBinMask);
      overflow |= __builtin_add_overflow(bins[k], (part ^ sign) - sign, &bins[k]);
    }
    return !overflow;
  }

  // Adds another sum into this one; false if a bin overflowed.
  bool Merge(const ExactFloatSum& other) {
    specials |= other.specials;
    if (other.top_bin_plus_one == 0) return true;
    if (other.top_bin_plus_one > top_bin_plus_one) Raise(other.top_bin_plus_one);
    const int offset = top_bin_plus_one - other.top_bin_plus_one;  // other's bin k is our k - offset
    bool overflow = false;
    for (int k = offset; k < kBins; ++k) {
      overflow |= __builtin_add_overflow(bins[k - offset], other.bins[k], &bins[k - offset]);
    }
    return !overflow;
  }

  // The sum, rounded once to the nearest double.
  double Value() const {
    if ((specials & kNaN) || (specials & (kPositiveInfinity | kNegativeInfinity)) ==
                                 (kPositiveInfinity | kNegativeInfinity)) {
      return std::nan("");
    }
    if (specials & kPositiveInfinity) return HUGE_VAL;
    if (specials & kNegativeInfinity) return -HUGE_VAL;
    if (top_bin_plus_one == 0) return 0.0;
    // |bins[k]| < 2^63, so the total is below 2^(63 + 60) + ...: inside __int128. Its
    // conversion to double rounds to nearest; the scaling is exact but for subnormal results.
    __int128 total = 0;
    for (int k = kBins - 1; k >= 0; --k) total = total * (__int128{1} << kBinBits) + bins[k];
    const int low_bin = top_bin_plus_one - kBins;
    return std::ldexp(static_cast<double>(total), low_bin * kBinBits - 1074);
  }

 private:
  // Moves the kept bins up so that the highest is top_bin_plus_one - 1; lower ones are dropped.
  void Raise(int new_top_bin_plus_one) {
    const int steps = new_top_bin_plus_one - top_bin_plus_one;
    for (int k = 0; k < kBins; ++k) bins[k] = k + steps < kBins ? bins[k + steps] : 0;
    top_bin_plus_one = new_top_bin_plus_one;
  }
};

static_assert(sizeof(ExactFloatSum) == 32, "a fixed-size aggregate state");

}  // namespace millstream

// What ExactFloatSum (ops/exact_float_sum.h) costs per value against a plain double sum, the
// sum aggregate's inner step: 1 M groups' worth of states, values added in a random group order
// (as a keyed aggregation does), best of 5 passes of CPU time.
//
// Build and run, from the repository root (header-only; no library needed):
//   g++ -O2 -std=c++20 -Icpp/src benchmarks/cpp/exact_float_sum_bench.cpp -o /tmp/exact_float_sum_bench && /tmp/exact_float_sum_bench
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <vector>

#include "ops/exact_float_sum.h"

namespace {

double CpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

template <typename Body>
double BestOf(int passes, Body&& body) {
  double best = 1e9;
  for (int i = 0; i < passes; ++i) {
    double start = CpuSeconds();
    body();
    best = std::min(best, CpuSeconds() - start);
  }
  return best;
}

}  // namespace

int main() {
  constexpr int kValues = 20'000'000;
  for (int groups : {1000, 100'000}) {
    std::mt19937_64 rng(1);
    std::vector<double> values(kValues);
    std::vector<uint32_t> group_of(kValues);
    std::lognormal_distribution<double> price(3.0, 1.5);
    std::uniform_int_distribution<uint32_t> group(0, groups - 1);
    for (int i = 0; i < kValues; ++i) {
      values[i] = price(rng);
      group_of[i] = group(rng);
    }
    std::vector<double> plain(groups);
    std::vector<millstream::ExactFloatSum> exact(groups);
    double plain_s = BestOf(5, [&] {
      std::fill(plain.begin(), plain.end(), 0.0);
      for (int i = 0; i < kValues; ++i) plain[group_of[i]] += values[i];
    });
    bool overflow = false;
    double exact_s = BestOf(5, [&] {
      std::fill(exact.begin(), exact.end(), millstream::ExactFloatSum{});
      for (int i = 0; i < kValues; ++i) overflow |= !exact[group_of[i]].Add(values[i]);
    });
    double checksum = 0;
    for (int g = 0; g < groups; ++g) checksum += exact[g].Value() - plain[g];
    std::printf("%7d groups: plain %.2f ns/value, exact %.2f ns/value (%.2fx); |exact - plain| summed %.3g%s\n",
                groups, plain_s * 1e9 / kValues, exact_s * 1e9 / kValues, exact_s / plain_s, checksum,
                overflow ? " OVERFLOW" : "");
  }
}

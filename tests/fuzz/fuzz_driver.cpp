#include "fuzz_driver.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"

namespace {

// The input being run, for the signal handler (which may only call async-signal-safe functions).
const std::string* g_current = nullptr;

void WriteCrash(const std::string& input, const char* why) {
  static int count = 0;
  const std::string name = std::string("crash-") + kFuzzTargetName + "-" + std::to_string(count++);
  std::ofstream(name, std::ios::binary) << input;
  std::fprintf(stderr, "fuzz %s: %s; input (%zu bytes) written to %s\n", kFuzzTargetName, why,
               input.size(), name.c_str());
}

void OnSignal(int signal_number) {
  if (g_current != nullptr) {
    char name[256];
    std::snprintf(name, sizeof(name), "crash-%s-signal", kFuzzTargetName);
    FILE* out = std::fopen(name, "wb");
    if (out != nullptr) {
      std::fwrite(g_current->data(), 1, g_current->size(), out);
      std::fclose(out);
    }
    const char message[] = "fuzz: a signal; the input is in crash-<target>-signal\n";
    (void)!::write(2, message, sizeof(message) - 1);
  }
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

// Runs one input; false (and a crash file) on a finding.
bool RunOne(const std::string& input) {
  g_current = &input;
  try {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  } catch (const millstream::UserError&) {
    // bad input, told as such: the expected answer
  } catch (const std::exception& error) {
    WriteCrash(input, error.what());
    return false;
  }
  g_current = nullptr;
  return true;
}

const char* const kInteresting[] = {
    "0", "-1", "9223372036854775807", "-9223372036854775808", "18446744073709551616", "1e400",
    "1e-400", "-0", "NaN", "inf", "null", "true", "\"", "\\", "\\u0000", "\\ud800", "{", "}", "[",
    "]", ",", ":", "\n", "\r\n", "\"\"", "\xef\xbb\xbf", "\xff", "\xc3", "2024-02-29T23:59:60Z",
    "9999-12-31T23:59:59.999999999+14:00", "1677-09-21T00:12:43.145224191", "T", "Z", "+",
    "\"version\"", "\"op\"", "\"inputs\"", "\"id\"", "1.5", "1e18", "\t", " "};

std::string Mutate(const std::string& input, const std::vector<std::string>& corpus,
                   std::mt19937_64& rng) {
  std::string out = input;
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const int edits = 1 + static_cast<int>(pick(4));
  for (int e = 0; e < edits; ++e) {
    switch (pick(7)) {
      case 0:  // flip a bit
        if (!out.empty()) out[pick(out.size())] ^= static_cast<char>(1 << pick(8));
        break;
      case 1:  // replace a byte
        if (!out.empty()) out[pick(out.size())] = static_cast<char>(pick(256));
        break;
      case 2:  // delete a run
        if (!out.empty()) {
          size_t at = pick(out.size());
          out.erase(at, 1 + pick(std::min<size_t>(16, out.size() - at)));
        }
        break;
      case 3:  // insert an interesting token
        out.insert(pick(out.size() + 1), kInteresting[pick(std::size(kInteresting))]);
        break;
      case 4:  // duplicate a run
        if (!out.empty()) {
          size_t at = pick(out.size());
          out.insert(pick(out.size() + 1), out.substr(at, 1 + pick(32)));
        }
        break;
      case 5: {  // splice with another input
        const std::string& other = corpus[pick(corpus.size())];
        if (!other.empty()) out = out.substr(0, pick(out.size() + 1)) + other.substr(pick(other.size()));
        break;
      }
      default:  // replace a digit run by an interesting number
        for (size_t at = pick(out.size() + 1); at < out.size(); ++at) {
          if (out[at] >= '0' && out[at] <= '9') {
            size_t end = at;
            while (end < out.size() && out[end] >= '0' && out[end] <= '9') ++end;
            out.replace(at, end - at, kInteresting[pick(8)]);
            break;
          }
        }
    }
  }
  if (out.size() > (1 << 16)) out.resize(1 << 16);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [--seconds N] [--seed N]\n", argv[0]);
    return 2;
  }
  double seconds = 5;
  uint64_t seed = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--seed") == 0) seed = std::strtoull(argv[i + 1], nullptr, 10);
  }
  for (int signal_number : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) ::signal(signal_number, OnSignal);

  std::vector<std::string> corpus;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1])) files.push_back(entry.path());
  std::sort(files.begin(), files.end());  // the same runs for the same seed
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (corpus.empty()) corpus.emplace_back();
  bool ok = true;
  for (const auto& input : corpus) ok &= RunOne(input);

  std::mt19937_64 rng(seed);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int64_t runs = 0;
  while (ok && std::chrono::steady_clock::now() < deadline) {
    ok &= RunOne(Mutate(corpus[std::uniform_int_distribution<size_t>(0, corpus.size() - 1)(rng)], corpus, rng));
    ++runs;
  }
  std::printf("fuzz %s: %zu seeds, %lld mutated inputs in %.0f s, seed %llu: %s\n", kFuzzTargetName,
              corpus.size(), static_cast<long long>(runs), seconds,
              static_cast<unsigned long long>(seed), ok ? "no finding" : "FINDING");
  return ok ? 0 : 1;
}

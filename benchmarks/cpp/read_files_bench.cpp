// Reading JSON Lines and CSV on one core: read_jsonl / read_csv's sources (one split, batches of
// 64 K rows, the schema given or inferred) next to polars' read_ndjson / read_csv with
// POLARS_MAX_THREADS=1, on the same generated file (20 M rows: int64 id, float64 price, string
// name), pinned to the same core. Prints a table; RESULTS.md keeps the figures.
//
// Build (after building millstream_engine in build/formats) and run, from the repository root.
// libsimdjson goes first on the line: libarrow/libparquet export their own, newer simdjson.
//   PA=$(.venv/bin/python -c 'import pyarrow as p; print(p.get_library_dirs()[0])') && g++ -O3 -std=c++20 -D_GLIBCXX_USE_CXX11_ABI=1 -Icpp/src -I$PA/include benchmarks/cpp/read_files_bench.cpp build/formats/cpp/libmillstream_engine.a /usr/lib/x86_64-linux-gnu/libsimdjson.so.14 $PA/libarrow.so.2600 $PA/libparquet.so.2600 -Wl,-rpath,$PA -o build/formats/read_files_bench && build/formats/read_files_bench --python .venv/bin/python
//
// Options: --rows N (20000000), --dir D (/tmp/millstream_read_bench; files are generated there
// once), --repeat N (best of 3, by CPU time), --cpu C (the core to pin to, 1), --python P (run polars with
// this interpreter; without it only millstream is measured), --format jsonl|csv|both.
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <arrow/api.h>

#include "connectors/file_source.h"

namespace {

using millstream::SchemaPtr;

struct Options {
  int64_t rows = 20'000'000;
  std::string dir = "/tmp/millstream_read_bench";
  int repeat = 3;
  int cpu = 1;
  std::string python;
  std::string format = "both";
};

// What a reader must agree on: row count, sum of ids, sum of name lengths.
struct Checksum {
  int64_t rows = 0;
  int64_t id_sum = 0;
  int64_t name_bytes = 0;
  bool operator==(const Checksum&) const = default;
};

struct Measurement {
  double seconds = 0;
  double cpu_seconds = 0;
  Checksum checksum;
};

SchemaPtr BenchSchema() {
  return arrow::schema({arrow::field("id", arrow::int64()), arrow::field("price", arrow::float64()),
                        arrow::field("name", arrow::utf8())});
}

bool Exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

// The same rows as JSON Lines and CSV, from a fixed seed: ids up to 1e9, prices with two
// decimals, names of 4..12 letters drawn from 1000 distinct ones.
void Generate(const Options& options, const std::string& jsonl_path, const std::string& csv_path) {
  if (Exists(jsonl_path) && Exists(csv_path)) return;
  std::fprintf(stderr, "generating %lld rows into %s ...\n", static_cast<long long>(options.rows),
               options.dir.c_str());
  ::mkdir(options.dir.c_str(), 0755);
  std::mt19937_64 random(20240102);
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) {
    std::string name(4 + random() % 9, ' ');
    for (char& c : name) c = static_cast<char>('a' + random() % 26);
    names.push_back(name);
  }
  std::ofstream jsonl(jsonl_path + ".part", std::ios::binary);
  std::ofstream csv(csv_path + ".part", std::ios::binary);
  csv << "id,price,name\n";
  std::string jsonl_chunk, csv_chunk;
  char buffer[64];
  for (int64_t row = 0; row < options.rows; ++row) {
    const int64_t id = static_cast<int64_t>(random() % 1'000'000'000);
    const uint64_t cents = random() % 100'000;
    std::snprintf(buffer, sizeof(buffer), "%llu.%02llu", static_cast<unsigned long long>(cents / 100),
                  static_cast<unsigned long long>(cents % 100));
    const std::string& name = names[random() % names.size()];
    jsonl_chunk += "{\"id\":" + std::to_string(id) + ",\"price\":" + buffer + ",\"name\":\"" + name + "\"}\n";
    csv_chunk += std::to_string(id) + "," + buffer + "," + name + "\n";
    if (jsonl_chunk.size() > (1 << 22)) {
      jsonl << jsonl_chunk;
      csv << csv_chunk;
      jsonl_chunk.clear();
      csv_chunk.clear();
    }
  }
  jsonl << jsonl_chunk;
  csv << csv_chunk;
  jsonl.close();
  csv.close();
  std::rename((jsonl_path + ".part").c_str(), jsonl_path.c_str());
  std::rename((csv_path + ".part").c_str(), csv_path.c_str());
}

double CpuSeconds() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Builds the source (schema inference included) and reads its one split to the end.
Measurement MeasureMillstream(bool csv, const std::string& path, bool given_schema) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = CpuSeconds();
  millstream::SourceOptions options;
  SchemaPtr schema = given_schema ? BenchSchema() : nullptr;
  auto source = csv ? millstream::MakeCsvSource(path, schema, options)
                    : millstream::MakeJsonlSource(path, schema, options);
  millstream::OperatorMetrics metrics("bench");
  auto splits = source->CreateSplits(1, &metrics);
  Measurement measurement;
  while (true) {
    millstream::SplitOutput output = splits[0]->Next();
    if (output.rows) {
      const auto& batch = *output.rows;
      const auto& ids = static_cast<const arrow::Int64Array&>(*batch.GetColumnByName("id"));
      const auto& names = static_cast<const arrow::StringArray&>(*batch.GetColumnByName("name"));
      for (int64_t i = 0; i < batch.num_rows(); ++i) measurement.checksum.id_sum += ids.Value(i);
      measurement.checksum.name_bytes += names.total_values_length();
      measurement.checksum.rows += batch.num_rows();
    }
    if (output.end) break;
  }
  measurement.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  measurement.cpu_seconds = CpuSeconds() - cpu_start;
  return measurement;
}

// polars in a child process on the same core: the best (least CPU time) of `repeat` reads, and
// its checksum.
bool MeasurePolars(const Options& options, bool csv, const std::string& path, bool given_schema,
                   Measurement* best) {
  const std::string schema =
      given_schema ? ", schema={'id': pl.Int64, 'price': pl.Float64, 'name': pl.String}" : "";
  const std::string read = std::string(csv ? "pl.read_csv" : "pl.read_ndjson") + "('" + path + "'" + schema + ")";
  const std::string program =
      "import time, resource, polars as pl\n"
      "best = None\n"
      "for _ in range(" + std::to_string(options.repeat) + "):\n"
      "    c0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()\n"
      "    df = " + read + "\n"
      "    t = time.perf_counter() - t0; c1 = resource.getrusage(resource.RUSAGE_SELF)\n"
      "    cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime\n"
      "    best = (t, cpu) if best is None or cpu < best[1] else best\n"
      "print(best[0], best[1], df.height, df['id'].sum(), df['name'].str.len_bytes().sum())\n";
  const std::string command = "POLARS_MAX_THREADS=1 taskset -c " + std::to_string(options.cpu) +
                              " " + options.python + " -c \"" + program + "\"";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return false;
  double seconds = 0, cpu = 0;
  long long rows = 0, id_sum = 0, name_bytes = 0;
  const int fields = std::fscanf(pipe, "%lf %lf %lld %lld %lld", &seconds, &cpu, &rows, &id_sum, &name_bytes);
  ::pclose(pipe);
  if (fields != 5) return false;
  best->seconds = seconds;
  best->cpu_seconds = cpu;
  best->checksum = Checksum{rows, id_sum, name_bytes};
  return true;
}

// Rows per CPU second is the figure compared: on a shared machine the wall clock also counts
// the time other processes held the core (see "cores used").
void PrintRow(const char* format, const char* schema, const char* engine, const Measurement& m,
              double millstream_rows_per_cpu_s, const char* check) {
  const double rows_per_s = m.checksum.rows / m.seconds;
  const double rows_per_cpu_s = m.checksum.rows / m.cpu_seconds;
  std::string ratio;
  if (millstream_rows_per_cpu_s > 0) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.2f", millstream_rows_per_cpu_s / rows_per_cpu_s);
    ratio = buffer;
  }
  std::printf("%-6s %-9s %-11s %8.2f %10.2f M %10.2f M %10.2f %10s  %s\n", format, schema, engine,
              m.seconds, rows_per_s / 1e6, rows_per_cpu_s / 1e6, m.cpu_seconds / m.seconds,
              ratio.c_str(), check);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--rows") options.rows = std::stoll(value);
    else if (flag == "--dir") options.dir = value;
    else if (flag == "--repeat") options.repeat = std::stoi(value);
    else if (flag == "--cpu") options.cpu = std::stoi(value);
    else if (flag == "--python") options.python = value;
    else if (flag == "--format") options.format = value;
    else {
      std::fprintf(stderr, "unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  const std::string suffix = "_" + std::to_string(options.rows);
  const std::string jsonl_path = options.dir + "/rows" + suffix + ".jsonl";
  const std::string csv_path = options.dir + "/rows" + suffix + ".csv";
  Generate(options, jsonl_path, csv_path);

  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(options.cpu, &cpus);
  ::sched_setaffinity(0, sizeof(cpus), &cpus);

  std::printf("%lld rows, best of %d, one core (cpu %d); files in page cache\n",
              static_cast<long long>(options.rows), options.repeat, options.cpu);
  std::printf("%-6s %-9s %-11s %8s %12s %12s %10s %10s  %s\n", "format", "schema", "engine",
              "seconds", "rows/s", "rows/cpu-s", "cores used", "ms/polars", "check");
  for (const bool csv : {false, true}) {
    if (options.format != "both" && options.format != (csv ? "csv" : "jsonl")) continue;
    const std::string& path = csv ? csv_path : jsonl_path;
    for (const bool given_schema : {true, false}) {
      Measurement best;
      for (int run = 0; run < options.repeat; ++run) {
        Measurement m = MeasureMillstream(csv, path, given_schema);
        if (run == 0 || m.cpu_seconds < best.cpu_seconds) best = m;
      }
      const char* format = csv ? "csv" : "jsonl";
      const char* schema = given_schema ? "given" : "inferred";
      const bool rows_ok = best.checksum.rows == options.rows;
      Measurement polars;
      const bool have_polars = !options.python.empty() &&
                               MeasurePolars(options, csv, path, given_schema, &polars);
      PrintRow(format, schema, "millstream", best, 0, rows_ok ? "reference" : "ROW COUNT WRONG");
      if (have_polars) {
        PrintRow(format, schema, "polars", polars, best.checksum.rows / best.cpu_seconds,
                 polars.checksum == best.checksum ? "ok" : "!!! MISMATCH");
      } else if (!options.python.empty()) {
        std::printf("%-6s %-9s polars: not available\n", format, schema);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}

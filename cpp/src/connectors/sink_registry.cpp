// The sink kinds a plan may name. A new kind is a class behind Sink and one line here; the plan
// parser learns from this table which settings the kind takes.
#include "connectors/sink.h"

#include <array>

namespace millstream {

namespace {

constexpr char kCsvExtension[] = "csv";
constexpr char kJsonlExtension[] = "jsonl";
constexpr char kParquetExtension[] = "parquet";

template <std::unique_ptr<FileSink> (*MakeFile)(const std::string&, SchemaPtr),
          const char* kExtension>
std::unique_ptr<Sink> MakeFileKind(const SinkSettings& settings, SchemaPtr schema) {
  if (settings.roll_per_checkpoint) {
    return MakeRollingFileSink(settings.path, kExtension, MakeFile, std::move(schema));
  }
  return MakeFileOutputSink(MakeFile(settings.path, std::move(schema)));
}

const std::array<SinkKind, 6> kSinkKinds = {{
    {"collect", false, false,
     [](const SinkSettings&, SchemaPtr) { return MakeCollectSink(); }},
    {"callback", false, true,
     [](const SinkSettings& settings, SchemaPtr) { return MakeCallbackSink(settings.callback); }},
    {"csv", true, false, &MakeFileKind<&MakeCsvSink, kCsvExtension>},
    {"jsonl", true, false, &MakeFileKind<&MakeJsonlSink, kJsonlExtension>},
    {"parquet", true, false, &MakeFileKind<&MakeParquetSink, kParquetExtension>},
    {"kafka", false, false,
     [](const SinkSettings& settings, SchemaPtr schema) {
       return MakeFileOutputSink(MakeKafkaSink(*settings.kafka, std::move(schema)));
     },
     /*takes_kafka=*/true},
}};

}  // namespace

const SinkKind* FindSinkKind(std::string_view name) {
  for (const SinkKind& kind : kSinkKinds) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

std::string SinkKindNames() {
  std::string names;
  for (const SinkKind& kind : kSinkKinds) {
    if (!names.empty()) names += ", ";
    names += kind.name;
  }
  return names;
}

}  // namespace millstream

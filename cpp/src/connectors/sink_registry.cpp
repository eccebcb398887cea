// The sink kinds a plan may name. A new kind is a class behind Sink and one line here; the plan
// parser learns from this table which settings the kind takes.
#include "connectors/sink.h"

#include <array>

namespace millstream {

namespace {

template <std::unique_ptr<FileSink> (*MakeFile)(const std::string&, SchemaPtr)>
std::unique_ptr<Sink> MakeFileKind(const SinkSettings& settings, SchemaPtr schema) {
  return MakeFileOutputSink(MakeFile(settings.path, std::move(schema)));
}

const std::array<SinkKind, 6> kSinkKinds = {{
    {"collect", false, false,
     [](const SinkSettings&, SchemaPtr) { return MakeCollectSink(); }},
    {"callback", false, true,
     [](const SinkSettings& settings, SchemaPtr) { return MakeCallbackSink(settings.callback); }},
    {"csv", true, false, &MakeFileKind<&MakeCsvSink>},
    {"jsonl", true, false, &MakeFileKind<&MakeJsonlSink>},
    {"parquet", true, false, &MakeFileKind<&MakeParquetSink>},
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

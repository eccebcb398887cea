// The JSON Lines reader (formats/jsonl_reader, json_object_decoder) on any bytes: with the
// schema given and inferred.
#include "connectors/file_source.h"
#include "fuzz_driver.h"
#include "text_source_fuzzing.h"

const char* const kFuzzTargetName = "jsonl_decoder";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace millstream;
  const std::string path = fuzzing::InputFile(data, size, "jsonl");
  fuzzing::CheckInvariants([&](SourceOptions options) { return MakeJsonlSource(path, fuzzing::FuzzSchema(), options); });
  fuzzing::CheckInvariants([&](SourceOptions options) { return MakeJsonlSource(path, nullptr, options); });
  return 0;
}

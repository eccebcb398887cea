// The CSV reader (formats/csv_reader, csv_fields, csv_layout) on any bytes: header and schema
// given, header with the schema inferred, and no header.
#include "connectors/file_source.h"
#include "fuzz_driver.h"
#include "text_source_fuzzing.h"

const char* const kFuzzTargetName = "csv_decoder";

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace millstream;
  const std::string path = fuzzing::InputFile(data, size, "csv");
  fuzzing::CheckInvariants([&](SourceOptions options) { return MakeCsvSource(path, fuzzing::FuzzSchema(), options); });
  fuzzing::CheckInvariants([&](SourceOptions options) { return MakeCsvSource(path, nullptr, options); });
  CsvOptions no_header;
  no_header.header = false;
  fuzzing::CheckInvariants(
      [&](SourceOptions options) { return MakeCsvSource(path, fuzzing::FuzzSchema(), options, no_header); });
  return 0;
}

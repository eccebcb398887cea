#include "arrow_capsules.h"

#include <arrow/c/bridge.h>

#include "core/error.h"

namespace millstream::bindings {

namespace {

template <typename Struct>
void ReleaseCapsule(PyObject* capsule, const char* name) {
  auto* data = static_cast<Struct*>(PyCapsule_GetPointer(capsule, name));
  if (data == nullptr) return;
  if (data->release != nullptr) data->release(data);
  delete data;
}

template <typename Struct>
Struct* CapsulePointer(py::handle capsule, const char* name) {
  auto* data = static_cast<Struct*>(PyCapsule_GetPointer(capsule.ptr(), name));
  if (data == nullptr) throw py::error_already_set();
  return data;
}

}  // namespace

py::capsule ExportSchemaCapsule(const arrow::Schema& schema) {
  auto* c_schema = new ArrowSchema;
  CheckArrow(arrow::ExportSchema(schema, c_schema), "exporting a schema");
  return py::capsule(c_schema, "arrow_schema", [](PyObject* capsule) {
    ReleaseCapsule<ArrowSchema>(capsule, "arrow_schema");
  });
}

std::shared_ptr<arrow::Schema> ImportSchemaCapsule(py::handle capsule) {
  return CheckArrow(arrow::ImportSchema(CapsulePointer<ArrowSchema>(capsule, "arrow_schema")),
                    "importing a schema");
}

py::tuple ExportBatchCapsules(const std::shared_ptr<arrow::RecordBatch>& batch) {
  auto* c_schema = new ArrowSchema;
  auto* c_array = new ArrowArray;
  CheckArrow(arrow::ExportRecordBatch(*batch, c_array, c_schema), "exporting a batch");
  py::capsule schema(c_schema, "arrow_schema", [](PyObject* capsule) {
    ReleaseCapsule<ArrowSchema>(capsule, "arrow_schema");
  });
  py::capsule array(c_array, "arrow_array", [](PyObject* capsule) {
    ReleaseCapsule<ArrowArray>(capsule, "arrow_array");
  });
  return py::make_tuple(schema, array);
}

std::shared_ptr<arrow::RecordBatch> ImportBatchCapsules(py::handle schema_capsule,
                                                        py::handle array_capsule) {
  return CheckArrow(
      arrow::ImportRecordBatch(CapsulePointer<ArrowArray>(array_capsule, "arrow_array"),
                               CapsulePointer<ArrowSchema>(schema_capsule, "arrow_schema")),
      "importing a batch");
}

py::capsule ExportStreamCapsule(std::shared_ptr<arrow::RecordBatchReader> reader) {
  auto* c_stream = new ArrowArrayStream;
  CheckArrow(arrow::ExportRecordBatchReader(std::move(reader), c_stream), "exporting a stream");
  return py::capsule(c_stream, "arrow_array_stream", [](PyObject* capsule) {
    ReleaseCapsule<ArrowArrayStream>(capsule, "arrow_array_stream");
  });
}

std::shared_ptr<arrow::RecordBatchReader> ImportStreamCapsule(py::handle capsule) {
  return CheckArrow(arrow::ImportRecordBatchReader(
                        CapsulePointer<ArrowArrayStream>(capsule, "arrow_array_stream")),
                    "importing a stream");
}

}  // namespace millstream::bindings

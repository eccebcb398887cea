// Arrow C Data Interface <-> PyCapsule (the Arrow PyCapsule protocol): how batches and schemas
// cross into Python without copies.
#pragma once

#include <pybind11/pybind11.h>

#include <arrow/c/abi.h>
#include <arrow/record_batch.h>

namespace millstream::bindings {

namespace py = pybind11;

py::capsule ExportSchemaCapsule(const arrow::Schema& schema);
std::shared_ptr<arrow::Schema> ImportSchemaCapsule(py::handle capsule);

// (schema capsule, array capsule) of one record batch.
py::tuple ExportBatchCapsules(const std::shared_ptr<arrow::RecordBatch>& batch);
std::shared_ptr<arrow::RecordBatch> ImportBatchCapsules(py::handle schema_capsule,
                                                        py::handle array_capsule);

py::capsule ExportStreamCapsule(std::shared_ptr<arrow::RecordBatchReader> reader);
std::shared_ptr<arrow::RecordBatchReader> ImportStreamCapsule(py::handle capsule);

}  // namespace millstream::bindings

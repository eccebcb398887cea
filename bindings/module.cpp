// millstream._core: converts and forwards, nothing more. Plans arrive as JSON, batches as Arrow
// capsules; the run happens with the GIL released, in a thread of its own, while the calling
// thread watches for Ctrl-C.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <arrow/table.h>

#include <chrono>
#include <condition_variable>
#include <thread>

#include "arrow_capsules.h"
#include "connectors/file_source.h"
#include "connectors/table_source.h"
#include "core/error.h"
#include "runtime/executor.h"

namespace py = pybind11;

namespace millstream::bindings {

namespace {

// A Python object that may be released from any thread.
std::shared_ptr<py::object> Hold(py::object object) {
  return std::shared_ptr<py::object>(new py::object(std::move(object)), [](py::object* held) {
    py::gil_scoped_acquire gil;
    delete held;
  });
}

BatchFunction WrapBatchFunction(py::object function) {
  auto held = Hold(std::move(function));
  return [held](const BatchPtr& batch) -> BatchPtr {
    py::gil_scoped_acquire gil;
    py::tuple capsules = ExportBatchCapsules(batch);
    py::object result = (*held)(capsules[0], capsules[1]);
    if (result.is_none()) return nullptr;
    py::tuple pair = result;
    return ImportBatchCapsules(pair[0], pair[1]);
  };
}

SinkCallback WrapSinkCallback(py::object function) {
  auto held = Hold(std::move(function));
  return [held](const BatchPtr& batch) {
    py::gil_scoped_acquire gil;
    py::tuple capsules = ExportBatchCapsules(batch);
    (*held)(capsules[0], capsules[1]);
  };
}

py::list MetricsToPython(const RunMetrics& metrics) {
  py::list result;
  for (const auto& op : metrics.operators()) {
    py::dict entry;
    entry["operator"] = op.name;
    entry["rows_in"] = op.rows_in.load();
    entry["rows_out"] = op.rows_out.load();
    entry["rows_skipped"] = op.rows_skipped.load();
    entry["rows_dead_letter"] = op.rows_dead_letter.load();
    entry["rows_late"] = op.rows_late.load();
    entry["window_contributions_dropped"] = op.window_contributions_dropped.load();
    entry["bytes_read"] = op.bytes_read.load();
    entry["state_entries"] = op.state_entries.load();
    entry["state_entries_peak"] = op.state_entries_peak.load();
    entry["state_reads"] = op.state_reads.load();
    entry["state_writes"] = op.state_writes.load();
    result.append(entry);
  }
  return result;
}

// One run of a plan in a background thread.
class Job {
 public:
  Job(const std::string& plan_json, const std::vector<std::shared_ptr<Source>>& sources,
      const py::list& functions, const py::list& sink_callbacks) {
    PlanHandles handles;
    handles.sources = sources;
    for (auto function : functions) handles.functions.push_back(WrapBatchFunction(py::reinterpret_borrow<py::object>(function)));
    for (auto callback : sink_callbacks) handles.sink_callbacks.push_back(WrapSinkCallback(py::reinterpret_borrow<py::object>(callback)));
    executor_ = std::make_unique<Executor>(ParsePlan(plan_json), std::move(handles));
    thread_ = std::thread([this] {
      try {
        result_ = executor_->Run(cancel_);
      } catch (...) {
        error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
      done_signal_.notify_all();
    });
  }

  ~Job() {
    cancel_ = true;
    if (thread_.joinable()) {
      py::gil_scoped_release release;
      thread_.join();
    }
  }

  // Waits up to `timeout_s` (None: until the end), watching for Ctrl-C; True when the run ended.
  bool Wait(std::optional<double> timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(timeout_s.value_or(1e9)));
    bool interrupted = false;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(mutex_);
      while (!done_ && std::chrono::steady_clock::now() < deadline) {
        done_signal_.wait_for(lock, std::chrono::milliseconds(50));
        if (done_) break;
        lock.unlock();
        {
          py::gil_scoped_acquire gil;
          if (PyErr_CheckSignals() != 0) {
            PyErr_Clear();
            interrupted = true;
          }
        }
        lock.lock();
        if (interrupted) {
          cancel_ = true;
          done_signal_.wait(lock, [this] { return done_; });
        }
      }
    }
    if (interrupted) {
      Join();
      PyErr_SetNone(PyExc_KeyboardInterrupt);
      throw py::error_already_set();
    }
    if (!done_) return false;
    Join();
    if (error_) {
      auto error = error_;
      error_ = nullptr;
      std::rethrow_exception(error);
    }
    return true;
  }

  void Stop() { cancel_ = true; }
  bool done() {
    std::lock_guard<std::mutex> lock(mutex_);
    return done_;
  }
  py::list Metrics() const { return MetricsToPython(executor_->metrics()); }

  py::dict Result() {
    py::dict collected;
    for (auto& [id, batches] : result_.collected) {
      auto reader = CheckArrow(
          arrow::RecordBatchReader::Make(batches, result_.collected_schemas.at(id)), "result");
      collected[py::int_(id)] = ExportStreamCapsule(std::move(reader));
    }
    py::dict result;
    result["collected"] = collected;
    result["seconds"] = result_.seconds;
    result["metrics"] = Metrics();
    return result;
  }

 private:
  void Join() {
    if (thread_.joinable()) {
      py::gil_scoped_release release;
      thread_.join();
    }
  }

  std::unique_ptr<Executor> executor_;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable done_signal_;
  bool done_ = false;
  RunResult result_;
  std::exception_ptr error_;
};

SourceOptions MakeOptions(const std::string& on_error, int64_t batch_size) {
  SourceOptions options;
  options.on_error = ParseOnError(on_error);
  options.batch_size = batch_size;
  return options;
}

SchemaPtr OptionalSchema(py::object capsule) {
  return capsule.is_none() ? nullptr : ImportSchemaCapsule(capsule);
}

}  // namespace

}  // namespace millstream::bindings

PYBIND11_MODULE(_core, m) {
  using namespace millstream;
  using namespace millstream::bindings;
  m.doc() = "millstream's native engine (thin bindings; the logic lives in cpp/)";

  static py::exception<Cancelled> cancelled_error(m, "Cancelled", PyExc_KeyboardInterrupt);
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const UserTypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const UserError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const Cancelled& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    } catch (const InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  py::class_<Source, std::shared_ptr<Source>>(m, "Source")
      .def_property_readonly("name", &Source::name)
      .def("schema_capsule", [](const Source& source) { return ExportSchemaCapsule(*source.schema()); });

  m.def("table_source", [](py::object stream_capsule, const std::string& name, int64_t batch_size) {
    auto reader = ImportStreamCapsule(stream_capsule);
    auto table = CheckArrow(reader->ToTable(), "reading an in-memory table");
    return MakeTableSource(std::move(table), name, batch_size);
  });
  m.def("jsonl_source", [](const std::string& path, py::object schema, const std::string& on_error,
                           int64_t batch_size) {
    return MakeJsonlSource(path, OptionalSchema(schema), MakeOptions(on_error, batch_size));
  });
  m.def("csv_source", [](const std::string& path, py::object schema, const std::string& on_error,
                         int64_t batch_size, const std::string& delimiter, bool header) {
    CsvOptions csv;
    if (delimiter.size() != 1) throw UserError("read_csv: delimiter must be one character");
    csv.delimiter = delimiter[0];
    csv.header = header;
    return MakeCsvSource(path, OptionalSchema(schema), MakeOptions(on_error, batch_size), csv);
  });
  m.def("parquet_source", [](const std::string& path, const std::string& on_error, int64_t batch_size) {
    return MakeParquetSource(path, MakeOptions(on_error, batch_size));
  });
  m.def("dead_letter_schema", [] { return ExportSchemaCapsule(*DeadLetterSchema()); });
  m.def("resolve", [](const std::string& node_json, const py::list& input_schemas) {
    std::vector<SchemaPtr> inputs;
    for (auto capsule : input_schemas) inputs.push_back(ImportSchemaCapsule(capsule));
    py::list outputs;
    for (const auto& schema : ResolveNodeSchemas(ParseNode(node_json), inputs, PlanHandles{})) {
      outputs.append(ExportSchemaCapsule(*schema));
    }
    return outputs;
  }, "Output schemas (as capsules) of one plan node: raises the errors a run would.");

  py::class_<Job>(m, "Job")
      .def(py::init<const std::string&, const std::vector<std::shared_ptr<Source>>&,
                    const py::list&, const py::list&>())
      .def("wait", &Job::Wait, py::arg("timeout") = py::none())
      .def("stop", &Job::Stop)
      .def("done", &Job::done)
      .def("metrics", &Job::Metrics)
      .def("result", &Job::Result);
}

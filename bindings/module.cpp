// millstream._core: converts and forwards, nothing more. Plans arrive as JSON, batches as Arrow
// capsules; the run happens with the GIL released, in a thread of its own, while the calling
// thread watches for Ctrl-C.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <arrow/table.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "arrow_capsules.h"
#include "connectors/file_source.h"
#include "connectors/kafka_source.h"
#include "connectors/mock_kafka_cluster.h"
#include "connectors/table_source.h"
#include "core/error.h"
#include "plan/physical.h"
#include "plan/plan_parser.h"
#include "plan/plan_writer.h"
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
    entry["row_groups_pruned"] = op.row_groups_pruned.load();
    entry["rows_pruned"] = op.rows_pruned.load();
    entry["bytes_pruned"] = op.bytes_pruned.load();
    entry["state_entries"] = op.state_entries.load();
    entry["state_entries_peak"] = op.state_entries_peak.load();
    entry["state_reads"] = op.state_reads.load();
    entry["state_writes"] = op.state_writes.load();
    const int64_t watermark_ms = op.watermark_ms.load();
    entry["watermark_ms"] = watermark_ms == INT64_MIN ? py::none() : py::object(py::int_(watermark_ms));
    py::list splits;
    {
      std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(op.splits_mutex));
      for (const SplitProgress& split : op.splits) {
        py::dict progress;
        progress["split"] = split.name;
        progress["offset"] = split.position.load();
        progress["lag"] = split.lag.load();
        progress["paused"] = split.paused.load();
        splits.append(progress);
      }
    }
    if (!splits.empty()) entry["splits"] = splits;
    {
      std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(op.splits_mutex));
      if (!op.partitions_not_committed.empty()) {
        entry["partitions_not_committed"] = py::cast(op.partitions_not_committed);
      }
    }
    result.append(entry);
  }
  const CheckpointMetrics& checkpoints = metrics.checkpoints;
  if (checkpoints.enabled.load()) {
    py::dict entry;
    entry["operator"] = "checkpoints";
    const int64_t completed_ms = checkpoints.last_completed_unix_ms.load();
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
    entry["last_checkpoint_id"] = checkpoints.last_id.load();
    entry["last_checkpoint_duration_s"] = checkpoints.last_duration_ms.load() / 1000.0;
    entry["last_checkpoint_bytes"] = checkpoints.last_size_bytes.load();
    entry["last_checkpoint_age_s"] =
        completed_ms == 0 ? py::none() : py::object(py::float_((now_ms - completed_ms) / 1000.0));
    entry["checkpoints_completed"] = checkpoints.completed.load();
    entry["checkpoints_failed"] = checkpoints.failed.load();
    result.append(entry);
  }
  return result;
}

// One run of a plan in a background thread. Its status moves once, from running to done,
// stopped (stop(), or Ctrl-C in a wait) or failed; any number of Python threads may wait for
// it, stop it or read it at the same time.
class Job {
 public:
  enum class Status { kRunning, kDone, kStopped, kFailed };

  Job(const std::string& plan_json, const std::vector<std::shared_ptr<Source>>& sources,
      const py::list& functions, const py::list& sink_callbacks,
      const std::vector<KafkaSinkOptions>& kafka_sinks, const CheckpointOptions& checkpoints) {
    PlanHandles handles;
    handles.sources = sources;
    handles.kafka_sinks = kafka_sinks;
    for (auto function : functions) handles.functions.push_back(WrapBatchFunction(py::reinterpret_borrow<py::object>(function)));
    for (auto callback : sink_callbacks) handles.sink_callbacks.push_back(WrapSinkCallback(py::reinterpret_borrow<py::object>(callback)));
    executor_ = std::make_unique<Executor>(ParsePlan(plan_json), std::move(handles), checkpoints);
    thread_ = std::thread([this] { RunToEnd(); });
  }

  ~Job() {
    cancel_ = true;
    py::gil_scoped_release release;
    JoinOnce();
  }

  // Waits up to `timeout_s` (None: until the end) for the run to end; True when it has. Ctrl-C
  // in the wait stops the run and raises KeyboardInterrupt. When `raise_error`, a failed run
  // raises its error (in every waiting thread, every time).
  bool Wait(std::optional<double> timeout_s, bool raise_error) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(timeout_s.value_or(1e9)));
    bool interrupted = false;
    Status status;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(mutex_);
      while (status_ == Status::kRunning && std::chrono::steady_clock::now() < deadline) {
        done_signal_.wait_until(
            lock, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
        if (status_ != Status::kRunning) break;
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
          // Ctrl-C: as stop(); an unbounded run drains and commits, up to kStopDrainTimeout.
          Stop();
          if (!done_signal_.wait_for(lock, kStopDrainTimeout,
                                     [this] { return status_ != Status::kRunning; })) {
            cancel_ = true;
          }
          done_signal_.wait(lock, [this] { return status_ != Status::kRunning; });
        }
      }
      status = status_;
      lock.unlock();
      if (status != Status::kRunning) JoinOnce();
    }
    if (interrupted) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
      throw py::error_already_set();
    }
    if (status == Status::kFailed && raise_error) RaiseError();
    return status != Status::kRunning;
  }

  // An unbounded run drains (Executor::RequestStop: sinks take what was read, offsets are
  // committed); any other run is cancelled. Either ends as "stopped". Python's Job.stop()
  // cancels a drain that takes longer than its timeout.
  void Stop() {
    stop_requested_ = true;
    if (executor_->bounded()) {
      cancel_ = true;
    } else {
      executor_->RequestStop();
    }
  }
  void Cancel() {
    stop_requested_ = true;
    cancel_ = true;
  }

  std::string StatusName() {
    std::lock_guard<std::mutex> lock(mutex_);
    switch (status_) {
      case Status::kRunning: return "running";
      case Status::kDone: return "done";
      case Status::kStopped: return "stopped";
      case Status::kFailed: return "failed";
    }
    return "failed";
  }
  bool done() { return StatusName() != "running"; }
  py::list Metrics() const { return MetricsToPython(executor_->metrics()); }
  // Checkpoints (Executor): waits with the GIL released.
  int64_t Checkpoint(double timeout_s) {
    py::gil_scoped_release release;
    const int64_t checkpoint_id = executor_->TriggerCheckpoint();
    if (!executor_->WaitForCheckpoint(checkpoint_id, static_cast<int64_t>(timeout_s * 1000))) {
      throw UserError("checkpoint " + std::to_string(checkpoint_id) + " did not complete within " +
                      std::to_string(timeout_s) + " s (or the run ended first)");
    }
    return checkpoint_id;
  }
  int64_t Savepoint(const std::string& path, double timeout_s) {
    py::gil_scoped_release release;
    return executor_->Savepoint(path, static_cast<int64_t>(timeout_s * 1000));
  }

  py::dict Result() {
    if (!done()) throw UserError("the job is still running: wait() for it before reading its result");
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
  void RunToEnd() {
    Status status = Status::kDone;
    try {
      result_ = executor_->Run(cancel_);
      if (stop_requested_) status = Status::kStopped;  // drained after stop(), not at its end
    } catch (const Cancelled&) {
      status = Status::kStopped;
    } catch (...) {
      error_ = std::current_exception();
      status = Status::kFailed;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = status;
    done_signal_.notify_all();
  }

  // Raises the run's error (GIL held). A Python error (from a callback) can be restored only
  // once: it is kept as its exception object, raised again by every report.
  [[noreturn]] void RaiseError() {
    if (!python_error_) {
      try {
        std::rethrow_exception(error_);
      } catch (const py::error_already_set& error) {
        python_error_ = error.value();
        python_traceback_ = error.trace();
      }
    }
    // PyErr_Restore steals the references, and keeps the callback's traceback.
    PyErr_Restore(py::reinterpret_borrow<py::object>(
                      reinterpret_cast<PyObject*>(Py_TYPE(python_error_.ptr()))).release().ptr(),
                  python_error_.inc_ref().ptr(),
                  python_traceback_ && !python_traceback_.is_none()
                      ? python_traceback_.inc_ref().ptr()
                      : nullptr);
    throw py::error_already_set();
  }

  // Joins the run's thread: several threads may get here at once, one of them joins.
  void JoinOnce() {
    std::lock_guard<std::mutex> lock(join_mutex_);
    if (thread_.joinable()) thread_.join();
  }

  std::unique_ptr<Executor> executor_;
  // How long a Ctrl-C waits for an unbounded run to drain before it cancels the run.
  static constexpr auto kStopDrainTimeout = std::chrono::seconds(10);
  std::atomic<bool> cancel_{false};
  std::atomic<bool> stop_requested_{false};
  std::thread thread_;
  std::mutex join_mutex_;
  std::mutex mutex_;  // guards status_
  std::condition_variable done_signal_;
  Status status_ = Status::kRunning;
  RunResult result_;           // set before status_ leaves kRunning, then read-only
  std::exception_ptr error_;   // likewise
  py::object python_error_;    // error_'s Python exception, once reported (GIL guards it)
  py::object python_traceback_;
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

// (key: bytes | None, value: bytes, partition, [(name, bytes)], timestamp_ms) -> KafkaRecord
KafkaRecord RecordFromPython(const py::tuple& item) {
  KafkaRecord record;
  if (!item[0].is_none()) record.key = item[0].cast<std::string>();
  record.value = item[1].cast<std::string>();
  record.partition = item[2].cast<int32_t>();
  for (auto header : item[3].cast<py::list>()) {
    auto pair = header.cast<py::tuple>();
    record.headers.emplace_back(pair[0].cast<std::string>(), pair[1].cast<std::string>());
  }
  record.timestamp_ms = item[4].cast<int64_t>();
  return record;
}

// KafkaRecord -> (key, value, partition, offset, timestamp_ms, [(name, bytes)])
py::tuple RecordToPython(const KafkaRecord& record) {
  py::list headers;
  for (const auto& [name, value] : record.headers) headers.append(py::make_tuple(name, py::bytes(value)));
  return py::make_tuple(record.key ? py::object(py::bytes(*record.key)) : py::object(py::none()),
                        py::bytes(record.value), record.partition, record.offset,
                        record.timestamp_ms, headers);
}

}  // namespace

}  // namespace millstream::bindings

PYBIND11_MODULE(_core, m) {
  using namespace millstream;
  using namespace millstream::bindings;
  m.doc() = "millstream's native engine (thin bindings; the logic lives in cpp/)";

  static py::exception<Cancelled> cancelled_error(m, "Cancelled", PyExc_KeyboardInterrupt);
  static py::exception<PlanError> plan_error(m, "PlanError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const PlanError& e) {
      PyErr_SetString(plan_error.ptr(), e.what());
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

  m.def("table_source", [](py::object stream_capsule, const std::string& name, int64_t batch_size,
                           bool single_split) {
    auto reader = ImportStreamCapsule(stream_capsule);
    auto table = CheckArrow(reader->ToTable(), "reading an in-memory table");
    return MakeTableSource(std::move(table), name, batch_size, single_split);
  }, py::arg("stream_capsule"), py::arg("name"), py::arg("batch_size"), py::arg("single_split") = false);
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
  m.def("kafka_source", [](const std::vector<std::string>& topics, const std::string& brokers,
                           const std::string& group, const std::string& format, py::object schema,
                           const std::string& start, int64_t start_timestamp_ms,
                           const std::vector<std::string>& metadata, const KafkaConfig& config,
                           const std::string& on_error, int64_t batch_size, bool bounded,
                           const std::string& dead_letter_topic, bool join_group,
                           const std::string& csv_delimiter) {
    KafkaSourceOptions kafka;
    if (csv_delimiter.size() != 1) {
      throw UserError("read_kafka: csv={'delimiter': ...} must be one character, got '" +
                      csv_delimiter + "'");
    }
    kafka.csv_delimiter = csv_delimiter[0];
    kafka.bounded = bounded;
    kafka.join_group = join_group;
    kafka.dead_letter_topic = dead_letter_topic;
    kafka.topics = topics;
    kafka.brokers = brokers;
    kafka.group = group;
    kafka.format = ParseKafkaFormat(format);
    kafka.start = ParseKafkaStart(start, start_timestamp_ms);
    kafka.metadata = metadata;
    kafka.config = config;
    return MakeKafkaSource(std::move(kafka), OptionalSchema(schema), MakeOptions(on_error, batch_size));
  });
  py::class_<KafkaSinkOptions>(m, "KafkaSinkOptions")
      .def(py::init([](const std::string& topic, const std::string& brokers, const std::string& format,
                       const std::string& key_column, const KafkaConfig& config) {
        return KafkaSinkOptions{topic, brokers, format, key_column, config};
      }));
  py::class_<MockKafkaCluster>(m, "MockKafkaCluster")
      .def(py::init<int>())
      .def_property_readonly("bootstrap_servers", &MockKafkaCluster::bootstrap_servers)
      .def("create_topic", &MockKafkaCluster::CreateTopic)
      .def("broker_down", &MockKafkaCluster::BrokerDown)
      .def("broker_up", &MockKafkaCluster::BrokerUp)
      .def("produce", [](MockKafkaCluster& cluster, const std::string& topic, const py::list& items) {
        std::vector<KafkaRecord> records;
        for (auto item : items) records.push_back(RecordFromPython(item.cast<py::tuple>()));
        py::gil_scoped_release release;
        cluster.Produce(topic, records);
      })
      .def("consume", [](MockKafkaCluster& cluster, const std::string& topic, int timeout_ms) {
        std::vector<KafkaRecord> records;
        {
          py::gil_scoped_release release;
          records = cluster.Consume(topic, timeout_ms);
        }
        py::list result;
        for (const auto& record : records) result.append(RecordToPython(record));
        return result;
      });
  m.def("dead_letter_schema", [] { return ExportSchemaCapsule(*DeadLetterSchema()); });
  m.def("resolve", [](const std::string& node_document_json, const py::list& input_schemas) {
    const PlanNode node = ParseNodeDocument(node_document_json);  // before the capsules are taken
    std::vector<SchemaPtr> inputs;
    for (auto capsule : input_schemas) inputs.push_back(ImportSchemaCapsule(capsule));
    py::list outputs;
    for (const auto& schema : ResolveNodeSchemas(node, inputs, PlanHandles{})) {
      outputs.append(ExportSchemaCapsule(*schema));
    }
    return outputs;
  }, "Output schemas (as capsules) of one plan node ({\"version\": 1, \"node\": {...}}): "
     "raises the errors a run would.");
  m.def("plan_round_trip", [](const std::string& plan_json) { return WritePlan(ParsePlan(plan_json)); },
        "The plan as the engine reads it, written back in the plan format (PlanError if malformed).");

  py::class_<CheckpointOptions>(m, "CheckpointOptions")
      .def(py::init([](const std::string& directory, int64_t interval_ms, int kept,
                       const std::string& restore_from) {
             return CheckpointOptions{directory, interval_ms, kept, restore_from};
           }),
           py::arg("directory") = "", py::arg("interval_ms") = 0, py::arg("kept") = 3,
           py::arg("restore_from") = "");
  m.def("find_latest_checkpoint", [](const std::string& path) {
    std::vector<std::string> skipped;
    std::string found = FindLatestCheckpoint(path, &skipped);
    return py::make_tuple(found, skipped);
  }, "(the latest complete checkpoint under path, or '', and per damaged one passed over why)");

  py::class_<Job>(m, "Job")
      .def(py::init<const std::string&, const std::vector<std::shared_ptr<Source>>&,
                    const py::list&, const py::list&, const std::vector<KafkaSinkOptions>&,
                    const CheckpointOptions&>(),
           py::arg("plan"), py::arg("sources"), py::arg("functions"), py::arg("sink_callbacks"),
           py::arg("kafka_sinks") = std::vector<KafkaSinkOptions>{},
           py::arg("checkpoints") = CheckpointOptions{})
      .def("checkpoint", &Job::Checkpoint, py::arg("timeout"))
      .def("savepoint", &Job::Savepoint, py::arg("path"), py::arg("timeout"))
      .def("wait", &Job::Wait, py::arg("timeout") = py::none(), py::arg("raise_error") = true)
      .def("stop", &Job::Stop)
      .def("cancel", &Job::Cancel)
      .def("done", &Job::done)
      .def("status", &Job::StatusName)
      .def("metrics", &Job::Metrics)
      .def("result", &Job::Result);
}

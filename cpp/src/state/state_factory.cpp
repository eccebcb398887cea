#include "state/state_factory.h"

#include "core/error.h"
#include "state/memory_backend.h"

namespace millstream {

namespace {

void CheckOptions(const StateOptions& options) {
  if (options.kind != "memory" && options.kind != "rocksdb") {
    throw UserError("unknown state backend '" + options.kind + "': use \"memory\" or \"rocksdb\"");
  }
}

}  // namespace

class RocksDbResources {};

std::shared_ptr<StateEnvironment> StateEnvironment::Create(const StateOptions& options) {
  CheckOptions(options);
  if (options.kind == "rocksdb") {
    throw UserError("the rocksdb state backend is not built yet: use state=\"memory\"");
  }
  return std::shared_ptr<StateEnvironment>(new StateEnvironment(options, nullptr));
}

StateEnvironment::StateEnvironment(StateOptions options, std::shared_ptr<RocksDbResources> rocksdb)
    : options_(std::move(options)), rocksdb_(std::move(rocksdb)) {}

StateEnvironment::~StateEnvironment() = default;

std::string StateEnvironment::directory() const { return ""; }

std::unique_ptr<StateBackend> StateEnvironment::MakeBackend(const std::string& operator_id,
                                                            int subtask) {
  return std::make_unique<MemoryBackend>();
}

std::unique_ptr<StateBackend> MakeStateBackend(const StateOptions& options,
                                               const std::string& operator_id, int subtask) {
  return StateEnvironment::Create(options)->MakeBackend(operator_id, subtask);
}

}  // namespace millstream

#include "ops/keyed_snapshot.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "state/entry_file.h"
#include "state/keyed_state_store.h"
#include "state/state_backend.h"

namespace millstream {

namespace {

constexpr const char* kCountersFile = "/operator";

std::string BookkeepingPath(const std::string& snapshot_directory, const KeyedStateStore& store) {
  return snapshot_directory + "/" + store.column_family() + ".store";
}

}  // namespace

std::string BackendCheckpointDirectory(const std::string& snapshot_directory) {
  return snapshot_directory + "/db";
}

void SnapshotKeyedState(const SnapshotTarget& target, const SubtaskContext& context,
                        KeyedStateStore& store, uint32_t step, const OperatorCounters& counters) {
  MS_CHECK(context.state != nullptr, "a keyed subtask without its state backend");
  store.WriteHotForCheckpoint(step);
  context.state->Checkpoint(BackendCheckpointDirectory(target.directory));
  store.WriteBookkeeping(BookkeepingPath(target.directory, store), context.first_key_group,
                         context.end_key_group);
  store.CheckpointTaken();
  EntryFileWriter out;
  for (const auto& [name, value] : counters) {  // a std::map: in key order
    std::string bytes;
    AppendU64(&bytes, static_cast<uint64_t>(value));
    out.Add(name, bytes);
  }
  out.WriteTo(target.directory + kCountersFile);
}

RestoredKeyedState RestoreKeyedState(
    const SubtaskContext& context, KeyedStateStore& store,
    const std::function<void(std::string_view, std::string_view)>& each, bool scan_always) {
  RestoredKeyedState restored;
  std::vector<std::string> bookkeeping;
  for (const std::string& directory : context.restore_from) {
    bookkeeping.push_back(BookkeepingPath(directory, store));
    const std::string path = directory + kCountersFile;
    ReadEntryFile(path, [&](std::string_view name, std::string_view bytes) {
      size_t offset = 0;
      const int64_t value = static_cast<int64_t>(ReadU64(bytes, &offset, path));
      auto [entry, inserted] = restored.counters.emplace(std::string(name), value);
      if (!inserted) entry->second = std::max(entry->second, value);
    });
  }
  restored.scanned = store.Restored(bookkeeping, context.first_key_group, context.end_key_group,
                                    each, scan_always);
  return restored;
}

}  // namespace millstream

#include "runtime/checkpoint_coordinator.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"

namespace millstream {

namespace fs = std::filesystem;

CheckpointCoordinator::CheckpointCoordinator(CheckpointOptions options,
                                             std::vector<OperatorPrint> operators, int parallelism,
                                             int max_parallelism, int64_t first_id,
                                             CheckpointMetrics* metrics)
    : options_(std::move(options)), operators_(std::move(operators)), parallelism_(parallelism),
      max_parallelism_(max_parallelism), metrics_(metrics), next_id_(first_id) {
  MS_CHECK(first_id > 0, "checkpoint ids start at 1");
  metrics_->enabled = true;
}

int CheckpointCoordinator::AddPart(Part part) {
  std::lock_guard<std::mutex> lock(mutex_);
  MS_CHECK(in_flight_ == 0, "parts are added before the first checkpoint");
  parts_.push_back(std::move(part));
  return static_cast<int>(parts_.size()) - 1;
}

int CheckpointCoordinator::AddSource(int node_id, int split) {
  return AddPart({.kind = PartKind::kSource, .node_id = node_id, .index = split});
}

int CheckpointCoordinator::AddKeyed(int node_id, int subtask, int first_key_group,
                                    int end_key_group) {
  return AddPart({.kind = PartKind::kKeyed, .node_id = node_id, .index = subtask,
                  .first_key_group = first_key_group, .end_key_group = end_key_group,
                  .directory_name = "op" + std::to_string(node_id) + "-" + std::to_string(subtask)});
}

int CheckpointCoordinator::AddSink(int node_id) {
  return AddPart({.kind = PartKind::kSink, .node_id = node_id,
                  .directory_name = "sink" + std::to_string(node_id)});
}

void CheckpointCoordinator::SetHooks(std::function<void(int64_t)> on_started,
                                     std::function<void(int64_t)> on_complete) {
  on_started_ = std::move(on_started);
  on_complete_ = std::move(on_complete);
}

int64_t CheckpointCoordinator::Request() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return 0;
  if (in_flight_ != 0) {
    requested_after_ = true;
    return in_flight_ + 1;
  }
  start_requested_ = true;
  return next_id_;
}

void CheckpointCoordinator::StartIfRequested() {
  int64_t id = 0;
  bool complete_now = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_ || in_flight_ != 0 || !start_requested_) return;
    start_requested_ = false;
    id = in_flight_ = next_id_++;
    started_at_ = std::chrono::steady_clock::now();
    building_ = CheckpointManifest{};
    building_.checkpoint_id = id;
    building_.parallelism = parallelism_;
    building_.max_parallelism = max_parallelism_;
    building_.operators = operators_;
    fs::create_directories(CheckpointPath(id));
    remaining_ = static_cast<int>(parts_.size());
    // A split that ended acks every later checkpoint with where it ended.
    for (Part& part : parts_) {
      if (part.kind != PartKind::kSource || !part.source_ended) continue;
      building_.sources.push_back(part.ended_source);
      part.acked = id;
      --remaining_;
    }
    complete_now = remaining_ == 0;
  }
  if (on_started_) on_started_(id);
  if (complete_now) Complete(id);
}

int64_t CheckpointCoordinator::PendingFor(int part) {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_flight_ != 0 && parts_[part].acked < in_flight_ ? in_flight_ : 0;
}

void CheckpointCoordinator::AckSource(int part, int64_t checkpoint_id, std::string position,
                                      std::vector<int64_t> chain_state) {
  bool complete = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    building_.sources.push_back({parts_[part].node_id, parts_[part].index, std::move(position),
                                 std::move(chain_state)});
    AckLocked(part, checkpoint_id);
    complete = remaining_ == 0;
  }
  if (complete) Complete(checkpoint_id);
}

int64_t CheckpointCoordinator::SourceEnded(int part, std::string position,
                                           std::vector<int64_t> chain_state) {
  int64_t owed = 0;
  bool complete = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Part& entry = parts_[part];
    entry.source_ended = true;
    entry.ended_source = {entry.node_id, entry.index, std::move(position), std::move(chain_state)};
    if (in_flight_ != 0 && entry.acked < in_flight_) {
      owed = in_flight_;
      building_.sources.push_back(entry.ended_source);
      AckLocked(part, owed);
      complete = remaining_ == 0;
    }
  }
  // The caller pushes the barrier before its end; the checkpoint may complete first, which is
  // fine: the split's part is where it ended, and nothing follows the barrier but the end.
  if (complete) Complete(owed);
  return owed;
}

SnapshotTarget CheckpointCoordinator::TargetFor(int part, int64_t checkpoint_id) {
  std::string name;
  int64_t previous = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    MS_CHECK(checkpoint_id == in_flight_, "a part writes only the checkpoint under way");
    name = parts_[part].directory_name;
    previous = completed_;
  }
  SnapshotTarget target;
  target.checkpoint_id = checkpoint_id;
  target.directory = (fs::path(CheckpointPath(checkpoint_id)) / name).string();
  fs::create_directories(target.directory);
  if (previous != 0) {
    const fs::path earlier = fs::path(CheckpointPath(previous)) / name;
    std::error_code error;
    if (fs::is_directory(earlier, error)) target.previous_directory = earlier.string();
  }
  return target;
}

void CheckpointCoordinator::AckKeyed(int part, int64_t checkpoint_id, bool ended,
                                     uint64_t next_sequence, std::vector<int64_t> tracker_state) {
  bool complete = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const Part& entry = parts_[part];
    // An ended part wrote nothing (TargetFor was not asked): it has no directory.
    building_.keyed.push_back({entry.node_id, entry.index, entry.first_key_group,
                               entry.end_key_group, ended, ended ? "" : entry.directory_name,
                               next_sequence, std::move(tracker_state)});
    AckLocked(part, checkpoint_id);
    complete = remaining_ == 0;
  }
  if (complete) Complete(checkpoint_id);
}

void CheckpointCoordinator::AckSink(int part, int64_t checkpoint_id, bool ended) {
  bool complete = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    building_.sinks.push_back({parts_[part].node_id, ended, parts_[part].directory_name});
    AckLocked(part, checkpoint_id);
    complete = remaining_ == 0;
  }
  if (complete) Complete(checkpoint_id);
}

void CheckpointCoordinator::AckLocked(int part, int64_t checkpoint_id) {
  MS_CHECK(checkpoint_id == in_flight_ && parts_[part].acked < checkpoint_id,
           "part " + std::to_string(part) + " acked checkpoint " + std::to_string(checkpoint_id) +
               " twice or out of turn (under way: " + std::to_string(in_flight_) + ")");
  parts_[part].acked = checkpoint_id;
  --remaining_;
}

void CheckpointCoordinator::ListFiles(const std::string& checkpoint_path,
                                      const std::string& relative,
                                      std::vector<ManifestFile>* files) {
  const fs::path root = fs::path(checkpoint_path) / relative;
  std::error_code error;
  if (!fs::is_directory(root, error)) return;
  std::vector<fs::path> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  for (const fs::path& path : found) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) throw UserError("cannot read " + path.string());
    const auto key = std::make_tuple(static_cast<uint64_t>(info.st_dev),
                                     static_cast<uint64_t>(info.st_ino),
                                     static_cast<int64_t>(info.st_size),
                                     static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 +
                                         info.st_mtim.tv_nsec);
    auto it = crc_cache_.find(key);
    if (it == crc_cache_.end()) it = crc_cache_.emplace(key, FileCrc32(path.string())).first;
    files->push_back({fs::relative(path, checkpoint_path).string(),
                      static_cast<int64_t>(info.st_size), it->second});
  }
}

void CheckpointCoordinator::Complete(int64_t checkpoint_id) {
  CheckpointManifest manifest;
  std::chrono::steady_clock::time_point started_at;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    manifest = std::move(building_);
    building_ = CheckpointManifest{};
    started_at = started_at_;
  }
  // In order, so that two checkpoints of the same state read alike.
  std::sort(manifest.sources.begin(), manifest.sources.end(),
            [](const auto& a, const auto& b) { return std::tie(a.node_id, a.split) < std::tie(b.node_id, b.split); });
  std::sort(manifest.keyed.begin(), manifest.keyed.end(),
            [](const auto& a, const auto& b) { return std::tie(a.node_id, a.subtask) < std::tie(b.node_id, b.subtask); });
  std::sort(manifest.sinks.begin(), manifest.sinks.end(),
            [](const auto& a, const auto& b) { return a.node_id < b.node_id; });
  const std::string path = CheckpointPath(checkpoint_id);
  std::vector<std::string> directories;
  for (const KeyedSubtaskPart& part : manifest.keyed) {
    if (!part.directory.empty()) directories.push_back(part.directory);
  }
  for (const SinkPart& part : manifest.sinks) directories.push_back(part.directory);
  for (const std::string& directory : directories) {
    ListFiles(path, directory, &manifest.files);
    SyncPath((fs::path(path) / directory).string());
  }
  // The MANIFEST last: until it is there, the checkpoint does not exist for a restore.
  WriteFileAtomically((fs::path(path) / kManifestName).string(), SerializeManifest(manifest));
  SyncPath(options_.directory);
  if (on_complete_) on_complete_(checkpoint_id);
  metrics_->last_id = checkpoint_id;
  metrics_->last_duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - started_at).count();
  metrics_->last_size_bytes = manifest.total_bytes();
  metrics_->last_completed_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch()).count();
  ++metrics_->completed;
  RemoveOldCheckpoints(checkpoint_id);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    completed_ = checkpoint_id;
    in_flight_ = 0;
    if (requested_after_) {
      requested_after_ = false;
      start_requested_ = true;
    }
  }
  changed_.notify_all();
  StartIfRequested();
}

void CheckpointCoordinator::RemoveOldCheckpoints(int64_t completed_id) {
  std::vector<int64_t> ids;
  for (const auto& entry : fs::directory_iterator(options_.directory)) {
    const int64_t id = CheckpointIdOfName(entry.path().filename().string());
    if (id > 0 && id <= completed_id) ids.push_back(id);
  }
  std::sort(ids.rbegin(), ids.rend());
  std::set<int64_t> pinned;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pinned = pinned_;
  }
  // The newest `kept` are kept; older ones (and partial ones a crash left) go, but not a pinned
  // one (a savepoint is copying it).
  for (size_t i = std::max<size_t>(1, static_cast<size_t>(options_.kept)); i < ids.size(); ++i) {
    if (pinned.count(ids[i]) == 0) fs::remove_all(CheckpointPath(ids[i]));
  }
}

bool CheckpointCoordinator::WaitFor(int64_t checkpoint_id, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return completed_ >= checkpoint_id || closed_; });
  return completed_ >= checkpoint_id;
}

std::pair<int64_t, std::string> CheckpointCoordinator::PinLatest() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (completed_ == 0) return {0, ""};
  pinned_.insert(completed_);
  return {completed_, CheckpointPath(completed_)};
}

void CheckpointCoordinator::Unpin(int64_t checkpoint_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  pinned_.erase(checkpoint_id);
}

void CheckpointCoordinator::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    closed_ = true;
    if (in_flight_ != 0) ++metrics_->failed;
  }
  changed_.notify_all();
}

int64_t CheckpointCoordinator::last_completed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return completed_;
}

std::string CheckpointCoordinator::CheckpointPath(int64_t checkpoint_id) const {
  return (fs::path(options_.directory) / CheckpointDirectoryName(checkpoint_id)).string();
}

}  // namespace millstream

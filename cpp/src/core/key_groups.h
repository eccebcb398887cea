// Key groups partition keyed state (DESIGN.md, Execution model):
//   key_group = hash(key) % max_parallelism,   subtask = key_group * P / max_parallelism.
// The hash is our own and fixed (not std::hash, not Arrow's): the same key gives the same key
// group on every run, machine, parallelism and library version, so a checkpoint can be restored
// with another parallelism and results do not depend on where a key was processed.
//
// Hashing is vectorised per column. Value hashes depend on the value, not on its width: an int32
// 5 and an int64 5 hash alike, as do a string and a large_string with the same bytes, so two
// inputs of a join keyed on columns of different widths meet in the same key group. -0.0 and
// 0.0 hash alike, as do all NaNs; every null hashes to one fixed value.
//
// Example:
//   std::vector<uint16_t> key_groups;
//   ComputeKeyGroups(*batch, {0}, 128, &key_groups);    // key_groups[row] in [0, 128)
//   auto [first, end] = KeyGroupRange(1, 3, 128);          // subtask 1 of 3 owns [43, 86)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <arrow/record_batch.h>

#include "core/key_encoding.h"  // EncodeKey, KeyEncoder, KeyDecoder: the key's bytes in state

namespace millstream {

constexpr int kMaxKeyGroups = 1 << 16;  // key groups are uint16_t

// hash(key) of every row: the 64-bit hash of the key columns combined in order. Throws
// UserTypeError for a key column of a type that cannot be a key.
void HashKeys(const arrow::RecordBatch& batch, const std::vector<int>& key_columns,
              std::vector<uint64_t>* hashes);

// key_group = hash(key) % max_parallelism for each row (max_parallelism in [1, 65536]).
void ComputeKeyGroups(const arrow::RecordBatch& batch, const std::vector<int>& key_columns,
                      int max_parallelism, std::vector<uint16_t>* key_groups);

// The key group of one hash, as ComputeKeyGroups computes it.
int KeyGroupOfHash(uint64_t hash, int max_parallelism);

// The subtask that owns `key_group`: key_group * parallelism / max_parallelism.
int SubtaskOfKeyGroup(int key_group, int parallelism, int max_parallelism);

// The key groups [first, end) that `subtask` owns: exactly those whose SubtaskOfKeyGroup is
// `subtask`. Empty when parallelism > max_parallelism leaves the subtask nothing.
std::pair<int, int> KeyGroupRange(int subtask, int parallelism, int max_parallelism);

// Appends the key group as the u16 big-endian prefix of a state key (DESIGN.md, State), so a
// subtask's state iterates key group by key group.
void AppendKeyGroup(int key_group, std::string* out);
// The key group of a state key that starts with AppendKeyGroup's two bytes.
int ReadKeyGroup(std::string_view state_key);

// Times in state keys (a window's or pane's end, a deadline): an int64 big-endian with the sign
// bit flipped, so that bytewise order is time order.
namespace state_keys {
void AppendTime(std::string* out, int64_t time_ms);
int64_t ReadTime(std::string_view bytes);  // the 8 bytes at the start of `bytes`
}  // namespace state_keys

}  // namespace millstream

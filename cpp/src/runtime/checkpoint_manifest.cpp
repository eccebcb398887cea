#include "runtime/checkpoint_manifest.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/snapshot.h"
#include "plan/plan_writer.h"

namespace millstream {

namespace {

constexpr const char* kFormatLine = "millstream-checkpoint 1";

// Strings that may hold any byte (positions, labels, node JSON) travel as hex, so that a line
// is always whitespace-separated tokens; "-" is the empty string.
std::string Hex(const std::string& bytes) {
  if (bytes.empty()) return "-";
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string Ints(const std::vector<int64_t>& values) {
  if (values.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(values[i]);
  }
  return out;
}

// Reads one manifest line's tokens; every failure names the manifest and the line.
class LineReader {
 public:
  LineReader(const std::string& line, const std::string& where, int line_number)
      : in_(line), where_(where), line_number_(line_number) {}
  std::string Token() {
    std::string token;
    if (!(in_ >> token)) Fail("has too few fields");
    return token;
  }
  int64_t Int() {
    const std::string token = Token();
    try {
      size_t used = 0;
      const int64_t value = std::stoll(token, &used);
      if (used != token.size()) Fail("has '" + token + "' where a number belongs");
      return value;
    } catch (const std::logic_error&) {
      Fail("has '" + token + "' where a number belongs");
    }
  }
  std::string Bytes() {
    const std::string token = Token();
    if (token == "-") return "";
    if (token.size() % 2 != 0) Fail("has a hex field of odd length");
    std::string out;
    for (size_t i = 0; i < token.size(); i += 2) {
      const int high = HexDigit(token[i]), low = HexDigit(token[i + 1]);
      if (high < 0 || low < 0) Fail("has a hex field with '" + token.substr(i, 2) + "'");
      out.push_back(static_cast<char>(high << 4 | low));
    }
    return out;
  }
  std::vector<int64_t> IntList() {
    const std::string token = Token();
    std::vector<int64_t> values;
    if (token == "-") return values;
    std::stringstream parts(token);
    std::string part;
    while (std::getline(parts, part, ',')) {
      try {
        values.push_back(std::stoll(part));
      } catch (const std::logic_error&) {
        Fail("has '" + part + "' in a list of numbers");
      }
    }
    return values;
  }
  [[noreturn]] void Fail(const std::string& what) const {
    throw UserError(where_ + " line " + std::to_string(line_number_) + " " + what +
                    ": the checkpoint is damaged; restore from an earlier one");
  }

 private:
  std::istringstream in_;
  const std::string& where_;
  int line_number_;
};

const std::array<uint32_t, 256>& CrcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> entries{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      entries[n] = c;
    }
    return entries;
  }();
  return table;
}

// The node as the plan format writes it, without the handle that indexes objects beside the
// plan: a restored run may build its handles in another order.
std::string NodeWithoutHandle(PlanNode node) {
  std::visit([](auto& options) {
    if constexpr (requires { options.handle; }) options.handle = -1;
  }, node.options);
  return WriteNode(node);
}

}  // namespace

int64_t CheckpointManifest::total_bytes() const {
  int64_t total = 0;
  for (const ManifestFile& file : files) total += file.size_bytes;
  return total;
}

std::string SerializeManifest(const CheckpointManifest& manifest) {
  std::ostringstream out;
  out << kFormatLine << "\n";
  out << "id " << manifest.checkpoint_id << " " << manifest.parallelism << " "
      << manifest.max_parallelism << "\n";
  for (const OperatorPrint& op : manifest.operators) {
    out << "operator " << op.node_id << " " << Hex(op.op) << " " << Hex(op.label) << " "
        << Hex(op.node_json) << "\n";
  }
  for (const SourceSplitPart& part : manifest.sources) {
    out << "source " << part.node_id << " " << part.split << " " << Hex(part.position) << " "
        << Ints(part.chain_state) << "\n";
  }
  for (const KeyedSubtaskPart& part : manifest.keyed) {
    out << "keyed " << part.node_id << " " << part.subtask << " " << part.first_key_group << " "
        << part.end_key_group << " " << (part.ended ? 1 : 0) << " " << Hex(part.directory) << " "
        << part.next_sequence << " " << Ints(part.tracker_state) << "\n";
  }
  for (const SinkPart& part : manifest.sinks) {
    out << "sink " << part.node_id << " " << (part.ended ? 1 : 0) << " " << Hex(part.directory)
        << "\n";
  }
  for (const ManifestFile& file : manifest.files) {
    out << "file " << Hex(file.path) << " " << file.size_bytes << " " << file.crc32 << "\n";
  }
  out << "end\n";
  return out.str();
}

CheckpointManifest ParseManifest(const std::string& text, const std::string& where) {
  CheckpointManifest manifest;
  std::istringstream lines(text);
  std::string line;
  int line_number = 0;
  bool ended = false;
  while (std::getline(lines, line)) {
    ++line_number;
    if (ended) LineReader(line, where, line_number).Fail("follows the end line");
    if (line_number == 1) {
      if (line != kFormatLine) {
        LineReader(line, where, line_number).Fail("is not '" + std::string(kFormatLine) + "'");
      }
      continue;
    }
    LineReader fields(line, where, line_number);
    const std::string kind = fields.Token();
    if (kind == "id") {
      manifest.checkpoint_id = fields.Int();
      manifest.parallelism = static_cast<int>(fields.Int());
      manifest.max_parallelism = static_cast<int>(fields.Int());
    } else if (kind == "operator") {
      OperatorPrint& op = manifest.operators.emplace_back();
      op.node_id = static_cast<int>(fields.Int());
      op.op = fields.Bytes();
      op.label = fields.Bytes();
      op.node_json = fields.Bytes();
    } else if (kind == "source") {
      SourceSplitPart& part = manifest.sources.emplace_back();
      part.node_id = static_cast<int>(fields.Int());
      part.split = static_cast<int>(fields.Int());
      part.position = fields.Bytes();
      part.chain_state = fields.IntList();
    } else if (kind == "keyed") {
      KeyedSubtaskPart& part = manifest.keyed.emplace_back();
      part.node_id = static_cast<int>(fields.Int());
      part.subtask = static_cast<int>(fields.Int());
      part.first_key_group = static_cast<int>(fields.Int());
      part.end_key_group = static_cast<int>(fields.Int());
      part.ended = fields.Int() != 0;
      part.directory = fields.Bytes();
      part.next_sequence = static_cast<uint64_t>(fields.Int());
      part.tracker_state = fields.IntList();
    } else if (kind == "sink") {
      SinkPart& part = manifest.sinks.emplace_back();
      part.node_id = static_cast<int>(fields.Int());
      part.ended = fields.Int() != 0;
      part.directory = fields.Bytes();
    } else if (kind == "file") {
      ManifestFile& file = manifest.files.emplace_back();
      file.path = fields.Bytes();
      file.size_bytes = fields.Int();
      file.crc32 = static_cast<uint32_t>(fields.Int());
    } else if (kind == "end") {
      ended = true;
    } else {
      fields.Fail("has an unknown record '" + kind + "'");
    }
  }
  if (!ended) {
    throw UserError(where + " has no end line (written partly): the checkpoint is damaged; "
                    "restore from an earlier one");
  }
  return manifest;
}

CheckpointManifest ReadManifest(const std::string& directory) {
  const std::string path = (std::filesystem::path(directory) / kManifestName).string();
  if (!std::filesystem::exists(path)) {
    throw UserError(directory + " has no " + kManifestName +
                    " (the checkpoint was not completed): restore from an earlier one");
  }
  return ParseManifest(ReadWholeFile(path), path);
}

std::string VerifyCheckpoint(const std::string& directory, const CheckpointManifest& manifest) {
  for (const ManifestFile& file : manifest.files) {
    const std::filesystem::path path = std::filesystem::path(directory) / file.path;
    std::error_code error;
    const auto size = std::filesystem::file_size(path, error);
    if (error) return "file " + file.path + " is missing";
    if (static_cast<int64_t>(size) != file.size_bytes) {
      return "file " + file.path + " has " + std::to_string(size) + " bytes, the manifest says " +
             std::to_string(file.size_bytes);
    }
    if (FileCrc32(path.string()) != file.crc32) return "file " + file.path + " fails its CRC";
  }
  return "";
}

std::vector<OperatorPrint> PrintOperators(const Plan& plan) {
  std::vector<OperatorPrint> prints;
  for (const PlanNode& node : plan.nodes) {
    prints.push_back({node.id, std::string(node.op()), node.label, NodeWithoutHandle(node)});
  }
  return prints;
}

void CheckPlanMatches(const CheckpointManifest& manifest, const Plan& plan,
                      const std::string& directory) {
  std::map<int, const OperatorPrint*> saved;
  for (const OperatorPrint& op : manifest.operators) saved[op.node_id] = &op;
  const std::string hint = "; run the plan the checkpoint was taken with, or give the pipeline "
                           "another checkpoint_dir to start afresh";
  for (const OperatorPrint& now : PrintOperators(plan)) {
    auto it = saved.find(now.node_id);
    if (it == saved.end()) {
      throw UserError("the plan does not match checkpoint " + directory + ": operator '" +
                      now.label + "' (op '" + now.op + "', node " + std::to_string(now.node_id) +
                      ") is not in the checkpoint" + hint);
    }
    if (it->second->node_json != now.node_json) {
      throw UserError("the plan does not match checkpoint " + directory + ": operator '" +
                      now.label + "' (op '" + now.op + "', node " + std::to_string(now.node_id) +
                      ") differs from the checkpoint's '" + it->second->label + "' (op '" +
                      it->second->op + "')" + hint);
    }
    saved.erase(it);
  }
  if (!saved.empty()) {
    const OperatorPrint& gone = *saved.begin()->second;
    throw UserError("the plan does not match checkpoint " + directory + ": the checkpoint's "
                    "operator '" + gone.label + "' (op '" + gone.op + "', node " +
                    std::to_string(gone.node_id) + ") is not in the plan" + hint);
  }
}

uint32_t FileCrc32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read " + path + " to check it");
  const auto& table = CrcTable();
  uint32_t crc = 0xffffffffu;
  std::vector<char> block(1 << 16);
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const std::streamsize count = in.gcount();
    for (std::streamsize i = 0; i < count; ++i) {
      crc = table[(crc ^ static_cast<unsigned char>(block[i])) & 0xff] ^ (crc >> 8);
    }
  }
  return crc ^ 0xffffffffu;
}

int64_t CheckpointIdOfName(const std::string& name) {
  if (name.rfind("chk-", 0) != 0 || name.size() == 4) return -1;
  int64_t id = 0;
  for (size_t i = 4; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || id > (INT64_MAX - 9) / 10) return -1;
    id = id * 10 + (name[i] - '0');
  }
  return id;
}

std::string CheckpointDirectoryName(int64_t checkpoint_id) {
  return "chk-" + std::to_string(checkpoint_id);
}

std::string FindLatestCheckpoint(const std::string& path, std::vector<std::string>* skipped) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(path, error)) return "";
  if (fs::exists(fs::path(path) / kManifestName)) return path;  // one checkpoint or savepoint
  std::vector<std::pair<int64_t, std::string>> candidates;
  for (const auto& entry : fs::directory_iterator(path)) {
    const int64_t id = CheckpointIdOfName(entry.path().filename().string());
    if (id >= 0 && entry.is_directory()) candidates.push_back({id, entry.path().string()});
  }
  std::sort(candidates.rbegin(), candidates.rend());
  for (const auto& [id, directory] : candidates) {
    try {
      const std::string problem = VerifyCheckpoint(directory, ReadManifest(directory));
      if (problem.empty()) return directory;
      skipped->push_back(directory + ": " + problem);
    } catch (const UserError& failure) {
      skipped->push_back(directory + ": " + failure.what());
    }
  }
  return "";
}

int64_t LargestCheckpointId(const std::string& checkpoint_dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  int64_t largest = 0;
  if (!fs::is_directory(checkpoint_dir, error)) return 0;
  for (const auto& entry : fs::directory_iterator(checkpoint_dir)) {
    largest = std::max(largest, CheckpointIdOfName(entry.path().filename().string()));
  }
  return largest;
}

}  // namespace millstream

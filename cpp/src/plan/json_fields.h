// Reads the fields of one JSON object of the plan strictly: a missing field, a field of the
// wrong type and a field nobody asked for are each a PlanError that names where the object is
// ("plan node 3 (op 'filter', label '...')") and the field ("window.size_ms").
//
//   JsonFields fields(object, "plan node 3 (...)");
//   const int64_t size_ms = fields.Int("size_ms");
//   fields.RejectUnread();   // any other field is an error
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

namespace millstream {

class JsonFields {
 public:
  // `prefix` names a nested object's fields after the field that holds it ("window.").
  JsonFields(simdjson::dom::object object, std::string where, std::string prefix = "");

  bool Has(std::string_view key) const;
  int64_t Int(std::string_view key);
  // An integer within [min, max] (an int field, a handle, a port).
  int64_t IntIn(std::string_view key, int64_t min, int64_t max);
  bool Bool(std::string_view key);
  std::string String(std::string_view key);
  std::vector<std::string> Strings(std::string_view key);
  std::vector<int64_t> Ints(std::string_view key);
  simdjson::dom::object Object(std::string_view key);
  simdjson::dom::array Array(std::string_view key);
  // Any JSON object, minified, for a reader of its own (expressions).
  std::string RawObject(std::string_view key);

  // Throws PlanError for each field no getter read, listing the fields this object takes.
  void RejectUnread() const;

  [[noreturn]] void Fail(std::string_view key, const std::string& problem) const;
  // "where: field 'prefix+key'" for messages about a value that parsed but does not fit.
  std::string Name(std::string_view key) const;
  const std::string& where() const { return where_; }
  // Once an object's own fields say what it is (a node's id, op and label), messages name that.
  void set_where(std::string where) { where_ = std::move(where); }

 private:
  simdjson::dom::element Element(std::string_view key);

  simdjson::dom::object object_;
  std::string where_;
  std::string prefix_;
  std::vector<std::string> read_;
};

// "a string", "an integer", ... for messages.
const char* JsonTypeName(simdjson::dom::element_type type);

}  // namespace millstream

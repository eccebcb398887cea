#include "plan/json_fields.h"

#include <algorithm>

#include "core/error.h"

namespace millstream {

using simdjson::dom::element;
using simdjson::dom::element_type;

const char* JsonTypeName(element_type type) {
  switch (type) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64: case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a float";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "an unknown JSON value";
}

JsonFields::JsonFields(simdjson::dom::object object, std::string where, std::string prefix)
    : object_(object), where_(std::move(where)), prefix_(std::move(prefix)) {}

std::string JsonFields::Name(std::string_view key) const {
  return where_ + ": field '" + prefix_ + std::string(key) + "'";
}

void JsonFields::Fail(std::string_view key, const std::string& problem) const {
  throw PlanError(Name(key) + " " + problem);
}

bool JsonFields::Has(std::string_view key) const {
  element value;
  return object_[key].get(value) == simdjson::SUCCESS;
}

element JsonFields::Element(std::string_view key) {
  element value;
  if (object_[key].get(value) != simdjson::SUCCESS) Fail(key, "is missing");
  read_.emplace_back(key);
  return value;
}

namespace {

[[noreturn]] void WrongType(const JsonFields& fields, std::string_view key, element value,
                            const char* expected) {
  fields.Fail(key, std::string("is ") + JsonTypeName(value.type()) + ", expected " + expected);
}

}  // namespace

int64_t JsonFields::Int(std::string_view key) {
  const element value = Element(key);
  int64_t result;
  if (value.type() != element_type::INT64 || value.get(result) != simdjson::SUCCESS) {
    WrongType(*this, key, value, "an integer");
  }
  return result;
}

int64_t JsonFields::IntIn(std::string_view key, int64_t min, int64_t max) {
  const int64_t value = Int(key);
  if (value < min || value > max) {
    Fail(key, "is " + std::to_string(value) + ", expected " + std::to_string(min) + " to " +
                  std::to_string(max));
  }
  return value;
}

bool JsonFields::Bool(std::string_view key) {
  const element value = Element(key);
  bool result;
  if (value.get(result) != simdjson::SUCCESS) WrongType(*this, key, value, "true or false");
  return result;
}

std::string JsonFields::String(std::string_view key) {
  const element value = Element(key);
  std::string_view result;
  if (value.get(result) != simdjson::SUCCESS) WrongType(*this, key, value, "a string");
  return std::string(result);
}

std::vector<std::string> JsonFields::Strings(std::string_view key) {
  std::vector<std::string> result;
  for (element item : Array(key)) {
    std::string_view text;
    if (item.get(text) != simdjson::SUCCESS) {
      Fail(key, std::string("holds ") + JsonTypeName(item.type()) + ", expected strings only");
    }
    result.emplace_back(text);
  }
  return result;
}

std::vector<int64_t> JsonFields::Ints(std::string_view key) {
  std::vector<int64_t> result;
  for (element item : Array(key)) {
    int64_t number;
    if (item.type() != element_type::INT64 || item.get(number) != simdjson::SUCCESS) {
      Fail(key, std::string("holds ") + JsonTypeName(item.type()) + ", expected integers only");
    }
    result.push_back(number);
  }
  return result;
}

simdjson::dom::object JsonFields::Object(std::string_view key) {
  const element value = Element(key);
  simdjson::dom::object result;
  if (value.get(result) != simdjson::SUCCESS) WrongType(*this, key, value, "an object");
  return result;
}

simdjson::dom::array JsonFields::Array(std::string_view key) {
  const element value = Element(key);
  simdjson::dom::array result;
  if (value.get(result) != simdjson::SUCCESS) WrongType(*this, key, value, "an array");
  return result;
}

std::string JsonFields::RawObject(std::string_view key) {
  return simdjson::to_string(Object(key));
}

void JsonFields::RejectUnread() const {
  for (auto field : object_) {
    if (std::find(read_.begin(), read_.end(), field.key) != read_.end()) continue;
    std::string known;
    for (const auto& name : read_) known += (known.empty() ? "" : ", ") + name;
    Fail(field.key, "is not a field of this object (its fields: " + known + ")");
  }
}

}  // namespace millstream

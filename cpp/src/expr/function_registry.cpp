#include "expr/function_registry.h"

#include "core/error.h"
#include "expr/type_rules.h"

namespace millstream::expr {

std::string CallSite::display_name() const {
  const char* symbol = OperatorSymbol(node_.name);
  return symbol && args_.size() <= 2 ? symbol : node_.name;
}

void CallSite::ExpectArgCount(size_t count) const {
  if (args_.size() != count) {
    throw UserError("'" + function() + "' takes " + std::to_string(count) + " argument" +
                    (count == 1 ? "" : "s") + ", got " + std::to_string(args_.size()) + " in " + text());
  }
}

const OptionValue* CallSite::FindOption(const std::string& key) const {
  auto found = node_.options.find(key);
  return found == node_.options.end() ? nullptr : &found->second;
}

void CallSite::FailOption(const std::string& what) const { throw UserError(what + " in " + text()); }

std::string CallSite::StringOption(const std::string& key) const {
  const OptionValue* option = FindOption(key);
  if (!option || !std::holds_alternative<std::string>(*option)) {
    FailOption("'" + function() + "' needs the string option \"" + key + "\"");
  }
  return std::get<std::string>(*option);
}

bool CallSite::BoolOption(const std::string& key, bool default_value) const {
  const OptionValue* option = FindOption(key);
  if (!option || std::holds_alternative<std::monostate>(*option)) return default_value;
  if (!std::holds_alternative<bool>(*option)) {
    FailOption("option \"" + key + "\" of '" + function() + "' must be true or false");
  }
  return std::get<bool>(*option);
}

int64_t CallSite::IntOption(const std::string& key) const {
  std::optional<int64_t> value = OptionalIntOption(key);
  if (!value) FailOption("'" + function() + "' needs the integer option \"" + key + "\"");
  return *value;
}

std::optional<int64_t> CallSite::OptionalIntOption(const std::string& key) const {
  const OptionValue* option = FindOption(key);
  if (!option || std::holds_alternative<std::monostate>(*option)) return std::nullopt;
  if (!std::holds_alternative<int64_t>(*option)) {
    FailOption("option \"" + key + "\" of '" + function() + "' must be an integer");
  }
  return std::get<int64_t>(*option);
}

void CallSite::FailTypes(const std::string& hint) const {
  std::string message = "cannot apply '" + display_name() + "' to ";
  for (size_t i = 0; i < args_.size(); ++i) {
    if (i > 0) message += i + 1 == args_.size() ? " and " : ", ";
    message += args_[i].text + " (" + TypeName(*args_[i].type) + ")";
  }
  if (!hint.empty()) message += ": " + hint;
  throw UserTypeError(message);
}

void FunctionRegistry::Add(const std::string& name, std::string doc, Resolver resolver) {
  MS_CHECK(!entries_.count(name), "expression function '" + name + "' registered twice");
  entries_[name] = Entry{std::move(doc), std::move(resolver)};
}

const Resolver* FunctionRegistry::Find(const std::string& name) const {
  auto found = entries_.find(name);
  return found == entries_.end() ? nullptr : &found->second.resolver;
}

const std::string* FunctionRegistry::Doc(const std::string& name) const {
  auto found = entries_.find(name);
  return found == entries_.end() ? nullptr : &found->second.doc;
}

std::vector<std::string> FunctionRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

const FunctionRegistry& FunctionRegistry::Default() {
  static const FunctionRegistry registry = [] {
    FunctionRegistry built;
    RegisterArithmeticFunctions(built);
    RegisterComparisonFunctions(built);
    RegisterLogicalFunctions(built);
    RegisterConditionalFunctions(built);
    RegisterCastFunction(built);
    RegisterStringFunctions(built);
    RegisterTemporalFunctions(built);
    return built;
  }();
  return registry;
}

}  // namespace millstream::expr

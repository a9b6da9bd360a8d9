#include "core/schema.h"

#include <cmath>
#include <regex>
#include <stdexcept>

#include "core/errors.h"
#include "core/json_util.h"

namespace gdr {

extern const std::string_view kSchemaText;

namespace {

const char* const kKnownTypes[] = {"string", "integer", "number", "boolean", "object", "array", "any"};

constexpr Json::UInt64 kMaxPatternedLength = 4096;

[[noreturn]] void malformed(const std::string& where, const std::string& what) {
  throw std::runtime_error("verb schema: " + where + ": " + what);
}

ParamSpec parseParam(const Json::Value& node, const std::string& where, bool requireDoc);

TypeSpec parseType(const Json::Value& node, const std::string& where, bool requireDocs = true) {
  if (!node.isObject()) malformed(where, "type must be an object");
  TypeSpec type;
  type.type = node.get("type", "").asString();
  bool known = false;
  for (const char* name : kKnownTypes) known = known || type.type == name;
  if (!known) malformed(where, "unknown type '" + type.type + "'");
  if (type.type == "array") {
    if (!node.isMember("items")) malformed(where, "array without items");
    type.items = std::make_shared<TypeSpec>(parseType(node["items"], where + "[]", requireDocs));
  }
  if (node.isMember("properties")) {
    if (type.type != "object") malformed(where, "properties on a non-object");
    for (const auto& prop : node["properties"]) {
      type.properties.push_back(parseParam(prop, where + "." + prop.get("name", "?").asString(), requireDocs));
    }
    type.openObject = node.get("additionalProperties", false).asBool();
  }
  if (node.isMember("values")) {
    if (type.type != "object") malformed(where, "values on a non-object");
    type.openObject = true;
    type.values = std::make_shared<TypeSpec>(parseType(node["values"], where + ".*", requireDocs));
  }
  type.nullable = node.get("nullable", false).asBool();
  if (node.isMember("enum")) {
    for (const auto& value : node["enum"]) type.enumValues.push_back(value);
  }
  if (node.isMember("minimum")) type.minimum = node["minimum"].asDouble();
  if (node.isMember("maximum")) type.maximum = node["maximum"].asDouble();
  if (node.isMember("minLength")) type.minLength = node["minLength"].asUInt64();
  if (node.isMember("maxLength")) type.maxLength = node["maxLength"].asUInt64();
  if (node.isMember("pattern")) {
    // std::regex recurses per character: an unbounded string would take the
    // stack. A patterned string must say how long it may be.
    if (!type.maxLength || *type.maxLength > kMaxPatternedLength) {
      malformed(where, "a pattern needs a maxLength of at most " + std::to_string(kMaxPatternedLength));
    }
    type.pattern = node["pattern"].asString();
    try {
      std::regex check(type.pattern);
    } catch (const std::regex_error& e) {
      malformed(where, "bad pattern: " + std::string(e.what()));
    }
  }
  return type;
}

ParamSpec parseParam(const Json::Value& node, const std::string& where, bool requireDoc) {
  ParamSpec param;
  param.name = node.get("name", "").asString();
  if (param.name.empty()) malformed(where, "parameter without a name");
  param.type = parseType(node, where, requireDoc);
  param.required = node.get("required", false).asBool();
  param.defaultValue = node.get("default", Json::Value());
  param.doc = node.get("doc", "").asString();
  if (param.doc.empty() && requireDoc) malformed(where, "parameter '" + param.name + "' has no doc");
  if (param.required && !param.defaultValue.isNull()) {
    malformed(where, "required parameter '" + param.name + "' has a default");
  }
  return param;
}

[[noreturn]] void invalid(const std::string& path, const std::string& expected, const Json::Value& got) {
  Json::Value data;
  data["param"] = path;
  data["expected"] = expected;
  data["got"] = json::typeName(got);
  throw AgentError(Code::InvalidParams,
                   "invalid parameter '" + path + "': expected " + expected + ", got " +
                       (got.isString() || got.isNumeric() || got.isBool() ? json::compact(got)
                                                                           : std::string(json::typeName(got))),
                   data);
}

bool isInteger(const Json::Value& value) {
  if (value.isInt64() || value.isUInt64()) return true;
  // 3.0 is an integer in JSON's eyes; 3.5 is not.
  return value.isDouble() && std::floor(value.asDouble()) == value.asDouble() && std::isfinite(value.asDouble());
}

Json::Value checkValue(const TypeSpec& type, const Json::Value& value, const std::string& path);

Json::Value checkObject(const std::vector<ParamSpec>& props, bool open, const Json::Value& value,
                        const std::string& prefix) {
  Json::Value out(Json::objectValue);
  for (const auto& name : value.getMemberNames()) {
    bool known = false;
    for (const auto& prop : props) known = known || prop.name == name;
    if (!known && !open) {
      Json::Value data;
      data["param"] = prefix + name;
      throw AgentError(Code::InvalidParams, "unknown parameter '" + prefix + name + "'", data);
    }
    if (!known) out[name] = value[name];
  }
  for (const auto& prop : props) {
    const std::string path = prefix + prop.name;
    if (!value.isMember(prop.name)) {
      if (prop.required) {
        Json::Value data;
        data["param"] = path;
        data["expected"] = describeType(prop.type);
        throw AgentError(Code::InvalidParams,
                         "missing required parameter '" + path + "' (" + describeType(prop.type) + ")", data);
      }
      if (!prop.defaultValue.isNull()) out[prop.name] = prop.defaultValue;
      continue;
    }
    out[prop.name] = checkValue(prop.type, value[prop.name], path);
  }
  return out;
}

Json::Value checkValue(const TypeSpec& type, const Json::Value& value, const std::string& path) {
  const std::string expected = describeType(type);
  const std::string& t = type.type;
  if (t == "any" || (type.nullable && value.isNull())) return value;
  if (t == "string" && !value.isString()) invalid(path, expected, value);
  if (t == "boolean" && !value.isBool()) invalid(path, expected, value);
  if (t == "integer" && !(value.isNumeric() && !value.isBool() && isInteger(value))) invalid(path, expected, value);
  if (t == "number" && !(value.isNumeric() && !value.isBool())) invalid(path, expected, value);
  if (t == "array" && !value.isArray()) invalid(path, expected, value);
  if (t == "object" && !value.isObject()) invalid(path, expected, value);

  if (!type.enumValues.empty()) {
    bool found = false;
    for (const auto& allowed : type.enumValues) found = found || allowed == value;
    if (!found) {
      std::string choices;
      for (const auto& allowed : type.enumValues) choices += (choices.empty() ? "" : ", ") + json::compact(allowed);
      invalid(path, "one of " + choices, value);
    }
  }
  if (value.isNumeric()) {
    if (type.minimum && value.asDouble() < *type.minimum) invalid(path, expected + " >= " + json::compact(*type.minimum), value);
    if (type.maximum && value.asDouble() > *type.maximum) invalid(path, expected + " <= " + json::compact(*type.maximum), value);
  }
  if (value.isString() || value.isArray()) {
    const Json::UInt64 length = value.isString() ? value.asString().size() : value.size();
    if (type.minLength && length < *type.minLength) {
      invalid(path, expected + " of length >= " + std::to_string(*type.minLength), value);
    }
    if (type.maxLength && length > *type.maxLength) {
      invalid(path, expected + " of length <= " + std::to_string(*type.maxLength), value);
    }
  }
  if (value.isString() && !type.pattern.empty()) {
    // Compiled per call: patterns guard rare, non-hot verbs.
    if (!std::regex_match(value.asString(), std::regex(type.pattern))) {
      invalid(path, expected + " matching " + type.pattern, value);
    }
  }
  if (t == "array") {
    Json::Value out(Json::arrayValue);
    for (Json::ArrayIndex i = 0; i < value.size(); ++i) {
      out.append(checkValue(*type.items, value[i], path + "[" + std::to_string(i) + "]"));
    }
    return out;
  }
  Json::Value out = value;
  if (t == "object" && (!type.properties.empty() || !type.openObject)) out = checkObject(type.properties, type.openObject, value, path + ".");
  if (t == "object" && type.values) {
    for (const auto& name : value.getMemberNames()) {
      bool known = false;
      for (const auto& prop : type.properties) known = known || prop.name == name;
      if (!known) out[name] = checkValue(*type.values, value[name], path + "." + name);
    }
  }
  return out;
}

}  // namespace

std::string describeType(const TypeSpec& type) {
  if (type.type == "array" && type.items) return "array of " + describeType(*type.items);
  return type.type;
}

Schema Schema::parse(std::string_view text) {
  std::string error;
  auto root = json::parse(text, &error);
  if (!root || !root->isObject()) throw std::runtime_error("verb schema is not a JSON object: " + error);
  Schema schema;
  schema.version_ = root->get("version", "").asString();
  for (const auto& ns : (*root)["namespaces"].getMemberNames()) {
    schema.namespaces_[ns] = (*root)["namespaces"][ns].get("doc", "").asString();
  }
  for (const auto& node : (*root)["verbs"]) {
    VerbSpec verb;
    verb.ns = node.get("namespace", "").asString();
    verb.name = node.get("name", "").asString();
    const std::string where = verb.ns + "." + verb.name;
    if (verb.ns.empty() || verb.name.empty()) malformed(where, "verb without namespace or name");
    if (!schema.namespaces_.count(verb.ns)) malformed(where, "undeclared namespace");
    verb.doc = node.get("doc", "").asString();
    if (verb.doc.empty()) malformed(where, "verb has no doc");
    const std::string execution = node.get("execution", "worker").asString();
    if (execution != "worker" && execution != "inline") malformed(where, "execution must be worker or inline");
    verb.runsInline = execution == "inline";
    for (const auto& param : node["params"]) verb.params.push_back(parseParam(param, where, true));
    verb.returns = node.get("returns", Json::Value());
    if (!verb.returns.isObject()) malformed(where, "verb has no returns");
    verb.result = parseType(verb.returns, where + " returns", false);
    if (schema.index_.count(where)) malformed(where, "verb declared twice");
    schema.index_[where] = schema.verbs_.size();
    schema.verbs_.push_back(std::move(verb));
  }
  return schema;
}

const VerbSpec* Schema::find(const std::string& method) const {
  auto it = index_.find(method);
  return it == index_.end() ? nullptr : &verbs_[it->second];
}

Json::Value Schema::validate(const VerbSpec& verb, const Json::Value& params) const {
  Json::Value named(Json::objectValue);
  if (params.isArray()) {
    if (params.size() > verb.params.size()) {
      throw AgentError(Code::InvalidParams, verb.fullName() + " takes at most " +
                                                std::to_string(verb.params.size()) + " positional parameters, got " +
                                                std::to_string(params.size()));
    }
    for (Json::ArrayIndex i = 0; i < params.size(); ++i) named[verb.params[i].name] = params[i];
  } else if (params.isObject()) {
    named = params;
  } else if (!params.isNull()) {
    throw AgentError(Code::InvalidParams, "params must be an object or an array");
  }
  return checkObject(verb.params, false, named, "");
}

void Schema::validateResult(const VerbSpec& verb, const Json::Value& result) const {
  try {
    checkValue(verb.result, result, "result");
  } catch (const AgentError& e) {
    // Same checks as for parameters; the wording says whose fault it is.
    std::string message = e.what();
    const std::string from = "parameter '";
    if (message.rfind("invalid " + from, 0) == 0) message = "member '" + message.substr(("invalid " + from).size());
    if (message.rfind("missing required " + from, 0) == 0) message = "missing member '" + message.substr(("missing required " + from).size());
    if (message.rfind("unknown " + from, 0) == 0) message = "unknown member '" + message.substr(("unknown " + from).size());
    throw std::logic_error(verb.fullName() + " returned a result its schema does not describe: " + message);
  }
}

std::string_view builtinSchemaText() { return kSchemaText; }

const Schema& builtinSchema() {
  static const Schema schema = Schema::parse(kSchemaText);
  return schema;
}

}  // namespace gdr

#pragma once
// The verb schema (verbs/schema.json): every verb, its parameters and its
// return shape. The dispatcher validates each call against it before any
// handler runs; gdr-client builds its help from it; docs/API.md is
// generated from it.
#include <json/value.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gdr {

struct ParamSpec;

// The shape of one value: a JSON type plus optional constraints.
struct TypeSpec {
  std::string type;  // string integer number boolean object array any
  std::shared_ptr<TypeSpec> items;            // arrays: the element type
  std::vector<ParamSpec> properties;          // objects: known members
  bool openObject = true;                     // objects: members beyond `properties` allowed
  std::vector<Json::Value> enumValues;
  std::optional<double> minimum, maximum;     // numbers
  std::optional<Json::UInt64> minLength, maxLength;  // strings and arrays
  std::string pattern;  // strings: an ECMAScript regex the whole value must match
  bool nullable = false;                      // null is accepted too
  std::shared_ptr<TypeSpec> values;           // open objects: the type of members beyond `properties`
};

struct ParamSpec {
  std::string name;
  TypeSpec type;
  bool required = false;
  Json::Value defaultValue;  // null when there is none
  std::string doc;
};

struct VerbSpec {
  std::string ns;
  std::string name;
  std::string doc;
  // Cheap verbs that never block run on the listener thread; all others
  // run on the bounded worker pool.
  bool runsInline = false;
  std::vector<ParamSpec> params;
  Json::Value returns;  // as written in the schema
  TypeSpec result;      // the result's shape, parsed from `returns`

  std::string fullName() const { return ns + "." + name; }
};

class Schema {
 public:
  // Throws std::runtime_error naming the offending entry when the schema
  // itself is malformed.
  static Schema parse(std::string_view text);

  const VerbSpec* find(const std::string& method) const;
  const std::vector<VerbSpec>& verbs() const { return verbs_; }
  const std::map<std::string, std::string>& namespaces() const { return namespaces_; }
  const std::string& version() const { return version_; }

  // Checks `params` (an object, an array of positional values, or null)
  // against the verb and returns the normalized object with defaults
  // filled in. Throws AgentError(InvalidParams) naming the parameter and
  // what was expected; unknown parameters are rejected.
  Json::Value validate(const VerbSpec& verb, const Json::Value& params) const;

  // Checks a handler's result against the verb's `returns`: every required
  // member present, no member the schema does not name, every value of its
  // type. Throws std::logic_error naming the member (a defect of the agent,
  // not of the caller).
  void validateResult(const VerbSpec& verb, const Json::Value& result) const;

 private:
  std::string version_;
  std::map<std::string, std::string> namespaces_;
  std::vector<VerbSpec> verbs_;
  std::map<std::string, size_t> index_;
};

// The schema compiled into this program from verbs/schema.json.
const Schema& builtinSchema();
std::string_view builtinSchemaText();

// Human-readable type, e.g. "array of string".
std::string describeType(const TypeSpec& type);

}  // namespace gdr

#pragma once
// Strict JSON parsing and compact/pretty writing, tuned for the hot path
// (reader and writer objects are built once per thread).
#include <json/value.h>

#include <optional>
#include <string>
#include <string_view>

namespace gdr::json {

// Parses exactly one JSON value; trailing garbage, comments and duplicate
// keys are errors. Returns nullopt and fills `error` on failure.
std::optional<Json::Value> parse(std::string_view text, std::string* error = nullptr);

// Parses or throws AgentError(InvalidParameter) naming `what`.
Json::Value parseOrThrow(std::string_view text, const std::string& what);

std::string compact(const Json::Value& value);
// Indented, keys sorted (jsoncpp keeps object members ordered).
std::string pretty(const Json::Value& value);

// JSON type name as used by the schema: "string", "integer", ...
const char* typeName(const Json::Value& value);

}  // namespace gdr::json

#pragma once
// Strict JSON parsing and compact/pretty writing, tuned for the hot path
// (reader and writer objects are built once per thread).
#include <json/value.h>

#include <optional>
#include <string>
#include <string_view>

namespace gdr::json {

// The deepest nesting parse() accepts; deeper text is refused as not JSON.
inline constexpr int kMaxDepth = 64;

// Parses exactly one JSON value; trailing garbage, comments and duplicate
// keys are errors. Returns nullopt and fills `error` on failure.
// `text` made safe for one log line: control characters, backslashes,
// quotes and bytes outside printable ASCII become \xNN (a caller cannot
// start a forged line or move the terminal's cursor), and more than `max`
// bytes are cut, with "..." after.
std::string printable(std::string_view text, size_t max = 200);

std::optional<Json::Value> parse(std::string_view text, std::string* error = nullptr);

// Parses or throws AgentError(InvalidParameter) naming `what`.
Json::Value parseOrThrow(std::string_view text, const std::string& what);

std::string compact(const Json::Value& value);
// Indented, keys sorted (jsoncpp keeps object members ordered).
std::string pretty(const Json::Value& value);

// JSON type name as used by the schema: "string", "integer", ...
const char* typeName(const Json::Value& value);

}  // namespace gdr::json

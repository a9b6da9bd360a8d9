#include "core/json_util.h"

#include <json/reader.h>
#include <json/writer.h>

#include <algorithm>
#include <memory>
#include <sstream>

#include "core/errors.h"

namespace gdr::json {

namespace {

Json::CharReader& reader() {
  thread_local std::unique_ptr<Json::CharReader> instance = [] {
    Json::CharReaderBuilder builder;
    Json::CharReaderBuilder::strictMode(&builder.settings_);
    builder["strictRoot"] = false;  // any value may be a document
    builder["allowSpecialFloats"] = false;
    // jsoncpp recurses once per level and throws past its limit: bound it
    // far below what the stack takes (no request needs more than a few).
    builder["stackLimit"] = kMaxDepth;
    return std::unique_ptr<Json::CharReader>(builder.newCharReader());
  }();
  return *instance;
}

std::unique_ptr<Json::StreamWriter> makeWriter(const char* indent) {
  Json::StreamWriterBuilder builder;
  builder["indentation"] = indent;
  builder["emitUTF8"] = true;
  return std::unique_ptr<Json::StreamWriter>(builder.newStreamWriter());
}

}  // namespace

std::string printable(std::string_view text, size_t max) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max) + 8);
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"') {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

std::optional<Json::Value> parse(std::string_view text, std::string* error) {
  Json::Value value;
  std::string errs;
  try {
    if (!reader().parse(text.data(), text.data() + text.size(), &value, &errs)) {
      if (error) *error = errs;
      return std::nullopt;
    }
  } catch (const Json::Exception& e) {  // nested deeper than kMaxDepth
    if (error) *error = "nested deeper than " + std::to_string(kMaxDepth) + " levels";
    return std::nullopt;
  }
  return value;
}

Json::Value parseOrThrow(std::string_view text, const std::string& what) {
  std::string error;
  auto value = parse(text, &error);
  if (!value) throw AgentError(Code::InvalidParameter, what + " is not valid JSON: " + error);
  return *value;
}

std::string compact(const Json::Value& value) {
  thread_local auto writer = makeWriter("");
  std::ostringstream out;
  writer->write(value, &out);
  return out.str();
}

namespace {

// Indents like Python's json.dumps(indent=4): what operators read from
// gdr-client. Scalars and empty containers reuse the compact writer.
void writePretty(const Json::Value& value, int depth, std::string& out) {
  const std::string pad(4 * (depth + 1), ' ');
  if (value.isObject() && !value.empty()) {
    out += "{\n";
    const auto names = value.getMemberNames();  // sorted
    for (size_t i = 0; i < names.size(); ++i) {
      out += pad + compact(Json::Value(names[i])) + ": ";
      writePretty(value[names[i]], depth + 1, out);
      out += i + 1 < names.size() ? ",\n" : "\n";
    }
    out += std::string(4 * depth, ' ') + "}";
  } else if (value.isArray() && !value.empty()) {
    out += "[\n";
    for (Json::ArrayIndex i = 0; i < value.size(); ++i) {
      out += pad;
      writePretty(value[i], depth + 1, out);
      out += i + 1 < value.size() ? ",\n" : "\n";
    }
    out += std::string(4 * depth, ' ') + "]";
  } else {
    out += compact(value);
  }
}

}  // namespace

std::string pretty(const Json::Value& value) {
  std::string out;
  writePretty(value, 0, out);
  return out;
}

const char* typeName(const Json::Value& value) {
  switch (value.type()) {
    case Json::nullValue: return "null";
    case Json::intValue:
    case Json::uintValue: return "integer";
    case Json::realValue: return "number";
    case Json::stringValue: return "string";
    case Json::booleanValue: return "boolean";
    case Json::arrayValue: return "array";
    case Json::objectValue: return "object";
  }
  return "unknown";
}

}  // namespace gdr::json

#include "gluster/events.h"

#include <json/json.h>

#include <memory>

namespace gdr::gluster {

namespace {

// Event values arrive as strings ("key=value" pairs inside gluster) or, in
// some versions, as numbers.
std::string text(const Json::Value& message, const char* current, const char* legacy) {
  for (const char* key : {current, legacy}) {
    const Json::Value& v = message[key];
    if (v.isString()) return v.asString();
    if (v.isIntegral()) return std::to_string(v.asInt64());
  }
  return "";
}

std::optional<std::int64_t> number(const Json::Value& message, const char* key) {
  const Json::Value& v = message[key];
  if (v.isIntegral()) return v.asInt64();
  if (!v.isString()) return std::nullopt;
  const std::string s = v.asString();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18) return std::nullopt;
  return std::stoll(s);
}

}  // namespace

std::optional<GlusterEvent> parseGlusterEvent(const std::string& body) {
  Json::CharReaderBuilder builder;
  builder["collectComments"] = false;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  if (!reader->parse(body.data(), body.data() + body.size(), &root, &errors) || !root.isObject() ||
      !root["event"].isString()) {
    return std::nullopt;
  }
  GlusterEvent e;
  e.name = root["event"].asString();
  e.nodeId = root.get("nodeid", "").isString() ? root.get("nodeid", "").asString() : "";
  e.ts = root["ts"].isIntegral() ? root["ts"].asInt64() : 0;
  const Json::Value& m = root["message"];
  if (m.isObject()) {
    e.primaryVolume = text(m, "primary_volume", "master_volume");
    e.secondaryHost = text(m, "secondary_host", "slave_host");
    e.secondaryVolume = text(m, "secondary_volume", "slave_volume");
    e.brick = text(m, "brick_path", "brick_path");
    // Session-level events (GEOREP_START, _STOP, _CONFIG_SET) name the
    // session as primary = VOLUME, secondary = [USER@]HOST::VOLUME.
    if (e.primaryVolume.empty()) e.primaryVolume = text(m, "primary", "master");
    const std::string secondary = text(m, "secondary", "slave");
    const auto sep = secondary.find("::");
    if (e.secondaryVolume.empty() && sep != std::string::npos) {
      e.secondaryHost = secondary.substr(0, sep);
      e.secondaryVolume = secondary.substr(sep + 2);
    }
    const auto at = e.secondaryHost.rfind('@');
    if (at != std::string::npos) e.secondaryHost = e.secondaryHost.substr(at + 1);
    e.checkpointTime = number(m, "checkpoint_time");
    e.checkpointCompletionTime = number(m, "checkpoint_completion_time");
  }
  return e;
}

}  // namespace gdr::gluster

#include "gluster/events.h"

#include <json/json.h>

#include "core/json_util.h"

namespace gdr::gluster {

namespace {

// Event values arrive as strings ("key=value" pairs inside gluster) or, in
// some versions, as numbers.
std::string text(const Json::Value& message, const char* current, const char* legacy) {
  for (const char* key : {current, legacy}) {
    const Json::Value& v = message[key];
    if (v.isString()) return v.asString();
    if (v.isInt64()) return std::to_string(v.asInt64());
  }
  return "";
}

std::optional<std::int64_t> number(const Json::Value& message, const char* key) {
  const Json::Value& v = message[key];
  if (v.isInt64()) return v.asInt64();
  if (!v.isString()) return std::nullopt;
  const std::string s = v.asString();
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18) return std::nullopt;
  return std::stoll(s);
}

}  // namespace

std::optional<GlusterEvent> parseGlusterEvent(const std::string& body) {
  // The bounded, strict parser: a body nested past its depth limit is
  // refused (jsoncpp's own reader threw past the listener), and so is
  // anything after the one JSON value.
  const std::optional<Json::Value> parsed = json::parse(body);
  if (!parsed || !parsed->isObject()) return std::nullopt;
  const Json::Value& root = *parsed;
  if (!root["event"].isString() || root["event"].asString().empty()) return std::nullopt;
  GlusterEvent e;
  e.name = root["event"].asString();
  e.nodeId = root.get("nodeid", "").isString() ? root.get("nodeid", "").asString() : "";
  e.ts = root["ts"].isInt64() ? root["ts"].asInt64() : 0;
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

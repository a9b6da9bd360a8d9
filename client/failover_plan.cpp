#include "client/failover_plan.h"

#include <json/value.h>

#include <stdexcept>

#include "core/json_util.h"

namespace gdr::sync {

std::optional<std::string> primaryRefusal(const std::vector<PrimaryProbe>& probes, bool force) {
  std::string answering;
  for (const auto& p : probes) {
    if (p.answered) answering += (answering.empty() ? "" : ", ") + p.agent;
  }
  if (answering.empty() || force) return std::nullopt;
  return "the primary site still answers (" + answering +
         "): a failover now would run its VMs at both sites. Stop the primary's VMs and agents, or declare the "
         "site gone with --force";
}

namespace {

std::map<std::string, std::string> stringMap(const Json::Value& v, const std::string& key) {
  std::map<std::string, std::string> out;
  if (v.isNull()) return out;
  if (!v.isObject()) throw std::invalid_argument("mapping: '" + key + "' is not an object");
  for (const auto& name : v.getMemberNames()) {
    if (name.empty() || !v[name].isString() || v[name].asString().empty()) {
      throw std::invalid_argument("mapping: " + key + "['" + name + "'] is not a non-empty name");
    }
    out[name] = v[name].asString();
  }
  return out;
}

}  // namespace

api::FailoverMapping parseMapping(const std::string& text) {
  const auto parsed = json::parse(text);
  if (!parsed || !parsed->isObject()) throw std::invalid_argument("mapping: not a JSON object");
  const Json::Value& root = *parsed;
  for (const auto& key : root.getMemberNames()) {
    if (key != "networks" && key != "bridges" && key != "paths" && key != "priority") {
      throw std::invalid_argument("mapping: unknown key '" + key + "' (networks, bridges, paths, priority)");
    }
  }
  api::FailoverMapping m;
  m.networks = stringMap(root["networks"], "networks");
  m.bridges = stringMap(root["bridges"], "bridges");
  m.paths = stringMap(root["paths"], "paths");
  for (const auto& [from, to] : m.paths) {
    if (from.front() != '/' || to.front() != '/' || (from.back() == '/') != (to.back() == '/')) {
      throw std::invalid_argument("mapping: paths['" + from + "'] -> '" + to +
                                  "': both absolute, both ending in / or neither");
    }
  }
  const Json::Value& priority = root["priority"];
  if (!priority.isNull()) {
    if (!priority.isObject()) throw std::invalid_argument("mapping: 'priority' is not an object");
    for (const auto& vm : priority.getMemberNames()) {
      if (!priority[vm].isInt() || priority[vm].asInt64() < -1000000 || priority[vm].asInt64() > 1000000) {
        throw std::invalid_argument("mapping: priority['" + vm + "'] is not an integer in -1000000..1000000");
      }
      m.priority[vm] = priority[vm].asInt64();
    }
  }
  return m;
}

}  // namespace gdr::sync

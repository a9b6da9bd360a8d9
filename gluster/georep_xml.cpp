#include "gluster/georep_xml.h"

#include <tinyxml2.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "core/errors.h"

namespace gdr::gluster {

namespace {

using tinyxml2::XMLElement;

struct Document {
  tinyxml2::XMLDocument doc;
  const XMLElement* root = nullptr;
};

void load(std::string_view xml, Document& d) {
  if (d.doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
    Json::Value data;
    data["output"] = std::string(xml.substr(0, 2000));
    throw AgentError(Code::GlusterCliBadOutput, std::string("gluster CLI output is not XML: ") + d.doc.ErrorStr(),
                     data);
  }
  d.root = d.doc.FirstChildElement("cliOutput");
  if (!d.root) throw AgentError(Code::GlusterCliBadOutput, "gluster CLI output has no <cliOutput>");
}

std::string text(const XMLElement* parent, const char* name) {
  const XMLElement* e = parent ? parent->FirstChildElement(name) : nullptr;
  return e && e->GetText() ? e->GetText() : "";
}

// The first of the new and the old tag that is present.
std::string text2(const XMLElement* parent, const char* current, const char* legacy) {
  if (parent && parent->FirstChildElement(current)) return text(parent, current);
  return text(parent, legacy);
}

std::optional<std::int64_t> count(const std::string& s) {
  if (s.empty() || s == "N/A") return std::nullopt;
  try {
    size_t used = 0;
    const long long v = std::stoll(s, &used);
    if (used != s.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<std::int64_t> parseGlusterTime(const std::string& s) {
  if (s.empty() || s == "N/A") return std::nullopt;
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::string normalizeStatus(const std::string& status) {
  std::string s = status;
  while (!s.empty() && (s.back() == '.' || s.back() == ' ')) s.pop_back();
  return s;
}

CliStatus parseCliStatus(std::string_view xml) {
  Document d;
  load(xml, d);
  CliStatus status;
  status.opRet = std::atoi(text(d.root, "opRet").c_str());
  status.opErrno = std::atoi(text(d.root, "opErrno").c_str());
  status.opErrstr = text(d.root, "opErrstr");
  return status;
}

std::vector<GeoRepSession> filterSessions(std::vector<GeoRepSession> sessions, const SessionFilter& filter) {
  const auto differs = [](const std::optional<std::string>& wanted, const std::string& value) {
    return wanted && *wanted != value;
  };
  sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                [&](const GeoRepSession& s) {
                                  return differs(filter.primaryVolume, s.primaryVolume) ||
                                         differs(filter.secondaryHost, s.secondaryHost) ||
                                         differs(filter.secondaryVolume, s.secondaryVolume) ||
                                         differs(filter.secondaryUser, s.secondaryUser);
                                }),
                 sessions.end());
  return sessions;
}

std::vector<GeoRepSession> parseGeoRepStatus(std::string_view xml) {
  Document d;
  load(xml, d);
  std::vector<GeoRepSession> sessions;
  const XMLElement* geoRep = d.root->FirstChildElement("geoRep");
  if (!geoRep) return sessions;
  for (const XMLElement* volume = geoRep->FirstChildElement("volume"); volume;
       volume = volume->NextSiblingElement("volume")) {
    const XMLElement* list = volume->FirstChildElement("sessions");
    for (const XMLElement* s = list ? list->FirstChildElement("session") : nullptr; s;
         s = s->NextSiblingElement("session")) {
      GeoRepSession session;
      session.primaryVolume = text(volume, "name");
      session.sessionKey = text2(s, "session_secondary", "session_slave");
      for (const XMLElement* p = s->FirstChildElement("pair"); p; p = p->NextSiblingElement("pair")) {
        GeoRepWorker w;
        w.primaryNode = text2(p, "primary_node", "master_node");
        w.primaryNodeUuid = text2(p, "primary_node_uuid", "master_node_uuid");
        w.primaryBrick = text2(p, "primary_brick", "master_brick");
        w.secondaryUser = text2(p, "secondary_user", "slave_user");
        w.secondary = text2(p, "secondary", "slave");
        w.secondaryNode = text2(p, "secondary_node", "slave_node");
        w.status = text(p, "status");
        w.crawlStatus = text(p, "crawl_status");
        w.entry = count(text(p, "entry"));
        w.data = count(text(p, "data"));
        w.meta = count(text(p, "meta"));
        w.failures = count(text(p, "failures"));
        w.checkpointCompleted = text(p, "checkpoint_completed");
        w.lastSynced = parseGlusterTime(text(p, "last_synced"));
        w.checkpointTime = parseGlusterTime(text(p, "checkpoint_time"));
        w.checkpointCompletionTime = parseGlusterTime(text(p, "checkpoint_completion_time"));
        session.workers.push_back(std::move(w));
      }
      // "ssh://host::volume" in the workers, "uuid:ssh://host::volume:uuid" in the key.
      std::string target = session.workers.empty() ? session.sessionKey : session.workers.front().secondary;
      const auto scheme = target.find("://");
      if (scheme != std::string::npos) target = target.substr(scheme + 3);
      const auto sep = target.find("::");
      if (sep != std::string::npos) {
        session.secondaryHost = target.substr(0, sep);
        session.secondaryVolume = target.substr(sep + 2);
        const auto colon = session.secondaryVolume.find(':');
        if (colon != std::string::npos) session.secondaryVolume.resize(colon);
        const auto at = session.secondaryHost.find('@');
        if (at != std::string::npos) session.secondaryHost = session.secondaryHost.substr(at + 1);
      }
      session.secondaryUser = session.workers.empty() ? "root" : session.workers.front().secondaryUser;
      sessions.push_back(std::move(session));
    }
  }
  return sessions;
}

std::map<std::string, std::string> parseGeoRepConfig(std::string_view xml) {
  Document d;
  load(xml, d);
  std::map<std::string, std::string> out;
  const XMLElement* geoRep = d.root->FirstChildElement("geoRep");
  const XMLElement* config = geoRep ? geoRep->FirstChildElement("config") : nullptr;
  for (const XMLElement* e = config ? config->FirstChildElement() : nullptr; e; e = e->NextSiblingElement()) {
    out[e->Name()] = e->GetText() ? e->GetText() : "";
  }
  return out;
}

std::map<std::string, std::string> parseVolumeOptions(std::string_view xml) {
  Document d;
  load(xml, d);
  std::map<std::string, std::string> out;
  const XMLElement* info = d.root->FirstChildElement("volInfo");
  const XMLElement* volumes = info ? info->FirstChildElement("volumes") : nullptr;
  const XMLElement* volume = volumes ? volumes->FirstChildElement("volume") : nullptr;
  const XMLElement* options = volume ? volume->FirstChildElement("options") : nullptr;
  for (const XMLElement* o = options ? options->FirstChildElement("option") : nullptr; o;
       o = o->NextSiblingElement("option")) {
    const std::string name = text(o, "name");
    if (!name.empty()) out[name] = text(o, "value");
  }
  return out;
}

std::vector<std::string> parseBrickHosts(std::string_view xml) {
  Document d;
  load(xml, d);
  std::vector<std::string> out;
  const XMLElement* info = d.root->FirstChildElement("volInfo");
  const XMLElement* volumes = info ? info->FirstChildElement("volumes") : nullptr;
  for (const XMLElement* v = volumes ? volumes->FirstChildElement("volume") : nullptr; v;
       v = v->NextSiblingElement("volume")) {
    const XMLElement* bricks = v->FirstChildElement("bricks");
    for (const XMLElement* b = bricks ? bricks->FirstChildElement("brick") : nullptr; b;
         b = b->NextSiblingElement("brick")) {
      const std::string name = text(b, "name");
      const auto sep = name.find(":/");
      if (sep == std::string::npos || sep == 0) continue;
      const std::string host = name.substr(0, sep);
      if (std::find(out.begin(), out.end(), host) == out.end()) out.push_back(host);
    }
  }
  return out;
}

namespace {
// Gluster's spellings of a true boolean option.
bool enabled(const std::map<std::string, std::string>& options, const std::string& name) {
  const auto it = options.find(name);
  if (it == options.end()) return false;
  static const std::set<std::string> yes{"on", "yes", "true", "enable", "1"};
  return yes.count(it->second) > 0;
}
}  // namespace

std::vector<std::string> geoRepOptionWarnings(const std::map<std::string, std::string>& primaryOptions) {
  std::vector<std::string> out;
  if (enabled(primaryOptions, "features.shard") && !enabled(primaryOptions, "performance.strict-write-ordering")) {
    out.push_back(
        "performance.strict-write-ordering is off on this sharded volume: a shard created by concurrent writes can "
        "reach the secondary empty, under another gfid (gdr-sync finds and repairs it, at the cost of another sync); "
        "gluster requires the option on for geo-replicating sharded volumes");
  }
  return out;
}

}  // namespace gdr::gluster

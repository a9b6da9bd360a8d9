#include "virt/gluster_mounts.h"

#include <cctype>
#include <fstream>
#include <sstream>

namespace gdr::virt {

namespace {

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::vector<GlusterMount> parseGlusterMounts(const std::string& procMounts) {
  std::vector<GlusterMount> out;
  std::istringstream in(procMounts);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string source, target, type, options;
    if (!(fields >> source >> target >> type) || type != "fuse.glusterfs") continue;
    fields >> options;
    const auto colon = source.find(":/");
    if (colon == std::string::npos) continue;
    GlusterMount m;
    m.server = source.substr(0, colon);
    m.volume = source.substr(colon + 2);
    m.mountPoint = unescape(target);
    m.readOnly = ("," + options + ",").find(",ro,") != std::string::npos;
    out.push_back(m);
  }
  return out;
}

std::optional<VolumeLocation> locateOnVolume(const std::vector<GlusterMount>& mounts, const std::string& path) {
  const GlusterMount* best = nullptr;
  for (const auto& m : mounts) {
    const std::string prefix = m.mountPoint == "/" ? "/" : m.mountPoint + "/";
    if (path.rfind(prefix, 0) == 0 && (!best || m.mountPoint.size() > best->mountPoint.size())) best = &m;
  }
  if (!best) return std::nullopt;
  VolumeLocation loc;
  loc.server = best->server;
  loc.volume = best->volume;
  loc.mountPoint = best->mountPoint;
  loc.path = path.substr(best->mountPoint == "/" ? 1 : best->mountPoint.size() + 1);
  return loc;
}

std::vector<GlusterMount> readGlusterMounts(const std::string& procMounts) {
  std::ifstream in(procMounts);
  std::stringstream text;
  text << in.rdbuf();
  return parseGlusterMounts(text.str());
}

}  // namespace gdr::virt

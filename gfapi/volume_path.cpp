#include "gfapi/volume_path.h"

#include <algorithm>
#include <optional>

#include "core/errors.h"

namespace gdr::volpath {

namespace {

[[noreturn]] void reject(const std::string& path, const std::string& why) {
  Json::Value data;
  data["path"] = path;
  throw AgentError(Code::PathRejected, "path '" + path + "' rejected: " + why, data);
}

// Lexically resolves `name` (which may hold ".." and ".") against `base`;
// nullopt when it climbs above the root.
std::optional<Components> resolve(Components base, const std::string& name) {
  size_t start = 0;
  while (start <= name.size()) {
    const size_t slash = name.find('/', start);
    const std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") {
      if (base.empty()) return std::nullopt;
      base.pop_back();
    } else if (!part.empty() && part != ".") {
      base.push_back(part);
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return base;
}

}  // namespace

Components split(const std::string& path) {
  if (path.empty()) reject(path, "empty");
  if (path.find('\0') != std::string::npos) reject(path, "contains NUL");
  if (path.front() == '/') reject(path, "absolute; give it relative to the volume root");
  Components out;
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty()) reject(path, "empty component");
    if (part == "." || part == "..") reject(path, "'" + part + "' component");
    if (part.size() > 255) reject(path, "component longer than 255 bytes");
    out.push_back(part);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string join(const Components& components) {
  std::string out;
  for (const auto& c : components) out += (out.empty() ? "" : "/") + c;
  return out;
}

bool insideAllowedPrefix(const Components& path, const std::vector<std::string>& prefixes) {
  if (prefixes.empty()) return path.size() >= 2 && path[path.size() - 2] == kSnapshotDirName;
  for (const auto& prefix : prefixes) {
    const Components dir = split(prefix);
    if (path.size() > dir.size() && std::equal(dir.begin(), dir.end(), path.begin())) return true;
  }
  return false;
}

bool backingDesignates(const std::string& backing, const Components& overlayDir, const Components& expected) {
  if (backing.empty() || expected.empty()) return false;
  if (backing.front() != '/') {
    auto resolved = resolve(overlayDir, backing);
    return resolved && *resolved == expected;
  }
  auto absolute = resolve({}, backing);
  if (!absolute || absolute->size() < expected.size()) return false;
  return std::equal(expected.rbegin(), expected.rend(), absolute->rbegin());
}

bool isDeltaBeside(const std::string& delta, const std::string& base) {
  try {
    Components d = split(delta), b = split(base);
    const std::string name = d.back();
    if (name.size() <= 6 || name.compare(name.size() - 6, 6, ".qcow2") != 0) return false;
    d.pop_back();
    b.pop_back();
    b.push_back(kSnapshotDirName);
    return d == b;
  } catch (const AgentError&) {
    return false;  // not a volume path at all
  }
}

}  // namespace gdr::volpath

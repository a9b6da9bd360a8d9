#include "gluster/georep_fence.h"

#include <signal.h>
#include <sys/mount.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

namespace gdr::gluster {

namespace {

std::string baseName(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "HOST::VOLUME" or "USER@HOST::VOLUME" naming `volume`.
bool namesVolume(const std::string& spec, const std::string& volume) {
  const auto sep = spec.find("::");
  return sep != std::string::npos && spec.substr(sep + 2) == volume;
}

// gsyncd run as a script (python3 .../gsyncd.py secondary ...) or through
// its wrapper (.../gsyncd secondary ...): the arguments after it.
bool isGsyncdReceiver(const std::vector<std::string>& argv, const std::string& volume) {
  for (size_t i = 0; i < std::min<size_t>(argv.size(), 2); ++i) {
    const std::string name = baseName(argv[i]);
    if (name != "gsyncd.py" && name != "gsyncd") continue;
    return i + 3 < argv.size() && argv[i + 1] == "secondary" && namesVolume(argv[i + 3], volume);
  }
  return false;
}

// glusterfs --aux-gfid-mount --client-pid=-1 --volfile-id=VOLUME ... MOUNTPOINT
// (the receiver works in it after detaching it: MOUNTPOINT is then no
// longer mounted, and the receiver's cwd reads as "/").
bool isAuxMountClient(const std::vector<std::string>& argv, const std::string& volume) {
  if (argv.size() < 2 || (baseName(argv[0]) != "glusterfs" && baseName(argv[0]) != "glusterfsd")) return false;
  const auto has = [&](const std::string& a) { return std::find(argv.begin(), argv.end(), a) != argv.end(); };
  // A receiver's, not a primary worker's (gsyncd logs its mounts apart).
  const bool receiverLog = std::any_of(argv.begin(), argv.end(), [](const std::string& a) {
    return a.rfind("--log-file=", 0) == 0 && a.find("/geo-replication-secondaries/") != std::string::npos;
  });
  return has("--aux-gfid-mount") && has("--client-pid=-1") && receiverLog &&
         (has("--volfile-id=" + volume) || has("--volfile-id=/" + volume));
}

bool isRsyncServer(const std::vector<std::string>& argv) {
  return argv.size() >= 2 && baseName(argv[0]) == "rsync" && argv[1] == "--server";
}

std::string readAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool under(const std::string& path, const std::string& root) {
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

// An rsync server writing into an auxiliary mount: working in it, or
// aimed at a receiver's working directory (/proc/PID/cwd).
bool writesInto(const ProcessInfo& p, const std::vector<std::string>& mountPoints, const std::set<pid_t>& receivers) {
  if (!p.cwd.empty() && std::any_of(mountPoints.begin(), mountPoints.end(),
                                    [&](const std::string& m) { return under(p.cwd, m); })) {
    return true;
  }
  const std::string& target = p.argv.back();
  for (pid_t r : receivers) {
    if (target == "/proc/" + std::to_string(r) + "/cwd") return true;
  }
  return false;
}

}  // namespace

ReceiverSet geoRepReceivers(const std::vector<ProcessInfo>& processes, const std::string& secondaryVolume) {
  ReceiverSet set;
  std::map<pid_t, const ProcessInfo*> byPid;
  for (const auto& p : processes) byPid[p.pid] = &p;
  // A process's ancestors, nearest first (/proc is read process by
  // process: a loop is not impossible, hence the bound).
  const auto ancestors = [&](const ProcessInfo& p) {
    std::vector<const ProcessInfo*> up;
    for (auto it = byPid.find(p.ppid); it != byPid.end() && up.size() < 64; it = byPid.find(it->second->ppid)) {
      up.push_back(it->second);
    }
    return up;
  };
  std::set<pid_t> chosen;
  const auto choose = [&](const ProcessInfo& p, const std::string& what) {
    if (chosen.insert(p.pid).second) {
      set.receivers.push_back(p.pid);
      set.described.push_back(std::to_string(p.pid) + " " + what);
    }
  };
  std::vector<const ProcessInfo*> receivers;
  std::set<pid_t> connections;  // the sshd each receiver came in by (not sshd's listener)
  for (const auto& p : processes) {
    if (!isGsyncdReceiver(p.argv, secondaryVolume)) continue;
    receivers.push_back(&p);
    for (const ProcessInfo* up : ancestors(p)) {
      if (up->argv.empty() || up->argv[0].rfind("sshd:", 0) != 0) continue;
      if (up->argv[0].find("[listener]") == std::string::npos && up->ppid != 1) connections.insert(up->pid);
      break;
    }
  }
  for (pid_t c : connections) choose(*byPid[c], "ssh connection of a geo-replication session into " + secondaryVolume);
  for (const ProcessInfo* r : receivers) choose(*r, "gsyncd receiver into " + secondaryVolume);
  for (const auto& p : processes) {
    if (!isAuxMountClient(p.argv, secondaryVolume)) continue;
    set.mountClients.push_back(p.pid);
    // Detached later: only gsyncd's own mount points, never a path that
    // merely ends its command line.
    if (baseName(p.argv.back()).rfind("gsyncd-aux-mount-", 0) == 0) set.mountPoints.push_back(p.argv.back());
    set.described.push_back(std::to_string(p.pid) + " auxiliary mount of " + secondaryVolume + " at " + p.argv.back());
  }
  for (const auto& p : processes) {
    if (chosen.count(p.pid)) continue;
    const auto up = ancestors(p);
    const bool underConnection =
        std::any_of(up.begin(), up.end(), [&](const ProcessInfo* a) { return connections.count(a->pid) > 0; });
    if (isRsyncServer(p.argv) && (underConnection || writesInto(p, set.mountPoints, chosen))) {
      choose(p, "rsync server of a geo-replication session");
    } else if (underConnection) {
      choose(p, p.argv.empty() ? "process" : baseName(p.argv[0]) + " of a geo-replication session");
    }
  }
  return set;
}

std::vector<ProcessInfo> listProcesses(const std::string& procRoot) {
  std::vector<ProcessInfo> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(procRoot, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    const std::string raw = readAll(entry.path() / "cmdline");
    if (raw.empty()) continue;  // a kernel thread, or gone
    ProcessInfo p;
    p.pid = pid_t(std::stol(name));
    size_t start = 0;
    while (start < raw.size()) {
      const auto end = raw.find('\0', start);
      p.argv.push_back(raw.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    while (p.argv.size() > 1 && p.argv.back().empty()) p.argv.pop_back();  // setproctitle's padding
    const std::string statLine = readAll(entry.path() / "stat");
    const auto close = statLine.rfind(')');  // the name may hold spaces and parentheses
    if (close != std::string::npos) {
      char state = 0;
      int ppid = 0;
      if (std::sscanf(statLine.c_str() + close + 1, " %c %d", &state, &ppid) == 2) p.ppid = pid_t(ppid);
    }
    std::error_code cwdError;
    p.cwd = std::filesystem::read_symlink(entry.path() / "cwd", cwdError).string();
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> stopGeoRepReceivers(const std::string& secondaryVolume) {
  const ReceiverSet set = geoRepReceivers(listProcesses(), secondaryVolume);
  for (pid_t pid : set.receivers) ::kill(pid, SIGKILL);
  for (pid_t pid : set.mountClients) ::kill(pid, SIGKILL);
  for (const auto& mount : set.mountPoints) ::umount2(mount.c_str(), MNT_DETACH);
  for (const auto& d : set.described) spdlog::warn("fence: stopped {}", d);
  return set.described;
}

}  // namespace gdr::gluster

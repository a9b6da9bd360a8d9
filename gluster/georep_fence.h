#pragma once
// The processes through which a geo-replication session writes into a
// secondary volume on this host: the gsyncd receiver each primary worker
// starts over ssh (`gsyncd.py secondary PRIMARY HOST::VOLUME ...`), the
// ssh connection it came in by (multiplexed: the primary opens its rsync
// servers as new channels of it, without logging in again), everything
// that connection runs, and the receiver's auxiliary mount's client (`glusterfs --aux-gfid-mount --client-pid=-1
// --volfile-id=VOLUME ... MOUNTPOINT`, which may write despite
// features.read-only). Taking the keys out of authorized_keys stops new
// connections; a failover also ends these, so that nothing of a session
// still connected (a primary declared gone that is not) lands afterwards.
// Choosing them is pure; stopGeoRepReceivers() does the /proc and kill I/O.
#include <sys/types.h>

#include <string>
#include <vector>

namespace gdr::gluster {

struct ProcessInfo {
  pid_t pid = 0, ppid = 0;
  std::vector<std::string> argv;
  std::string cwd;  // "" when unreadable
};

struct ReceiverSet {
  std::vector<pid_t> receivers;            // the connections, gsyncd receivers, rsync servers
  std::vector<pid_t> mountClients;         // their auxiliary mounts' clients
  std::vector<std::string> mountPoints;    // those mounts
  std::vector<std::string> described;      // "PID what", for the job and the log
};

// The processes of any session writing into `secondaryVolume`. Pure.
ReceiverSet geoRepReceivers(const std::vector<ProcessInfo>& processes, const std::string& secondaryVolume);

// Every process of this host (those that vanish while read are skipped).
std::vector<ProcessInfo> listProcesses(const std::string& procRoot = "/proc");

// Kills (SIGKILL) the receivers, then the mount clients, and detaches
// their mounts. What it stopped, described; failures to kill a process
// that is gone already are no failures.
std::vector<std::string> stopGeoRepReceivers(const std::string& secondaryVolume);

}  // namespace gdr::gluster

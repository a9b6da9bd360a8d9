#pragma once
// gluster's mount broker: how a geo-replication session logs in to the
// secondary as an unprivileged user. gluster's own peer script
// (`gluster system:: execute mountbroker.py node-setup|node-add`) runs on
// every node of the pool and answers one JSON line per node; it exits 0
// even when a node refused, so each line is read.
#include <string>
#include <string_view>
#include <vector>

namespace gdr::gluster {

struct PeerReply {
  std::string nodeId;
  bool ok = false;
  std::string message;  // the node's error, or its output as text
};

// One reply per non-empty line. Throws AgentError(GlusterCliBadOutput)
// when a line is not such a reply (or there is none).
std::vector<PeerReply> parsePeerReplies(std::string_view output);

// "node 2d40...: User Group not exists; node 7f1e...: ..." for the nodes
// that refused; empty when every node applied it.
std::string refusals(const std::vector<PeerReply>& replies);

}  // namespace gdr::gluster

#include "gluster/mountbroker.h"

#include <sstream>

#include "core/errors.h"
#include "core/json_util.h"

namespace gdr::gluster {

std::vector<PeerReply> parsePeerReplies(std::string_view output) {
  std::vector<PeerReply> replies;
  std::istringstream lines{std::string(output)};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto value = json::parse(line);
    if (!value || !value->isObject() || !(*value)["ok"].isBool() || !(*value)["nodeid"].isString()) {
      throw AgentError(Code::GlusterCliBadOutput,
                       "gluster's mountbroker answered what is not a node's reply: " + json::printable(line, 200));
    }
    PeerReply reply;
    reply.nodeId = (*value)["nodeid"].asString();
    reply.ok = (*value)["ok"].asBool();
    const Json::Value& said = reply.ok ? (*value)["output"] : (*value)["error"];
    reply.message = said.isString() ? said.asString() : said.isNull() ? "" : json::compact(said);
    replies.push_back(std::move(reply));
  }
  if (replies.empty()) throw AgentError(Code::GlusterCliBadOutput, "gluster's mountbroker answered nothing");
  return replies;
}

std::string refusals(const std::vector<PeerReply>& replies) {
  std::string text;
  for (const auto& reply : replies) {
    if (reply.ok) continue;
    if (!text.empty()) text += "; ";
    text += "node " + json::printable(reply.nodeId, 64) + ": " + json::printable(reply.message, 200);
  }
  return text;
}

}  // namespace gdr::gluster

#pragma once
// Gluster's events API: glustereventsd POSTs every cluster event as JSON to
// the registered webhooks. gdr listens for GEOREP_CHECKPOINT_COMPLETED to
// learn at once that a worker finished a checkpoint, instead of polling
// glusterd for it. Events are best effort (UDP inside gluster): they only
// wake a sync job early; its status readings stay the authority.
#include <cstdint>
#include <optional>
#include <string>

namespace gdr::gluster {

struct GlusterEvent {
  std::string name;    // "GEOREP_CHECKPOINT_COMPLETED", ...
  std::string nodeId;  // the gluster peer that sent it
  std::int64_t ts = 0;
  // Geo-replication events (empty otherwise). Both gluster's current
  // (primary_*, secondary_*) and older (master_*, slave_*) keys are read.
  std::string primaryVolume;
  std::string secondaryHost;  // without any "user@"
  std::string secondaryVolume;
  std::string brick;
  std::optional<std::int64_t> checkpointTime;
  std::optional<std::int64_t> checkpointCompletionTime;
};

// Parses one webhook body; nullopt when it is not a gluster event.
std::optional<GlusterEvent> parseGlusterEvent(const std::string& body);

inline constexpr const char* kCheckpointCompletedEvent = "GEOREP_CHECKPOINT_COMPLETED";

}  // namespace gdr::gluster

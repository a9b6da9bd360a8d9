#include <thread>

#include "client/agent_api.h"
#include "client/typed_call.h"
#include "core/uuid.h"

namespace gdr::sync {

using client::ClientError;

RpcAgent::RpcAgent(std::string endpoint, AgentOptions options, std::string flowId)
    : endpoint_(std::move(endpoint)), options_(std::move(options)), flowId_(std::move(flowId)) {}

std::unique_ptr<client::RpcClient> RpcAgent::take() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      auto client = std::move(idle_.back());
      idle_.pop_back();
      return client;
    }
  }
  return std::make_unique<client::RpcClient>(client::makeTransport(endpoint_, options_.tls, options_.callTimeout));
}

void RpcAgent::give(std::unique_ptr<client::RpcClient> client) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(client));
}

template <class Verb>
typename Verb::Result RpcAgent::call(const typename Verb::Params& params) {
  auto client = take();
  try {
    auto result = client::call<Verb>(*client, params, flowId_);
    give(std::move(client));
    return result;
  } catch (const ClientError& e) {
    // A connection that failed is dropped (the transport reconnects on its
    // next use anyway); one that carried a verb error is fine to reuse.
    if (e.kind() == ClientError::Kind::Verb) give(std::move(client));
    throw;
  }
}

api::VmList RpcAgent::getVMList() { return call<api::HostGetVMList>({}); }
std::string RpcAgent::startDrill(const api::DrillParams& p) { return call<api::RecoveryPointDrill>(p).jobId; }
std::string RpcAgent::startFailover(const api::FailoverParams& p) { return call<api::RecoveryPointFailover>(p).jobId; }
void RpcAgent::ping() { call<api::HostPing>({}); }
bool RpcAgent::hasJob(const std::string& jobId) {
  return call<api::HostGetJobs>({std::vector<std::string>{jobId}}).jobs.count(jobId) > 0;
}
api::VmStateResult RpcAgent::pauseVm(const std::string& vmId) { return call<api::VmPause>({vmId}); }
api::VmStateResult RpcAgent::contVm(const std::string& vmId) { return call<api::VmCont>({vmId}); }
api::VmStateResult RpcAgent::destroyVm(const api::DestroyParams& p) { return call<api::VmDestroy>(p); }
api::PointCheckResult RpcAgent::recoveryPointCheck(const api::PointCheckParams& p) {
  return call<api::RecoveryPointCheck>(p);
}
void RpcAgent::geoRepSessionStop(const api::SessionActionParams& p) { call<api::GeoRepSessionStop>(p); }
void RpcAgent::geoRepSessionDelete(const api::SessionParams& p) { call<api::GeoRepSessionDelete>(p); }
api::SnapshotResult RpcAgent::snapshot(const api::SnapshotParams& p) { return call<api::VmSnapshot>(p); }
api::PointSaveResult RpcAgent::recoveryPointSave(const api::PointSaveParams& p) {
  return call<api::RecoveryPointSave>(p);
}
api::PointPruneResult RpcAgent::recoveryPointPrune(const api::PointPruneParams& p) {
  return call<api::RecoveryPointPrune>(p);
}
api::PointListResult RpcAgent::recoveryPointList(const api::VolumeRef& p) { return call<api::RecoveryPointList>(p); }
api::SessionListResult RpcAgent::geoRepSessionList(const api::SessionListParams& p) {
  return call<api::GeoRepSessionList>(p);
}
api::EmptyCheckResult RpcAgent::volumeEmptyCheck(const api::VolumeRef& p) { return call<api::VolumeEmptyCheck>(p); }
api::GeoRepKeysResult RpcAgent::geoRepKeysGet() { return call<api::GeoRepKeysGet>({}); }
api::GeoRepKeysUpdateResult RpcAgent::geoRepKeysUpdate(const api::GeoRepKeysUpdateParams& p) {
  return call<api::GeoRepKeysUpdate>(p);
}
void RpcAgent::geoRepSessionCreate(const api::SessionCreateParams& p) { call<api::GeoRepSessionCreate>(p); }
void RpcAgent::geoRepConfigSet(const api::ConfigSetParams& p) { call<api::GeoRepConfigSet>(p); }
void RpcAgent::volumeSet(const api::VolumeSetParams& p) { call<api::VolumeSet>(p); }
api::SessionStatusResult RpcAgent::geoRepSessionStatus(const api::SessionParams& p) {
  return call<api::GeoRepSessionStatus>(p);
}
api::PointSealResult RpcAgent::recoveryPointSeal(const api::PointCheckParams& p) {
  return call<api::RecoveryPointSeal>(p);
}
api::SaveDefinitionResult RpcAgent::saveDefinition(const api::VmParams& p) { return call<api::VmSaveDefinition>(p); }
std::string RpcAgent::startMerge(const api::MergeParams& p) {
  // With a job id of its own, a start whose reply was lost (the agent
  // restarted mid-call) is sent again without risking a second merge: if
  // the first one got through, the agent knows the job by that id.
  api::MergeParams params = p;
  if (!params.jobUUID) params.jobUUID = newUuid();
  int connectionErrors = 0;
  for (;;) {
    try {
      return call<api::VmMerge>(params).jobId;
    } catch (const ClientError& e) {
      if (e.kind() == ClientError::Kind::Connection && ++connectionErrors <= options_.reconnects) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      if (e.kind() == ClientError::Kind::Verb && connectionErrors > 0) {
        try {
          if (call<api::HostGetJobs>({std::vector<std::string>{*params.jobUUID}}).jobs.count(*params.jobUUID)) {
            return *params.jobUUID;  // the lost reply's merge runs (the retry was refused as busy)
          }
        } catch (const ClientError&) {
        }
      }
      throw;
    }
  }
}
std::string RpcAgent::startGeoRepSync(const api::GeoRepSyncParams& p) { return call<api::GeoRepSync>(p).jobId; }
api::OverlayDeleteResult RpcAgent::overlayDelete(const api::OverlayDeleteParams& p) {
  return call<api::OverlayDelete>(p);
}
api::ImageInfoResult RpcAgent::imageInfo(const api::FileParams& p) { return call<api::ImageInfo>(p); }
api::ShardLayoutResult RpcAgent::shardLayout(const api::FileParams& p) { return call<api::ShardLayout>(p); }
api::ChecksumResult RpcAgent::fileChecksum(const api::ChecksumParams& p) { return call<api::FileChecksum>(p); }
api::ResyncResult RpcAgent::geoRepResyncFile(const api::ResyncParams& p) { return call<api::GeoRepResyncFile>(p); }

api::Job RpcAgent::waitJob(const std::string& jobId, const std::function<void(const api::Job&)>& onPoll,
                           std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int connectionErrors = 0;
  for (;;) {
    api::GetJobsResult jobs;
    try {
      jobs = call<api::HostGetJobs>({std::vector<std::string>{jobId}});
      connectionErrors = 0;
    } catch (const ClientError& e) {
      // The agent may be restarting: its jobs survive, keep asking.
      if (e.kind() != ClientError::Kind::Connection || ++connectionErrors > options_.reconnects) throw;
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    auto it = jobs.jobs.find(jobId);
    if (it == jobs.jobs.end()) throw std::runtime_error("job " + jobId + " vanished from its agent");
    onPoll(it->second);
    if (it->second.terminal()) return it->second;
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("job " + jobId + " still " + it->second.state + " at the deadline");
    }
    std::this_thread::sleep_for(options_.jobPoll);
  }
}

}  // namespace gdr::sync

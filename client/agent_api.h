#pragma once
// What a DR cycle asks of one host's agent, typed. RpcAgent serves it over
// persistent JSON-RPC connections; unit tests give the cycle a fake.
// Failures are client::ClientError: Kind::Verb with the agent's code, or
// Kind::Connection when the agent cannot be reached.
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/gluster_volume.h"
#include "api/host.h"
#include "api/jobs.h"
#include "api/recovery.h"
#include "api/recovery_point.h"
#include "api/vm.h"
#include "client/rpc_client.h"
#include "client/session_setup.h"

namespace gdr::sync {

class AgentApi {
 public:
  virtual ~AgentApi() = default;
  virtual const std::string& endpoint() const = 0;  // for reports: unix:/..., https://...

  virtual api::VmList getVMList() = 0;
  virtual api::SnapshotResult snapshot(const api::SnapshotParams& params) = 0;
  virtual api::SaveDefinitionResult saveDefinition(const api::VmParams& params) = 0;
  virtual std::string startMerge(const api::MergeParams& params) = 0;            // the job id
  virtual std::string startGeoRepSync(const api::GeoRepSyncParams& params) = 0;  // the job id
  virtual api::OverlayDeleteResult overlayDelete(const api::OverlayDeleteParams& params) = 0;
  virtual api::ImageInfoResult imageInfo(const api::FileParams& params) = 0;
  virtual api::ShardLayoutResult shardLayout(const api::FileParams& params) = 0;
  virtual api::ChecksumResult fileChecksum(const api::ChecksumParams& params) = 0;
  virtual api::ResyncResult geoRepResyncFile(const api::ResyncParams& params) = 0;
  virtual api::PointSaveResult recoveryPointSave(const api::PointSaveParams& params) = 0;
  virtual api::PointPruneResult recoveryPointPrune(const api::PointPruneParams& params) = 0;
  virtual api::PointListResult recoveryPointList(const api::VolumeRef& params) = 0;
  virtual api::PointSealResult recoveryPointSeal(const api::PointCheckParams& params) = 0;

  // Follows a job to its end (DONE, FAILED or ABORTED), calling `onPoll`
  // with each reading. Rides out an agent restart (its jobs survive one);
  // throws ClientError when the agent stays away, std::runtime_error when
  // the job vanishes or outlives `timeout`.
  virtual api::Job waitJob(const std::string& jobId, const std::function<void(const api::Job&)>& onPoll,
                           std::chrono::seconds timeout) = 0;
};

struct AgentOptions {
  client::TlsOptions tls;
  std::chrono::seconds callTimeout{120};
  std::chrono::milliseconds jobPoll{250};
  int reconnects = 120;  // one a second while following a job
};

// An AgentApi over JSON-RPC: connections to the agent are kept open and
// reused (one per call in flight), every call carries the cycle's flow id.
class RpcAgent : public AgentApi, public GeoRepSetupApi {
 public:
  RpcAgent(std::string endpoint, AgentOptions options, std::string flowId);

  const std::string& endpoint() const override { return endpoint_; }
  api::VmList getVMList() override;
  api::SnapshotResult snapshot(const api::SnapshotParams& params) override;
  api::SaveDefinitionResult saveDefinition(const api::VmParams& params) override;
  std::string startMerge(const api::MergeParams& params) override;
  std::string startGeoRepSync(const api::GeoRepSyncParams& params) override;
  api::OverlayDeleteResult overlayDelete(const api::OverlayDeleteParams& params) override;
  api::ImageInfoResult imageInfo(const api::FileParams& params) override;
  api::ShardLayoutResult shardLayout(const api::FileParams& params) override;
  api::ChecksumResult fileChecksum(const api::ChecksumParams& params) override;
  api::ResyncResult geoRepResyncFile(const api::ResyncParams& params) override;
  api::PointSaveResult recoveryPointSave(const api::PointSaveParams& params) override;
  api::PointPruneResult recoveryPointPrune(const api::PointPruneParams& params) override;
  api::PointListResult recoveryPointList(const api::VolumeRef& params) override;
  api::PointSealResult recoveryPointSeal(const api::PointCheckParams& params) override;
  api::Job waitJob(const std::string& jobId, const std::function<void(const api::Job&)>& onPoll,
                   std::chrono::seconds timeout) override;

  api::SessionListResult geoRepSessionList(const api::SessionListParams& params) override;
  api::EmptyCheckResult volumeEmptyCheck(const api::VolumeRef& params) override;
  api::GeoRepKeysResult geoRepKeysGet() override;
  api::GeoRepKeysUpdateResult geoRepKeysUpdate(const api::GeoRepKeysUpdateParams& params) override;
  void geoRepSessionCreate(const api::SessionCreateParams& params) override;
  void geoRepConfigSet(const api::ConfigSetParams& params) override;
  void volumeSet(const api::VolumeSetParams& params) override;
  api::SessionStatusResult geoRepSessionStatus(const api::SessionParams& params) override;

  std::string startDrill(const api::DrillParams& params);        // the job id
  std::string startFailover(const api::FailoverParams& params);  // the job id
  void ping();
  bool hasJob(const std::string& jobId);  // the agent knows it (any state)
  // A failback's: the VMs at the site it leaves, the sessions it replaces.
  api::VmStateResult pauseVm(const std::string& vmId);
  api::VmStateResult contVm(const std::string& vmId);
  api::VmStateResult destroyVm(const api::DestroyParams& params);
  api::PointCheckResult recoveryPointCheck(const api::PointCheckParams& params);
  void geoRepSessionStop(const api::SessionActionParams& params);
  void geoRepSessionDelete(const api::SessionParams& params);

 private:
  template <class Verb>
  typename Verb::Result call(const typename Verb::Params& params);
  std::unique_ptr<client::RpcClient> take();
  void give(std::unique_ptr<client::RpcClient> client);

  const std::string endpoint_;
  const AgentOptions options_;
  const std::string flowId_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<client::RpcClient>> idle_;
};

}  // namespace gdr::sync

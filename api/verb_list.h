#pragma once
// Every verb's typed contract in one list, for code that treats the verbs
// uniformly (the request fuzzer registers a default handler for each).
// A unit test checks this list against the schema, so a new verb missing
// here fails the ordinary test run, not only the fuzzing stage.
#include "api/gluster_host.h"
#include "api/gluster_volume.h"
#include "api/host.h"
#include "api/recovery.h"
#include "api/recovery_point.h"
#include "api/vm.h"
#include "core/registry.h"

namespace gdr::api {

template <class... Verbs>
struct VerbList {};

using AllVerbs =
    VerbList<HostPing, HostGetCapabilities, HostGetJobs, HostAbortJob, HostGetVMList, VmSnapshot, VmSaveDefinition,
             VmMerge, VmPause, VmCont, VmDestroy, OverlayDelete, FileStat, GeoRepResyncFile, FileChecksum, ImageInfo, ShardLayout,
             RecoveryPointSave, RecoveryPointPrune, RecoveryPointList, RecoveryPointCheck, RecoveryPointSeal,
             RecoveryPointDrill, RecoveryPointFailover, VolumeEmptyCheck, VolumeSet, GeoRepSessionList, GeoRepSessionStatus, GeoRepSessionCreate,
             GeoRepSessionStart, GeoRepSessionStop, GeoRepSessionPause, GeoRepSessionResume, GeoRepSessionDelete,
             GeoRepConfigList, GeoRepConfigSet, GeoRepConfigReset, GeoRepCheckpointSet, GeoRepSync, GeoRepKeysGet,
             GeoRepKeysUpdate, GeoRepMountBrokerSetup>;

// Registers, for each verb of the list, a handler answering its default
// result: for exercising the edge in front of the handlers, not their I/O.
template <class... Verbs>
void registerDefaultHandlers(gdr::Registry& registry, VerbList<Verbs...>) {
  (registry.add<Verbs>([](const typename Verbs::Params&, const gdr::CallContext&) { return typename Verbs::Result{}; }),
   ...);
}

}  // namespace gdr::api

#include "client/cycle.h"

#include <algorithm>
#include <atomic>
#include <ctime>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "api/codes.h"
#include "client/merge_pace.h"
#include "client/report_store.h"
#include "client/shard_identity.h"
#include "core/clock.h"
#include "core/sha256.h"
#include "gfapi/volume_path.h"

namespace gdr::sync {

namespace {

using Clock = std::chrono::steady_clock;
using client::ClientError;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string describe(const std::exception& e) {
  if (const auto* c = dynamic_cast<const ClientError*>(&e)) {
    if (c->kind() == ClientError::Kind::Verb) return std::to_string(c->code()) + ": " + c->what();
  }
  return e.what();
}

// The agent's error code, 0 when `e` is not a verb's error.
int verbCode(const std::exception& e) {
  const auto* c = dynamic_cast<const ClientError*>(&e);
  return c && c->kind() == ClientError::Kind::Verb ? c->code() : 0;
}

// A call on one site's copy failed: the message names the site, the
// agent's code is kept.
struct SiteError : std::runtime_error {
  SiteError(const std::string& message, bool onSecondary, int code)
      : std::runtime_error(message), onSecondary(onSecondary), code(code) {}
  bool onSecondary;
  int code;  // the agent's, 0 when not a verb's error
};

bool isGfapiIOError(const std::exception& e) { return verbCode(e) == int(Code::GfapiIOError); }

std::string describe(const api::Job& job) {
  return job.error ? std::to_string(job.error->code) + ": " + job.error->message : "ended " + job.state;
}

// "127.30.0.11 Active (done), 127.30.0.12 Passive": which node copies.
std::string describeWorkers(const std::vector<api::SyncWorker>& workers) {
  std::string out;
  for (const auto& w : workers) {
    out += (out.empty() ? "" : ", ") + w.host + " " + w.status + (w.checkpointCompleted ? " (done)" : "");
  }
  return out;
}

std::string clockTime(std::int64_t epoch) {
  char buf[32];
  std::tm tm{};
  const std::time_t t = epoch;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// How an image is sampled for its point's manifest and by the "shards"
// check: 64 KiB of every 4 MiB (gluster's smallest shard), so every shard
// is read somewhere.
constexpr std::uint64_t kStride = 4 << 20;
constexpr std::uint64_t kStrideSample = 64 << 10;

// YYYYMMDDTHHMMSSZ-XXXXXXXX: sorts by time; the suffix tells apart two
// cycles of the same second.
std::string pointId(std::int64_t time, const std::string& flowId) {
  return utcStamp(time, "%Y%m%dT%H%M%SZ") + "-" + sha256Hex(flowId).substr(0, 8);
}

// The deepest chain the delta layout takes on: a base, the deltas of the
// points kept apart, and the overlay the VM writes.
constexpr size_t kMaxDeltaChain = 64;

struct Image {
  std::string path, rel;  // host path and volume-relative path
};

// One disk of one VM taking part in the cycle.
struct Disk {
  std::string drive;
  std::string basePath, baseRel;    // host path and volume-relative path
  std::string deltaPath, deltaRel;  // delta layout: the overlay the VM ran on since the last cycle
  // Delta layout: earlier points' deltas between the base and that
  // overlay, oldest first (not yet committed: a kept point needs them).
  std::vector<Image> olderDeltas;
  std::string topPath, topRel;  // the overlay, once snapshotted
  std::string server;           // a volfile server of the primary
  // The image the snapshot freezes: the delta, or the base.
  const std::string& frozenPath() const { return deltaPath.empty() ? basePath : deltaPath; }
  const std::string& frozenRel() const { return deltaRel.empty() ? baseRel : deltaRel; }
  // Delta layout, once the snapshot froze the overlay: the deltas over
  // the base, oldest first.
  std::vector<Image> frozenDeltas() const {
    std::vector<Image> out = olderDeltas;
    if (!deltaPath.empty()) out.push_back({deltaPath, deltaRel});
    return out;
  }
  // The frozen deltas to commit into the base, oldest first, so that
  // `keepPoints` points stay recoverable apart: the newest keepPoints-1
  // stay over the base (with the overlay the VM writes, the next point's
  // delta, that is keepPoints points' worth), the older ones go in.
  std::vector<Image> commitsDue(int keepPoints) const {
    std::vector<Image> frozen = frozenDeltas();
    const size_t stay = keepPoints > 1 ? size_t(keepPoints - 1) : 0;
    frozen.resize(frozen.size() > stay ? frozen.size() - stay : 0);
    return frozen;
  }
};

// `hostPath` on the volume, given another image whose host and volume
// paths are known (the same mount); nullopt when it is not on that mount.
std::optional<std::string> onVolume(const std::string& hostPath, const std::string& knownHost,
                                    const std::string& knownRel) {
  if (knownHost.size() < knownRel.size() ||
      knownHost.compare(knownHost.size() - knownRel.size(), knownRel.size(), knownRel) != 0) {
    return std::nullopt;
  }
  const std::string mount = knownHost.substr(0, knownHost.size() - knownRel.size());
  if (hostPath.size() <= mount.size() || hostPath.compare(0, mount.size(), mount) != 0) return std::nullopt;
  return hostPath.substr(mount.size());
}

struct Vm {
  size_t host = 0;
  std::string id, name;
  std::vector<Disk> disks;
  bool snapshotted = false;
  Json::Value report{Json::objectValue};
};

// A step in the report: started when made, finished by ok()/failed().
class StepReport {
 public:
  explicit StepReport(Json::Value& step) : step_(step), started_(Clock::now()) {}
  Json::Value& operator[](const char* key) { return step_[key]; }
  void ok() { finish(""); }
  void failed(const std::string& error) { finish(error); }

 private:
  void finish(const std::string& error) {
    step_["duration"] = secondsSince(started_);
    step_["status"] = error.empty() ? "ok" : "failed";
    if (!error.empty()) step_["error"] = error;
  }
  Json::Value& step_;
  Clock::time_point started_;
};

class Cycle {
 public:
  Cycle(const CycleOptions& options, const std::vector<AgentApi*>& agents, const ProgressFn& progress,
        const SleepFn& sleep)
      : options_(options), agents_(agents), progress_(progress), sleep_(sleep) {}

  Json::Value run();

 private:
  StepReport step(const std::string& name);
  void discover();
  void refuseVmsOnTwoHosts(StepReport& s);
  void hostLost(StepReport& s, size_t host, const std::string& error);
  // The alert of a cycle some host did not answer; nullopt when all did.
  std::optional<std::string> lostHostsAlert() const;
  void snapshotAll();
  void saveDefinitions();
  void saveManifest();
  void prunePoints();
  void georepSync(const std::string& stepName = "georep");
  // Starts (or waits for a running one, then starts) a sync job on `agent`
  // and waits for its end.
  api::Job syncThrough(AgentApi& agent, const api::GeoRepSyncParams& params, StepReport& s);
  void verifyBases();
  void deleteOverlays();
  void sealPoint();
  // Merges every new overlay back, or (delta layout, `pointShipped`)
  // commits every delta into its base; false when some disk failed.
  bool mergeAll(bool pointShipped);
  // One disk's merge back, or (`commitDeltas`) its due commits, oldest
  // first: the report's merge entry for the drive.
  Json::Value mergeDisk(const Vm& vm, const Disk& d, bool commitDeltas);
  void paceMerge(AgentApi& agent, const Disk& d, const Image& top, const std::string& next, api::MergeParams& params,
                 Json::Value& r);
  // Finishes what an earlier run's journal says it left; false when some
  // of its VMs is still on an overlay.
  bool adopt(const Json::Value& journal);
  // The journal of a cycle an earlier run did not finish: reported (dry
  // run) or finished; false when some of its VMs stay on overlays.
  bool finishInterrupted();
  // Snapshots through the seal, then every VM back on one image (merged,
  // or its deltas committed), whatever happened before; what failed goes
  // to `outcome` and `alert`.
  void protectAndMergeBack(Outcome& outcome, std::string& alert);
  // true: merged one back (or, `shipped`, committed its delta)
  bool adoptDisk(AgentApi& agent, const std::string& vmId, const Json::Value& disk, bool shipped);
  // Saves the journal as of `step`; throws when it cannot.
  void journal(const std::string& step);

  // Compares each image of the point (all, or those named in `only`) on
  // both sides: the bases, and every delta in full; throws on I/O errors.
  // Read errors are retried while the secondary settles.
  std::vector<BaseDifference> compareBases(const std::set<std::string>& only);
  std::vector<BaseDifference> compareBasesSettled(const std::set<std::string>& only);
  // Runs `work` until it succeeds, or it throws what `transient` does not
  // accept, or settleAttempts are spent; between attempts a progress line
  // for `step` ("ERROR; `again` in N s") and a pause of settleWait.
  template <typename Work>
  auto settling(const char* step, const std::string& again, const std::function<bool(const std::exception&)>& transient,
                Work&& work) -> decltype(work());
  // One image of a disk, reported in `report`: its header, its pieces,
  // then its bytes (a delta's all, whatever the mode: compareEveryStride).
  std::optional<BaseDifference> compareImage(const Vm& vm, const Disk& d, const std::string& rel, bool delta,
                                             Json::Value& report);
  // The pieces of a base the secondary holds with another modification
  // time, read whole on both sides: the offsets of those that differ.
  std::vector<std::uint64_t> comparePiecesWhole(const Vm& vm, const Disk& d, const std::string& rel,
                                                const api::ShardLayoutResult& layout,
                                                const std::vector<std::uint64_t>& offsets);
  // Its bytes, as options_.verify says (the header and pieces matched).
  std::optional<BaseDifference> compareContent(const Vm& vm, const Disk& d, const std::string& rel, std::uint64_t size,
                                               Json::Value& report);
  std::optional<BaseDifference> compareEveryStride(const Vm& vm, const Disk& d, const std::string& rel, bool delta,
                                                   Json::Value& report);
  std::vector<std::uint64_t> locateDifferences(const Vm& vm, const Disk& d, const std::string& rel, bool delta);
  // Both sides' range sums of `rel`, `length` bytes read in every stride.
  std::pair<api::ChecksumResult, api::ChecksumResult> strideSums(const Vm& vm, const Disk& d, const std::string& rel,
                                                                 std::uint64_t length);
  // Marks the pieces that differ for resync on the primary; the bases marked.
  std::set<std::string> markForResync(const std::vector<BaseDifference>& differing, StepReport& s);
  void addPlan();
  Json::Value vmReports() const;

  // `call` with the params for the primary and, at the same time, for the
  // secondary; an error names its site (the primary's first).
  template <class Params, class Fn>
  auto onBothSides(const Vm& vm, const Disk& d, Params params, Fn&& call);

  const CycleOptions& options_;
  const std::vector<AgentApi*>& agents_;
  const ProgressFn& progress_;
  const SleepFn& sleep_;
  Json::Value report_;
  std::vector<Vm> vms_;
  std::vector<bool> reachable_;  // per host: answered discovery
  std::mutex mutex_;
};

StepReport Cycle::step(const std::string& name) {
  Json::Value s;
  s["step"] = name;
  s["status"] = "running";
  // When it began (seconds since the epoch): lines a step up with the
  // agents' logs and the guests' own measurements.
  s["startTime"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  report_["steps"].append(s);
  return StepReport(report_["steps"][report_["steps"].size() - 1]);
}

void Cycle::discover() {
  StepReport s = step("discover");
  reachable_.assign(agents_.size(), true);
  for (size_t h = 0; h < agents_.size(); ++h) {
    api::VmList listed;
    try {
      listed = agents_[h]->getVMList();
    } catch (const std::exception& e) {
      if (agents_.size() == 1) throw;
      hostLost(s, h, describe(e));
      continue;
    }
    for (const auto& vm : listed.vms) {
      Vm v;
      v.host = h;
      v.id = vm.vmId;
      v.name = vm.name;
      bool elsewhere = false;
      for (const auto& disk : vm.disks) {
        if (disk.device != "disk") continue;
        if (!disk.gluster || disk.gluster->volume != options_.volume) {
          elsewhere = true;
          continue;
        }
        const bool delta = options_.layout == Layout::Delta;
        if (disk.blockJob || disk.chain.empty() || disk.chain.size() > (delta ? kMaxDeltaChain : 1u)) {
          throw std::runtime_error("VM " + v.name + " drive " + disk.target + " is not on " +
                                   (delta ? "its base and gdr's deltas over it" : "a single image") +
                                   " (a previous cycle left an overlay, or a block job runs): resolve it first");
        }
        Disk d;
        d.drive = disk.target;
        d.server = disk.gluster->server;
        if (disk.chain.size() >= 2) {  // delta layout: the overlay the last cycle left, over kept deltas
          d.deltaPath = disk.path;
          d.deltaRel = disk.gluster->path;
          d.basePath = disk.chain.back();
          const auto baseRel = onVolume(d.basePath, d.deltaPath, d.deltaRel);
          auto notGdrs = [&](const std::string& image) {
            return std::runtime_error("VM " + v.name + " drive " + disk.target + " runs on " + image + " over " +
                                      d.basePath +
                                      ", which is not an overlay of gdr's beside its base: resolve it first");
          };
          if (!baseRel || !volpath::isDeltaBeside(d.deltaRel, *baseRel)) throw notGdrs(disk.path);
          d.baseRel = *baseRel;
          for (size_t i = disk.chain.size() - 2; i >= 1; --i) {  // oldest first
            const auto rel = onVolume(disk.chain[i], d.deltaPath, d.deltaRel);
            if (!rel || !volpath::isDeltaBeside(*rel, d.baseRel)) throw notGdrs(disk.chain[i]);
            d.olderDeltas.push_back({disk.chain[i], *rel});
          }
        } else {
          d.basePath = disk.path;
          d.baseRel = disk.gluster->path;
        }
        v.disks.push_back(d);
      }
      if (v.disks.empty()) continue;
      if (elsewhere) v.report["note"] = "some disks are not on " + options_.volume + " and are not protected";
      vms_.push_back(std::move(v));
    }
  }
  if (std::none_of(reachable_.begin(), reachable_.end(), [](bool r) { return r; })) {
    throw std::runtime_error("no host answered: " + s["unreachable"][0]["error"].asString());
  }
  refuseVmsOnTwoHosts(s);
  s["vms"] = Json::UInt64(vms_.size());
  if (vms_.empty()) s["note"] = "no running VM has a disk on " + options_.volume;
  progress_("discover", std::to_string(vms_.size()) + " VMs on " + options_.volume, true);
  s.ok();
}

// A host whose agent does not answer (or cannot list its VMs): the cycle
// goes on with the others. The VMs the last cycle saw there are named as
// unprotected by this one; the alert names the host.
void Cycle::hostLost(StepReport& s, size_t host, const std::string& error) {
  reachable_[host] = false;
  const std::string& endpoint = agents_[host]->endpoint();
  Json::Value lost;
  lost["host"] = endpoint;
  lost["error"] = error;
  lost["lastSeenVms"] = Json::Value(Json::arrayValue);
  std::string names;
  for (const auto& seen : options_.lastSeen) {
    if (seen.host != endpoint) continue;
    Json::Value vm;
    vm["vm"] = seen.name;
    vm["vmId"] = seen.vmId;
    vm["host"] = endpoint;
    vm["why"] = "its host did not answer: " + error;
    report_["unprotected"].append(vm);
    lost["lastSeenVms"].append(seen.name);
    names += (names.empty() ? "" : ", ") + seen.name;
  }
  s["unreachable"].append(lost);
  const std::string why = "host " + endpoint + " did not answer (" + error +
                          "): its VMs are not protected by this cycle" +
                          (names.empty() ? "" : " (last seen there: " + names + ")");
  report_["warnings"].append(why);
  progress_("discover", why, true);
}

std::optional<std::string> Cycle::lostHostsAlert() const {
  std::string hosts;
  size_t lost = 0;
  for (size_t h = 0; h < reachable_.size(); ++h) {
    if (reachable_[h]) continue;
    hosts += (hosts.empty() ? "" : ", ") + agents_[h]->endpoint();
    ++lost;
  }
  if (lost == 0) return std::nullopt;
  return lost == 1
             ? "host " + hosts + " did not answer: its VMs are not protected by this cycle; the other hosts' VMs are"
             : "hosts " + hosts +
                   " did not answer: their VMs are not protected by this cycle; the other hosts' VMs are";
}

// A VM two hosts report is migrating (libvirt shows it on the source and,
// paused, on the destination): which of them writes its disks is changing
// under the cycle. It is left out of this cycle, said in the report; the
// others go on.
void Cycle::refuseVmsOnTwoHosts(StepReport& s) {
  std::map<std::string, std::vector<size_t>> hostsOf;
  for (const auto& vm : vms_) hostsOf[vm.id].push_back(vm.host);
  std::vector<Vm> kept;
  std::set<std::string> said;
  for (auto& vm : vms_) {
    const auto& hosts = hostsOf[vm.id];
    if (hosts.size() == 1) {
      kept.push_back(std::move(vm));
      continue;
    }
    if (!said.insert(vm.id).second) continue;
    std::string where;
    for (size_t i = 0; i < hosts.size(); ++i) {
      where += (i == 0 ? "" : i + 1 == hosts.size() ? " and " : ", ") + agents_[hosts[i]]->endpoint();
    }
    const std::string why = "VM " + vm.name + " (" + vm.id + ") is reported by " + where +
                            " (a migration under way?): not protected by this cycle";
    Json::Value refused;
    refused["vm"] = vm.name;
    refused["vmId"] = vm.id;
    refused["why"] = why;
    s["refused"].append(refused);
    report_["warnings"].append(why);
    progress_("discover", why, true);
  }
  vms_ = std::move(kept);
}

void Cycle::snapshotAll() {
  StepReport s = step("snapshot");
  std::atomic<size_t> done{0};
  std::vector<std::future<void>> work;
  for (auto& vm : vms_) {
    work.push_back(std::async(std::launch::async, [&] {
      const auto t = Clock::now();
      api::SnapshotParams params;
      params.vmId = vm.id;
      params.snapDrives.emplace();
      for (const auto& d : vm.disks) params.snapDrives->push_back({d.drive, std::nullopt});
      Json::Value r;
      try {
        const api::SnapshotResult out = agents_[vm.host]->snapshot(params);
        std::lock_guard<std::mutex> lock(mutex_);
        vm.snapshotted = true;  // from here on, whatever happens, it is merged back
        r["status"] = "ok";
        r["quiesced"] = out.quiesced;
        for (const auto& disk : out.disks) {
          for (auto& d : vm.disks) {
            if (d.drive != disk.name) continue;
            d.topPath = disk.top;
            // The agent says where the overlay is on the volume.
            if (disk.topOnVolume && disk.topOnVolume->volume == options_.volume) {
              d.topRel = disk.topOnVolume->path;
            } else {
              r["status"] = "failed";
              r["error"] = "the overlay " + disk.top + " is not on " + options_.volume;
            }
          }
        }
        if (!report_.isMember("recoveryPoint") || out.snapshotTime < report_["recoveryPoint"].asInt64()) {
          report_["recoveryPoint"] = Json::Int64(out.snapshotTime);
        }
      } catch (const std::exception& e) {
        r["status"] = "failed";
        r["error"] = describe(e);
      }
      r["duration"] = secondsSince(t);
      std::lock_guard<std::mutex> lock(mutex_);
      vm.report["snapshot"] = r;
      progress_("snapshot", std::to_string(++done) + "/" + std::to_string(vms_.size()) + " VMs", false);
    }));
  }
  for (auto& w : work) w.get();
  std::string error;
  for (const auto& vm : vms_) {
    if (vm.report["snapshot"]["status"] != "ok") {
      error += (error.empty() ? "" : "; ") + vm.name + ": " + vm.report["snapshot"]["error"].asString();
    }
  }
  progress_("snapshot", std::to_string(done) + "/" + std::to_string(vms_.size()) + " VMs", true);
  if (!error.empty()) {
    s.failed(error);
    throw std::runtime_error("snapshot failed: " + error);
  }
  s.ok();
}

// Each VM's definition onto the primary volume, beside its disks, before
// the sync: the recovery point carries the VMs, not only their disks.
void Cycle::saveDefinitions() {
  StepReport s = step("definitions");
  std::vector<std::future<void>> work;
  for (auto& vm : vms_) {
    work.push_back(std::async(std::launch::async, [&] {
      Json::Value r;
      try {
        const api::SaveDefinitionResult out = agents_[vm.host]->saveDefinition({vm.id});
        if (out.definition.volume != options_.volume) {
          throw std::runtime_error("its definition went to " + out.definition.volume + ", not " + options_.volume);
        }
        r["path"] = out.definition.path;
        r["sha256"] = out.sha256;
        r["size"] = Json::UInt64(out.size);
      } catch (const std::exception& e) {
        r["error"] = describe(e);
      }
      std::lock_guard<std::mutex> lock(mutex_);
      vm.report["definition"] = r;
    }));
  }
  for (auto& w : work) w.get();
  std::string error;
  for (const auto& vm : vms_) {
    if (vm.report["definition"].isMember("error")) {
      error += (error.empty() ? "" : "; ") + vm.name + ": " + vm.report["definition"]["error"].asString();
    }
  }
  progress_("definitions", std::to_string(vms_.size()) + " VMs", true);
  if (!error.empty()) {
    s.failed(error);
    throw std::runtime_error("saving definitions failed: " + error);
  }
  s.ok();
}

// The point this cycle makes, described before the sync ships it: each
// definition, each base's header and sampled checksums, read on the
// primary (the bases are frozen). The manifest travels with the data; the
// secondary's copy is checked against it (GlusterVolume.recoveryPointCheck).
void Cycle::saveManifest() {
  StepReport s = step("manifest");
  if (vms_.empty()) {  // nothing protected, nothing to recover
    s["note"] = "no VM: no recovery point";
    s.ok();
    return;
  }
  api::PointManifest m;
  m.time = report_["recoveryPoint"].asInt64();
  m.id = pointId(m.time, options_.flowId);
  m.volume = options_.volume;
  m.flowId = options_.flowId;
  m.layout = options_.layout == Layout::Delta ? "delta" : "flat";
  try {
    for (auto& vm : vms_) {
      api::PointVm pv{vm.id, vm.name, {}, {}};
      const Json::Value& def = vm.report["definition"];
      pv.definition = {def["path"].asString(), def["sha256"].asString(), def["size"].asUInt64()};
      for (const auto& d : vm.disks) {
        AgentApi& agent = *agents_[vm.host];
        // A delta is sampled after its header cluster: a later commit
        // under it rewrites the backing file name there.
        auto describeImage = [&](const std::string& rel, bool delta) {
          const api::ImageInfoResult info = agent.imageInfo({{d.server}, options_.volume, rel});
          api::ChecksumParams q;
          q.volfileServers = {d.server};
          q.volumeName = options_.volume;
          q.path = rel;
          q.offset = delta ? info.clusterSize.value_or(64 << 10) : 0;
          q.sampleStride = kStride;
          q.sampleLength = kStrideSample;
          // Seen on a replicated primary after one of its hosts came back:
          // a frozen image whose reads ended before its size for minutes,
          // until its replicas healed. Only such read errors are waited out.
          const api::ChecksumResult sums =
              settling("manifest", "reading " + rel + " again", isGfapiIOError, [&] { return agent.fileChecksum(q); });
          api::PointImage image;
          image.path = rel;
          image.format = info.format;
          image.virtualSize = info.virtualSize;
          image.actualSize = info.actualSize;
          image.sample.stride = kStride;
          image.sample.length = kStrideSample;
          if (delta) image.sample.offset = q.offset;
          image.sample.sha256 = sums.sha256;
          image.sample.rangeSums = sums.rangeSums.value_or(std::vector<std::string>{});
          return image;
        };
        api::PointDisk disk;
        static_cast<api::PointImage&>(disk) = describeImage(d.baseRel, false);
        disk.drive = d.drive;
        for (const auto& older : d.olderDeltas) disk.olderDeltas.push_back(describeImage(older.rel, true));
        if (!d.deltaRel.empty()) disk.delta = describeImage(d.deltaRel, true);
        pv.disks.push_back(std::move(disk));
      }
      m.vms.push_back(std::move(pv));
    }
    // What this point lacks: a recovery then takes those VMs from an older point.
    for (const auto& u : report_["unprotected"]) {
      const std::string id = u["vmId"].asString();
      const bool captured =
          std::any_of(m.vms.begin(), m.vms.end(), [&](const api::PointVm& v) { return v.vmId == id; });
      if (id.empty() || captured) continue;
      m.unprotected.push_back({id, u["vm"].asString(), u["why"].asString()});
    }
    const api::PointSaveResult saved = agents_[vms_.front().host]->recoveryPointSave({options_.volume, m});
    report_["point"]["id"] = m.id;
    report_["point"]["manifest"] = saved.manifest.path;
  } catch (const std::exception& e) {
    s.failed(describe(e));
    throw std::runtime_error("writing the recovery point's manifest failed: " + describe(e));
  }
  s.ok();
}

// After a successful cycle only: the newest point is then sealed. In the
// delta layout the deltas it does not name go too: they were committed
// into the bases before its snapshot, and its seal verified those bases on
// the secondary.
void Cycle::prunePoints() {
  try {
    api::PointPruneParams params;
    params.volumeName = options_.volume;
    params.keep = options_.keepPoints;
    params.removeDeltas = options_.layout == Layout::Delta;
    const api::PointPruneResult r = agents_[vms_.front().host]->recoveryPointPrune(params);
    for (const auto& id : r.removed) report_["point"]["pruned"].append(id);
    for (const auto& path : r.removedDeltas) report_["point"]["removedDeltas"].append(path);
  } catch (const std::exception& e) {
    report_["warnings"].append("old recovery points were not pruned: " + describe(e));
  }
}

// The sync runs through the first host that answered discovery (every
// primary host holds a brick of the volume). When that agent is lost
// mid-sync (it stops answering), or can no longer read the session's
// status (its glusterd gone), the next host's agent takes the session
// over: it sets its own checkpoint, later than every snapshot, so the copy
// it waits for is as good.
void Cycle::georepSync(const std::string& stepName) {
  StepReport s = step(stepName);
  try {
    api::GeoRepSyncParams params;
    params.volumeName = options_.volume;
    params.remoteHost = options_.secondaryHost;
    params.remoteVolumeName = options_.secondaryVolume;
    params.timeout = options_.georepTimeout.count();
    params.stopAfter = sessionAfterSync(options_) == SessionAfterSync::Stop;
    params.startAfterRollover = options_.georepStartAfterRollover;
    std::vector<size_t> hosts;
    for (size_t h = 0; h < agents_.size(); ++h) {
      if (reachable_.empty() || reachable_[h]) hosts.push_back(h);
    }
    for (size_t i = 0;; ++i) {
      AgentApi& agent = *agents_[hosts[i]];
      s["host"] = agent.endpoint();
      const auto handOver = [&](const std::string& what) {
        const std::string why =
            "geo-rep: " + what + "; " + agents_[hosts[i + 1]]->endpoint() + " takes the session over";
        s["lostAgents"].append(agent.endpoint());
        report_["warnings"].append(why);
        progress_("geo-rep", why, false);
      };
      try {
        const api::Job job = syncThrough(agent, params, s);
        if (!job.done() && job.error && job.error->code == int(Code::GeoRepStatusUnreadable) && i + 1 < hosts.size()) {
          handOver("the agent on " + agent.endpoint() + " could not follow the sync (" + describe(job) + ")");
          continue;
        }
        const auto details = api::decode<api::GeoRepSyncJobDetails>(job.details);
        s["checkpointTime"] =
            details.checkpointTime ? Json::Value(Json::Int64(*details.checkpointTime)) : Json::Value();
        if (details.workers) s["workers"] = api::encode(*details.workers);
        s["sessionRestarts"] = details.sessionRestarts;  // a stall, restarted
        // How long the start waited for the bricks' changelogs (ms), and why.
        if (details.rolloverWaited) s["rolloverWaited"] = Json::Int64(*details.rolloverWaited);
        if (details.rolloverWait) s["rolloverWait"] = *details.rolloverWait;
        s["session"] = params.stopAfter ? "stopped" : "kept";
        for (const auto& warning : details.warnings.value_or(std::vector<std::string>{})) {
          Json::Value& all = report_["warnings"];
          if (std::find(all.begin(), all.end(), Json::Value(warning)) == all.end()) all.append(warning);
        }
        progress_("geo-rep", job.state, true);
        if (!job.done()) throw std::runtime_error(describe(job));
        break;
      } catch (const ClientError& e) {
        if (e.kind() != ClientError::Kind::Connection || i + 1 == hosts.size()) throw;
        handOver("the agent on " + agent.endpoint() + " was lost (" + describe(e) + ")");
      }
    }
  } catch (const std::exception& e) {
    s.failed(describe(e));
    throw std::runtime_error("geo-replication failed: " + describe(e));
  }
  s.ok();
}

api::Job Cycle::syncThrough(AgentApi& agent, const api::GeoRepSyncParams& params, StepReport& s) {
  std::string jobId;
  try {
    jobId = agent.startGeoRepSync(params);
  } catch (const ClientError& e) {
    // A sync of this session runs already (an interrupted run's): let it
    // end, then sync for this cycle's snapshots.
    if (e.kind() != ClientError::Kind::Verb || e.code() != int(Code::JobExists) || !e.data()["jobId"].isString()) {
      throw;
    }
    s["waitedFor"] = e.data()["jobId"];
    progress_("geo-rep", "waiting for the running sync " + e.data()["jobId"].asString(), false);
    agent.waitJob(
        e.data()["jobId"].asString(), [](const api::Job&) {}, options_.georepTimeout + std::chrono::seconds(60));
    jobId = agent.startGeoRepSync(params);
  }
  s["jobId"] = jobId;
  return agent.waitJob(
      jobId,
      [&](const api::Job& j) {
        const auto d = api::decode<api::GeoRepSyncJobDetails>(j.details);
        if (d.workersTotal == 0) return;  // no worker is known yet
        std::string detail = std::to_string(d.workersCompleted) + "/" + std::to_string(d.workersTotal) + " workers";
        if (d.workers) detail += " (" + describeWorkers(*d.workers) + ")";
        if (d.lastSynced) detail += ", last synced " + clockTime(*d.lastSynced);
        progress_("geo-rep", detail, false);
      },
      options_.georepTimeout + std::chrono::seconds(60));
}

template <class Params, class Fn>
auto Cycle::onBothSides(const Vm& vm, const Disk& d, Params params, Fn&& call) {
  AgentApi& agent = *agents_[vm.host];
  Params onSecondary = params;
  params.volfileServers = {d.server};
  params.volumeName = options_.volume;
  onSecondary.volfileServers = {options_.secondaryHost};
  onSecondary.volumeName = options_.secondaryVolume;
  // The two sites are read at once, each call on a connection of its own:
  // a comparison costs the slower site's read, not the sum of both.
  auto primary = std::async(std::launch::async, [&] { return call(agent, params); });
  std::optional<decltype(call(agent, onSecondary))> secondary;
  std::exception_ptr secondaryError;
  try {
    secondary = call(agent, onSecondary);
  } catch (...) {
    secondaryError = std::current_exception();
  }
  decltype(call(agent, params)) primaryResult;
  try {
    primaryResult = primary.get();
  } catch (const std::exception& e) {
    throw SiteError("on the primary: " + describe(e), false, verbCode(e));
  }
  try {
    if (secondaryError) std::rethrow_exception(secondaryError);
  } catch (const std::exception& e) {
    throw SiteError("on the secondary: " + describe(e), true, verbCode(e));
  }
  return std::make_pair(std::move(primaryResult), std::move(*secondary));
}

std::optional<BaseDifference> Cycle::compareImage(const Vm& vm, const Disk& d, const std::string& rel, bool delta,
                                                  Json::Value& report) {
  api::FileParams file{{}, "", rel};
  std::pair<api::ImageInfoResult, api::ImageInfoResult> infos;
  try {
    infos = onBothSides(vm, d, file, [](AgentApi& a, const api::FileParams& p) { return a.imageInfo(p); });
  } catch (const SiteError& e) {
    // The checkpoint is complete and the secondary has no such file: its
    // creation never reached it (seen with a 1 s changelog rollover), and
    // geo-replication does not send it by itself, even after a restart.
    // Marked for resync on the primary, the whole file is made and sent.
    if (!e.onSecondary || e.code != int(Code::FileNotFound)) throw;
    return BaseDifference{rel, "the secondary does not hold " + rel + " at all", {}, true};
  }
  const auto& [primary, secondary] = infos;
  report["image"] = api::encode(secondary);
  if (auto why = headerDifference(rel, primary, secondary)) return BaseDifference{rel, *why, {}, false};
  if (options_.verify == VerifyMode::None) return std::nullopt;

  // First the pieces' identities: cheap (lookups only), and they name the
  // cause of the failure seen most (see shard_identity.h).
  const auto [layoutA, layoutB] =
      onBothSides(vm, d, file, [](AgentApi& a, const api::FileParams& p) { return a.shardLayout(p); });
  const LayoutComparison layouts = compareShardLayouts(layoutA, layoutB);
  report["piecesCompared"] = Json::UInt64(layouts.piecesCompared);
  // "full" reads a base as a delta is read: every byte, and what differs
  // located to its strides. Otherwise a piece geo-replication did not
  // resend after its last change, which holds another time on the
  // secondary, is read whole: its stale range may lie outside every sample
  // (seen: a base lacking 47 records of a sequential writer after a
  // "sample" check passed).
  const bool everyByte = delta || options_.verify == VerifyMode::Full;
  report["piecesModifiedApart"] = Json::UInt64(layouts.modifiedApart.size());
  if (!layouts.problem.empty()) {
    return BaseDifference{
        rel, "the secondary's copy of " + rel + " is not laid out as the primary's: " + layouts.problem, {}, false};
  }
  if (!layouts.mismatches.empty()) {
    BaseDifference diff{rel,
                        "the secondary does not hold " + std::to_string(layouts.mismatches.size()) + " of " +
                            std::to_string(layouts.piecesCompared) + " pieces of " + rel + ": " +
                            describeMismatches(layouts.mismatches),
                        {},
                        true};
    for (const auto& m : layouts.mismatches) diff.offsets.push_back(m.offset);
    // The content may differ elsewhere too (seen: a missing shard and
    // three stale strides of one image): one repair resends both.
    try {
      const std::vector<std::uint64_t> located = locateDifferences(vm, d, rel, delta);
      const std::uint64_t block = layoutA.shardBlockSize;
      const size_t elsewhere = std::count_if(located.begin(), located.end(), [&](std::uint64_t offset) {
        return std::none_of(layouts.mismatches.begin(), layouts.mismatches.end(), [&](const ShardMismatch& m) {
          return block == 0 || (offset >= m.offset && offset - m.offset < block);
        });
      });
      if (elsewhere > 0) {
        diff.contentToo = true;
        diff.why += "; its content differs too, in " + std::to_string(elsewhere) + " more of its " +
                    std::to_string((layoutA.size + kStride - 1) / kStride) + " strides";
      }
      addOffsets(diff, located);
      const auto stale =
          everyByte ? std::vector<std::uint64_t>{} : comparePiecesWhole(vm, d, rel, layoutA, layouts.modifiedApart);
      if (!stale.empty()) {
        diff.contentToo = true;
        diff.why += "; its content differs too, in " +
                    describeStalePieces(stale.size(), layouts.modifiedApart.size(), stale.front());
        addOffsets(diff, stale);
      }
    } catch (const std::exception&) {
      // A copy missing pieces may not read whole; the pieces are resent.
    }
    return diff;
  }
  if (everyByte) return compareEveryStride(vm, d, rel, delta, report);
  if (!layouts.modifiedApart.empty()) {
    const auto stale = comparePiecesWhole(vm, d, rel, layoutA, layouts.modifiedApart);
    if (!stale.empty()) {
      return BaseDifference{rel,
                            "the secondary's copy of " + rel + " differs from the primary's in " +
                                describeStalePieces(stale.size(), layouts.modifiedApart.size(), stale.front()),
                            stale, false};
    }
  }
  return compareContent(vm, d, rel, primary.actualSize, report);
}

std::vector<std::uint64_t> Cycle::comparePiecesWhole(const Vm& vm, const Disk& d, const std::string& rel,
                                                     const api::ShardLayoutResult& layout,
                                                     const std::vector<std::uint64_t>& offsets) {
  std::vector<std::uint64_t> differing;
  api::ChecksumParams q;
  q.path = rel;
  for (std::uint64_t offset : offsets) {
    if (offset >= layout.size) continue;  // nothing of the file's bytes
    q.offset = offset;
    q.length = layout.shardBlockSize ? std::min(layout.shardBlockSize, layout.size - offset) : layout.size;
    const auto [a, b] =
        onBothSides(vm, d, q, [](AgentApi& agent, const api::ChecksumParams& p) { return agent.fileChecksum(p); });
    if (!sameContent(a, b)) differing.push_back(offset);
  }
  return differing;
}

// A delta is compared byte for byte, stride by stride, in every mode: it
// is only what the guests wrote in one cycle (cheap next to a base), and a
// point reads it whole. A sealed point once read 4 MiB of zeros on the
// secondary, most likely in a delta that had passed the samples (README,
// "Known limits").
std::optional<BaseDifference> Cycle::compareEveryStride(const Vm& vm, const Disk& d, const std::string& rel, bool delta,
                                                        Json::Value& report) {
  const auto [a, b] = strideSums(vm, d, rel, kStride);
  report["verifiedBytes"] = Json::UInt64(a.bytes);
  if (sameContent(a, b)) return std::nullopt;
  BaseDifference diff{rel, "", differingStrides(a, b), false};
  diff.why = "the secondary's copy of " + std::string(delta ? "delta " : "") + rel + " differs from the primary's in " +
             std::to_string(diff.offsets.size()) + " of " + std::to_string(a.rangeSums ? a.rangeSums->size() : 0) +
             " strides (" + std::to_string(a.bytes) + " bytes compared)";
  return diff;
}

// Both copies are frozen: their bytes must match exactly.
std::optional<BaseDifference> Cycle::compareContent(const Vm& vm, const Disk& d, const std::string& rel,
                                                    std::uint64_t size, Json::Value& report) {
  auto checksum = [](AgentApi& a, const api::ChecksumParams& p) { return a.fileChecksum(p); };
  api::ChecksumParams q;
  q.path = rel;
  if (options_.verify == VerifyMode::Sample) {
    const std::uint64_t chunk = 1 << 20;
    std::uint64_t compared = 0;
    for (std::uint64_t offset : sampleOffsets(size, chunk)) {
      q.offset = offset;
      q.length = chunk;
      const auto [a, b] = onBothSides(vm, d, q, checksum);
      if (!sameContent(a, b)) {
        // Where else it differs, for a repair: the shards check of this
        // image, and the pieces the differing range lies in.
        BaseDifference diff{rel,
                            "the secondary's copy of " + rel + " differs from the primary's at bytes " +
                                std::to_string(offset) + "+" + std::to_string(chunk),
                            locateDifferences(vm, d, rel, false), false};
        addOffsets(diff, {offset, offset + chunk - 1});
        return diff;
      }
      compared += a.bytes;
    }
    report["verifiedBytes"] = Json::UInt64(compared);
    return std::nullopt;
  }
  // "shards": 64 KiB in every 4 MiB, one call per side; every shard
  // (gluster's smallest is 4 MiB) is read somewhere, and the strides that
  // differ are located. ("full" reads every stride whole: compareEveryStride.)
  q.sampleStride = kStride;
  q.sampleLength = kStrideSample;
  const auto [a, b] = onBothSides(vm, d, q, checksum);
  report["verifiedBytes"] = Json::UInt64(a.bytes);
  if (sameContent(a, b)) return std::nullopt;
  BaseDifference diff{rel, "", differingStrides(a, b), false};
  diff.why = "the secondary's copy of " + rel + " differs from the primary's (" + api::enumName(options_.verify) +
             " check, " + std::to_string(a.bytes) + " bytes compared" +
             (diff.offsets.empty() ? std::string()
                                   : ", in " + std::to_string(diff.offsets.size()) + " of " +
                                         std::to_string(a.rangeSums ? a.rangeSums->size() : 0) + " strides") +
             ")";
  return diff;
}

// The strides of a frozen image that differ between the sites, to resend
// only those pieces: sampled (the "shards" check) for a base, every byte
// of a delta.
std::vector<std::uint64_t> Cycle::locateDifferences(const Vm& vm, const Disk& d, const std::string& rel, bool delta) {
  const auto [a, b] = strideSums(vm, d, rel, delta ? kStride : kStrideSample);
  return differingStrides(a, b);
}

std::pair<api::ChecksumResult, api::ChecksumResult> Cycle::strideSums(const Vm& vm, const Disk& d,
                                                                      const std::string& rel, std::uint64_t length) {
  api::ChecksumParams q;
  q.path = rel;
  q.sampleStride = kStride;
  q.sampleLength = length;
  return onBothSides(vm, d, q, [](AgentApi& agent, const api::ChecksumParams& p) { return agent.fileChecksum(p); });
}

std::vector<BaseDifference> Cycle::compareBases(const std::set<std::string>& only) {
  std::vector<BaseDifference> differing;
  for (auto& vm : vms_) {
    for (const auto& d : vm.disks) {
      Json::Value& report = vm.report["secondary"][d.drive];
      if (only.empty() || only.count(d.baseRel)) {
        if (auto diff = compareImage(vm, d, d.baseRel, false, report["base"])) differing.push_back(*diff);
      }
      // The older deltas too: a later sync may rewrite them (a commit
      // changes the backing name in a delta's header).
      for (size_t i = 0; i < d.olderDeltas.size(); ++i) {
        const std::string& rel = d.olderDeltas[i].rel;
        if (!only.empty() && !only.count(rel)) continue;
        if (auto diff = compareImage(vm, d, rel, true, report["olderDeltas"][Json::ArrayIndex(i)])) {
          differing.push_back(*diff);
        }
      }
      if (!d.deltaRel.empty() && (only.empty() || only.count(d.deltaRel))) {
        if (auto diff = compareImage(vm, d, d.deltaRel, true, report["delta"])) differing.push_back(*diff);
      }
    }
  }
  return differing;
}

template <typename Work>
auto Cycle::settling(const char* step, const std::string& again,
                     const std::function<bool(const std::exception&)>& transient, Work&& work) -> decltype(work()) {
  for (int attempt = 1;; ++attempt) {
    try {
      return work();
    } catch (const std::exception& e) {
      if (!transient(e) || attempt >= options_.settleAttempts) throw;
      progress_(step, describe(e) + "; " + again + " in " + std::to_string(options_.settleWait.count() / 1000) + " s",
                true);
      sleep_(options_.settleWait);
    }
  }
}

std::vector<BaseDifference> Cycle::compareBasesSettled(const std::set<std::string>& only) {
  // Seen after a resync: the secondary answered "no such file" for a
  // shard for well over 30 s, then read fine.
  return settling(
      "verify", "reading again", [](const std::exception&) { return true; }, [&] { return compareBases(only); });
}

std::set<std::string> Cycle::markForResync(const std::vector<BaseDifference>& differing, StepReport& s) {
  std::set<std::string> marked;
  for (const auto& diff : differing) {
    progress_("verify", diff.why + "; marking it for resync", true);
    for (const auto& vm : vms_) {
      for (const auto& d : vm.disks) {
        const auto& older = d.olderDeltas;
        const bool ofThisDisk =
            d.baseRel == diff.base || d.deltaRel == diff.base ||
            std::any_of(older.begin(), older.end(), [&](const Image& i) { return i.rel == diff.base; });
        if (!ofThisDisk || marked.count(diff.base)) continue;
        // Only the pieces that differ, when the check located them.
        const api::ResyncResult r =
            agents_[vm.host]->geoRepResyncFile({{d.server}, options_.volume, diff.base, diff.offsets});
        s["resync"][diff.base] = Json::UInt64(r.marked);
        marked.insert(diff.base);
      }
    }
  }
  return marked;
}

void Cycle::verifyBases() {
  auto s = std::make_unique<StepReport>(step("verify"));
  (*s)["mode"] = api::enumName(options_.verify);
  try {
    auto differing = compareBasesSettled({});
    if (differing.empty()) return s->ok();
    (*s)["differed"] = describeAll(differing);
    for (const auto& diff : differing) {
      for (std::uint64_t offset : diff.offsets) (*s)["differedAt"][diff.base].append(Json::UInt64(offset));
    }
    // A piece held under another id is repaired by default: gluster's own
    // conflict resolution replaces it when it is marked for resync.
    // Content that differs under the right ids is resent too (unless
    // --no-repair, even beside such a piece), the pieces where it differs
    // located: seen after a brick of the primary was down while its VMs
    // wrote (README, "Known limits").
    const bool repairable = std::all_of(differing.begin(), differing.end(), [&](const BaseDifference& diff) {
      return (diff.identity && !diff.contentToo) || (options_.repair && !diff.offsets.empty());
    });
    if (!repairable) throw std::runtime_error(describeAll(differing));
    // Geo-replication reported the checkpoint complete, yet a copy differs.
    // It does not resend such data by itself: mark what differs for resync
    // on the primary, sync once more, compare again.
    const std::set<std::string> repair = markForResync(differing, *s);
    s->ok();
    georepSync("georep-repair");
    s = std::make_unique<StepReport>(step("verify-repair"));
    (*s)["mode"] = api::enumName(options_.verify);
    differing = compareBasesSettled(repair);
    if (!differing.empty()) throw std::runtime_error(describeAll(differing) + ", even after a resync");
    for (const auto& base : repair) (*s)["repaired"].append(base);
  } catch (const std::exception& e) {
    s->failed(describe(e));
    throw std::runtime_error("verification of the secondary failed: " + describe(e));
  }
  s->ok();
}

void Cycle::deleteOverlays() {
  StepReport s = step("overlay-delete");
  if (options_.layout == Layout::Delta) {
    // The new overlays are the next points' deltas, still being written:
    // geo-replication must find them on the secondary to complete them.
    s["note"] = "delta layout: the overlays stay, each is the next point's delta";
    s.ok();
    return;
  }
  size_t done = 0, total = 0;
  for (const auto& vm : vms_) total += vm.disks.size();
  try {
    for (auto& vm : vms_) {
      for (const auto& d : vm.disks) {
        api::OverlayDeleteParams params;
        params.volfileServers = {options_.secondaryHost};
        params.volumeName = options_.secondaryVolume;
        params.paths = {d.topRel};
        params.expectedBacking = d.frozenRel();
        const api::OverlayDeleteResult out = agents_[vm.host]->overlayDelete(params);
        if (!out.results.empty()) vm.report["secondary"][d.drive]["overlay"] = api::encode(out.results.front());
        progress_("overlay delete", std::to_string(++done) + "/" + std::to_string(total), false);
      }
    }
  } catch (const std::exception& e) {
    s.failed(describe(e));
    throw std::runtime_error("overlay deletion on the secondary failed: " + describe(e));
  }
  progress_("overlay delete", std::to_string(done) + "/" + std::to_string(total), true);
  s.ok();
}

// The point is whole on the secondary now (the checkpoint after its
// snapshot completed, the copies verified), and nothing of the next point
// has left the primary yet: the secondary records it (.gdr/points/ID.seal).
// A recovery trusts sealed points only; sampled checksums alone cannot tell
// a delta still being rewritten in place from a finished one.
void Cycle::sealPoint() {
  StepReport s = step("seal");
  if (!report_.isMember("point")) {  // no VM, no point
    s["note"] = "no recovery point";
    s.ok();
    return;
  }
  const std::string id = report_["point"]["id"].asString();
  const api::PointCheckParams params{{options_.secondaryHost}, options_.secondaryVolume, id};
  try {
    // A file that differs stays so; a read error may be the secondary settling.
    auto settles = [](const std::exception& e) {
      const auto* c = dynamic_cast<const client::ClientError*>(&e);
      return c && c->code() != int(Code::PointIncomplete);
    };
    const api::PointSealResult r = settling("seal", "trying again", settles,
                                            [&] { return agents_[vms_.front().host]->recoveryPointSeal(params); });
    report_["point"]["seal"] = r.seal.path;
    s["bytesRead"] = Json::UInt64(r.check.bytesRead);
    for (const auto& old : r.removed) s["removedSeals"].append(old);
  } catch (const std::exception& e) {
    s.failed(describe(e));
    throw std::runtime_error("sealing the recovery point on the secondary failed: " + describe(e));
  }
  s.ok();
}

bool Cycle::mergeAll(bool pointShipped) {
  // Delta layout, once the point is on the secondary: commit the oldest
  // deltas into the base, all but the newest keepPoints-1 (the points kept
  // apart); the VM stays on the new overlay. Otherwise merge the new
  // overlay back into the image it froze.
  const bool commitDeltas = pointShipped && options_.layout == Layout::Delta;
  const char* const name = commitDeltas ? "commit" : "merge";
  StepReport s = step(name);
  std::atomic<size_t> done{0};
  size_t total = 0;
  for (const auto& vm : vms_) total += vm.snapshotted ? vm.disks.size() : 0;
  std::vector<std::future<void>> work;
  for (auto& vm : vms_) {
    if (!vm.snapshotted) continue;
    for (const auto& d : vm.disks) {
      if (commitDeltas && d.commitsDue(options_.keepPoints).empty()) {
        // The new overlay becomes the next point's delta; the deltas under
        // it stay apart (or, the first cycle in this layout, there are none).
        const size_t kept = d.frozenDeltas().size();
        std::lock_guard<std::mutex> lock(mutex_);
        vm.report["merge"][d.drive]["status"] = "ok";
        vm.report["merge"][d.drive]["note"] = kept == 0 ? "the new overlay stays: the next point's delta"
                                                        : "the new overlay stays, over " + std::to_string(kept) +
                                                              " deltas kept apart for the points kept";
        ++done;
        continue;
      }
      work.push_back(std::async(std::launch::async, [&, d] {
        Json::Value r = mergeDisk(vm, d, commitDeltas);
        std::lock_guard<std::mutex> lock(mutex_);
        vm.report["merge"][d.drive] = r;
        progress_(name, std::to_string(++done) + "/" + std::to_string(total), false);
      }));
    }
  }
  for (auto& w : work) w.get();
  std::string error;
  for (const auto& vm : vms_) {
    for (const auto& drive : vm.report["merge"].getMemberNames()) {
      if (vm.report["merge"][drive]["status"] != "ok") {
        error +=
            (error.empty() ? "" : "; ") + vm.name + " " + drive + ": " + vm.report["merge"][drive]["error"].asString();
      }
    }
  }
  progress_(name, std::to_string(done) + "/" + std::to_string(total), true);
  if (!error.empty()) {
    s.failed(error);
    return false;
  }
  s.ok();
  return true;
}

Json::Value Cycle::mergeDisk(const Vm& vm, const Disk& d, bool commitDeltas) {
  const auto t = Clock::now();
  Json::Value r;
  try {
    AgentApi& agent = *agents_[vm.host];
    // One merge, or the commits oldest first (each right above the base).
    const std::vector<Image> tops =
        commitDeltas ? d.commitsDue(options_.keepPoints) : std::vector<Image>{{d.topPath, d.topRel}};
    const std::vector<Image> frozen = d.frozenDeltas();  // commits are its oldest ones, in order
    for (size_t i = 0; i < tops.size(); ++i) {
      const Image& top = tops[i];
      api::MergeParams params;
      params.vmId = vm.id;
      params.drive = d.drive;
      params.topVolume = top.path;
      params.baseVolume = commitDeltas ? d.basePath : d.frozenPath();
      // A committed delta stays until the next point is on the secondary.
      params.deleteTop = !commitDeltas;
      if (options_.pacedMerges) {
        // The image the VM wrote after this one; the overlay it still writes
        // has none.
        const std::string next = !commitDeltas ? "" : i + 1 < frozen.size() ? frozen[i + 1].path : d.topPath;
        paceMerge(agent, d, top, next, params, r);
      } else if (options_.mergeBandwidth) {
        params.bandwidth = options_.mergeBandwidth;
      }
      const std::string jobId = agent.startMerge(params);
      r["jobId"] = jobId;
      if (commitDeltas) r["committed"].append(top.rel);
      const api::Job job = agent.waitJob(
          jobId, [](const api::Job&) {}, std::chrono::hours(6));
      r["status"] = job.done() ? "ok" : "failed";
      if (!job.done()) {
        r["error"] = describe(job);
        break;
      }
    }
  } catch (const std::exception& e) {
    r["status"] = "failed";
    r["error"] = describe(e);
  }
  r["duration"] = secondsSince(t);
  return r;
}

// --merge-bandwidth auto: the merge of `top` paced to kMergePaceFactor times
// the rate its VM wrote it, from its size on the volume and the stamps in
// the names of it and of `next`, the image the VM wrote after it (empty:
// the VM writes `top` until now). Unlimited when either is unknown or the
// image is small; the report's `pace` says which, and why.
void Cycle::paceMerge(AgentApi& agent, const Disk& d, const Image& top, const std::string& next,
                      api::MergeParams& params, Json::Value& r) {
  Json::Value pace;
  pace["image"] = top.rel;
  try {
    const std::optional<std::int64_t> from = overlayStamp(top.path);
    const std::optional<std::int64_t> until =
        next.empty() ? std::optional<std::int64_t>(nowSeconds()) : overlayStamp(next);
    if (!from || !until) throw std::runtime_error("no time in the name of " + (from ? next : top.path));
    const api::ImageInfoResult info = agent.imageInfo({{d.server}, options_.volume, top.rel});
    const std::optional<unsigned> bandwidth = pacedMergeBandwidth(info.actualSize, double(*until - *from));
    pace["bytes"] = Json::UInt64(info.actualSize);
    pace["writingSeconds"] = Json::Int64(*until - *from);
    if (bandwidth) {
      params.bandwidth = *bandwidth;
      pace["bandwidth"] = Json::UInt64(*bandwidth);
    } else {
      pace["bandwidth"] = "unlimited";
      pace["why"] = "an empty image: merged at full speed";
    }
  } catch (const std::exception& e) {
    pace["bandwidth"] = "unlimited";
    pace["why"] = describe(e);
  }
  r["pace"].append(pace);
}

void Cycle::journal(const std::string& stepName) {
  if (!options_.journal) return;
  Json::Value j;
  j["flowId"] = options_.flowId;
  j["startTime"] = report_["startTime"];
  j["volume"] = options_.volume;
  j["step"] = stepName;
  j["vms"] = Json::Value(Json::arrayValue);
  for (const auto& vm : vms_) {
    Json::Value v;
    v["host"] = agents_[vm.host]->endpoint();
    v["vmId"] = vm.id;
    v["name"] = vm.name;
    v["disks"] = Json::Value(Json::arrayValue);
    for (const auto& d : vm.disks) {
      Json::Value disk;
      disk["drive"] = d.drive;
      disk["base"] = d.basePath;
      for (const auto& older : d.olderDeltas) disk["olderDeltas"].append(older.path);
      if (!d.deltaPath.empty()) disk["delta"] = d.deltaPath;
      // Delta layout: how many of the frozen deltas the commit step takes.
      if (options_.layout == Layout::Delta) disk["commits"] = Json::UInt64(d.commitsDue(options_.keepPoints).size());
      disk["top"] = d.topPath;
      v["disks"].append(disk);
    }
    j["vms"].append(v);
  }
  options_.journal->save(j);
}

bool Cycle::adoptDisk(AgentApi& agent, const std::string& vmId, const Json::Value& journaled, bool shipped) {
  const std::string drive = journaled["drive"].asString(), base = journaled["base"].asString();
  const std::string delta = journaled.get("delta", "").asString();
  std::vector<std::string> frozen;  // the deltas over the base, oldest first
  for (const auto& older : journaled["olderDeltas"]) frozen.push_back(older.asString());
  if (!delta.empty()) frozen.push_back(delta);
  // A journal of one delta and no count (written before deltas were kept
  // apart) commits that delta.
  const size_t commits = std::min<size_t>(frozen.size(), journaled.get("commits", 1).asUInt64());
  bool merged = false;
  // A block job on the drive (the interrupted cycle's own merge, still
  // running on the agent) is waited for, up to six hours.
  for (int polls = 0;; ++polls) {
    const api::VmList list = agent.getVMList();
    const auto vm =
        std::find_if(list.vms.begin(), list.vms.end(), [&](const api::VmInfo& v) { return v.vmId == vmId; });
    if (vm == list.vms.end()) {
      throw std::runtime_error("not running on " + agent.endpoint() +
                               " any more; its definition may name an overlay: check it before it starts again");
    }
    const auto disk =
        std::find_if(vm->disks.begin(), vm->disks.end(), [&](const api::VmDisk& d) { return d.target == drive; });
    if (disk == vm->disks.end()) throw std::runtime_error("it has no drive " + drive + " any more");
    if (disk->blockJob) {
      if (polls >= 10800) throw std::runtime_error("a block job on " + drive + " has run for six hours");
      sleep_(std::chrono::seconds(2));
      continue;
    }
    const std::vector<std::string>& chain = disk->chain;
    api::MergeParams params;
    params.vmId = vmId;
    params.drive = drive;
    if (options_.mergeBandwidth) params.bandwidth = options_.mergeBandwidth;
    if (shipped) {
      // The point reached the secondary (delta layout): finish committing
      // the oldest deltas, those still there; the VM stays on its overlay.
      // Each is committed right above the base, oldest first.
      size_t next = 0;
      while (next < commits && std::find(chain.begin(), chain.end(), frozen[next]) == chain.end()) ++next;
      if (next == commits) return merged;
      if (chain.size() < 3 || chain.back() != base || chain[chain.size() - 2] != frozen[next]) {
        throw std::runtime_error("its chain does not hold " + frozen[next] + " right above " + base +
                                 " under an overlay; left for an operator");
      }
      params.topVolume = frozen[next];
      params.baseVolume = base;
      params.deleteTop = false;
    } else {
      // Never snapshotted, or already merged back: the VM writes the image
      // the snapshot froze, over the deltas under it and the base.
      const std::string& under = delta.empty() ? base : delta;
      if (chain.front() == under) return false;
      if (chain.size() != frozen.size() + 2 || chain[1] != under || chain.back() != base) {
        throw std::runtime_error("its chain is not " + under + " under one overlay; left for an operator");
      }
      params.topVolume = chain[0];
      params.baseVolume = under;
      params.deleteTop = true;
    }
    const api::Job job = agent.waitJob(
        agent.startMerge(params), [](const api::Job&) {}, std::chrono::hours(6));
    if (!job.done()) throw std::runtime_error("merging " + *params.topVolume + ": " + describe(job));
    if (!shipped) return true;
    // Read the chain again: the next commit, if any.
    merged = true;
  }
}

bool Cycle::adopt(const Json::Value& old) {
  StepReport s = step("adopt");
  Json::Value interrupted;
  interrupted["flowId"] = old["flowId"];
  interrupted["startTime"] = old["startTime"];
  interrupted["step"] = old["step"];
  report_["interrupted"] = interrupted;
  s["interruptedFlowId"] = old["flowId"];
  std::string error;
  size_t merged = 0;
  for (const auto& entry : old["vms"]) {
    const std::string name = entry["name"].asString(), host = entry["host"].asString();
    const auto agent = std::find_if(agents_.begin(), agents_.end(), [&](AgentApi* a) { return a->endpoint() == host; });
    for (const auto& disk : entry["disks"]) {
      try {
        if (agent == agents_.end()) throw std::runtime_error("its host " + host + " is not in --hosts");
        if (adoptDisk(**agent, entry["vmId"].asString(), disk, old["step"].asString() == "commit")) ++merged;
      } catch (const std::exception& e) {
        error += (error.empty() ? "" : "; ") + name + " " + disk["drive"].asString() + ": " + describe(e);
      }
    }
  }
  s["merged"] = Json::UInt64(merged);
  progress_("adopt",
            std::to_string(merged) + " overlays of the interrupted cycle " + old["flowId"].asString() + " merged back",
            true);
  if (!error.empty()) {
    s.failed(error);
    return false;
  }
  s.ok();
  return true;
}

void Cycle::addPlan() {
  report_["dryRun"] = true;
  Json::Value plan(Json::arrayValue);
  for (const auto& vm : vms_) {
    for (const auto& d : vm.disks) {
      if (options_.layout == Layout::Delta) {
        const std::vector<Image> due = d.commitsDue(options_.keepPoints);
        std::string then = "keep the new overlay as the next delta";
        for (size_t i = 0; i < due.size(); ++i) then += (i ? ", " : ", commit ") + due[i].rel;
        if (!due.empty()) then += " into " + d.baseRel;
        plan.append("snapshot " + vm.name + " " + d.drive + " (" + d.frozenRel() + "), geo-replicate, " + then);
        continue;
      }
      plan.append("snapshot " + vm.name + " " + d.drive + " (" + d.baseRel +
                  "), geo-replicate, delete its overlay on " + options_.secondaryHost +
                  "::" + options_.secondaryVolume + ", merge it back");
    }
  }
  report_["plan"] = plan;
}

Json::Value Cycle::vmReports() const {
  Json::Value out(Json::arrayValue);
  for (const auto& vm : vms_) {
    Json::Value v = vm.report;
    v["vmId"] = vm.id;
    v["name"] = vm.name;
    v["host"] = agents_[vm.host]->endpoint();
    for (const auto& d : vm.disks) {
      Json::Value disk;
      disk["drive"] = d.drive;
      disk["base"] = d.baseRel;
      if (!d.deltaRel.empty()) disk["delta"] = d.deltaRel;
      disk["overlay"] = d.topRel;
      v["disks"].append(disk);
    }
    out.append(v);
  }
  return out;
}

bool Cycle::finishInterrupted() {
  const std::optional<Json::Value> unfinished = options_.journal ? options_.journal->load() : std::nullopt;
  if (!unfinished) return true;
  if (options_.dryRun) {
    report_["interrupted"]["flowId"] = (*unfinished)["flowId"];
    report_["interrupted"]["step"] = (*unfinished)["step"];
    return true;
  }
  if (!adopt(*unfinished)) return false;
  options_.journal->clear();
  return true;
}

void Cycle::protectAndMergeBack(Outcome& outcome, std::string& alert) {
  bool pointShipped = false;
  try {
    journal("snapshot");  // before anything changes: no journal, no snapshot
    snapshotAll();
    saveDefinitions();
    saveManifest();
    try {
      journal("georep");
    } catch (const std::exception& e) {
      report_["warnings"].append(std::string("the cycle journal is not up to date: ") + e.what());
    }
    georepSync();
    // Before the overlays go: a repair needs one more sync, which would
    // bring them back.
    verifyBases();
    deleteOverlays();
    sealPoint();
    pointShipped = true;
    if (options_.layout == Layout::Delta) journal("commit");
  } catch (const std::exception& e) {
    alert = e.what();
    outcome = kFailedMergedBack;
    pointShipped = false;
  }
  // Whatever happened, no VM stays on a growing chain.
  if (!mergeAll(pointShipped)) {
    outcome = kMergeBackFailed;
    alert = (alert.empty() ? "" : alert + "; ") +
            (pointShipped && options_.layout == Layout::Delta
                 ? "committing the deltas failed: VMs are left on a base, a delta and an overlay"
                 : "merging back failed: VMs are left on overlays");
    return;
  }
  if (!options_.journal) return;
  try {
    options_.journal->clear();  // every VM is back on one image
  } catch (const std::exception& e) {
    report_["warnings"].append(std::string("the cycle journal stays: ") + e.what());
  }
}

Json::Value Cycle::run() {
  const auto started = Clock::now();
  report_["startTime"] = Json::Int64(nowSeconds());
  report_["flowId"] = options_.flowId;
  report_["volume"] = options_.volume;
  report_["secondary"] = options_.secondaryHost + "::" + options_.secondaryVolume;
  report_["steps"] = Json::Value(Json::arrayValue);
  Outcome outcome = kSuccess;
  std::string alert;
  bool adopted = true;
  try {
    adopted = finishInterrupted();
    if (!adopted) throw std::runtime_error("an interrupted cycle left VMs on overlays; no new cycle starts");
    discover();
    if (options_.dryRun) {
      addPlan();
    } else {
      protectAndMergeBack(outcome, alert);
    }
  } catch (const std::exception& e) {
    // Failed before any snapshot (discovery), or could not finish an
    // interrupted cycle: this run changed nothing more.
    alert = describe(e);
    outcome = adopted ? kFailedUnchanged : kMergeBackFailed;
  }
  // Older points may hold the only copy of an unreachable host's VMs: a
  // partial cycle prunes none.
  if (outcome == kSuccess) {
    if (const auto lost = lostHostsAlert()) {
      outcome = kPartial;
      alert = *lost;
    }
  }
  if (outcome == kSuccess && !options_.dryRun && !vms_.empty()) prunePoints();
  const bool anySnapshot = std::any_of(vms_.begin(), vms_.end(), [](const Vm& vm) { return vm.snapshotted; });
  if (outcome == kFailedMergedBack && !anySnapshot) outcome = kFailedUnchanged;

  report_["vms"] = vmReports();
  report_["outcome"] = outcome;
  report_["status"] = outcome == kSuccess ? "success" : outcome == kPartial ? "partial" : "failed";
  if (!alert.empty()) report_["alert"] = alert;
  report_["endTime"] = Json::Int64(nowSeconds());
  report_["duration"] = secondsSince(started);
  return report_;
}

}  // namespace

Json::Value runCycle(const CycleOptions& options, const std::vector<AgentApi*>& agents, const ProgressFn& progress,
                     const SleepFn& sleep) {
  const SleepFn realSleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  Cycle cycle(options, agents, progress, sleep ? sleep : realSleep);
  return cycle.run();
}

SessionAfterSync sessionAfterSync(const CycleOptions& options) {
  // Stopped unless asked: with the session kept, the two-site lab's drill
  // test saw a sealed point's files change on the secondary afterwards.
  return options.session.value_or(SessionAfterSync::Stop);
}

std::chrono::seconds parseDuration(const std::string& text) {
  if (text.empty()) throw std::invalid_argument("empty duration");
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("bad duration '" + text + "'");
  }
  const std::string unit = text.substr(used);
  long long factor = 0;
  if (unit.empty() || unit == "s") factor = 1;
  if (unit == "m") factor = 60;
  if (unit == "h") factor = 3600;
  if (unit == "d") factor = 86400;
  // At most ten years: a figure beyond is a typo, and would overflow.
  if (factor == 0 || n <= 0 || n > 10LL * 365 * 86400 / factor) {
    throw std::invalid_argument("bad duration '" + text + "' (e.g. 90s, 15m, 1h)");
  }
  return std::chrono::seconds(n * factor);
}

}  // namespace gdr::sync

#include "client/dr_cycle.h"

#include <algorithm>
#include <ctime>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "core/clock.h"
#include "core/json_util.h"
#include "core/uuid.h"
#include "client/shard_identity.h"

namespace gdr::sync {

namespace {

using Clock = std::chrono::steady_clock;
using client::ClientError;
using client::RpcClient;

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One disk of one VM taking part in the cycle.
struct Disk {
  std::string drive;
  std::string basePath, baseRel;  // host path and volume-relative path
  std::string topPath, topRel;    // the overlay, once snapshotted
  std::string server;             // a volfile server of the primary
};

struct Vm {
  size_t host = 0;
  std::string id, name;
  std::vector<Disk> disks;
  bool snapshotted = false;
  Json::Value report{Json::objectValue};
};

class Cycle {
 public:
  Cycle(const CycleOptions& options, const ProgressFn& progress) : options_(options), progress_(progress) {}

  Json::Value run();

 private:
  RpcClient client(size_t host) const {
    return RpcClient(client::makeTransport(options_.hosts[host], options_.tls, options_.callTimeout));
  }
  Json::Value call(size_t host, const std::string& method, const Json::Value& params) const {
    return client(host).call(method, params, flowId_);
  }
  Json::Value& step(const std::string& name);
  void finishStep(Json::Value& s, Clock::time_point started, const std::string& error = {});
  Json::Value waitJob(size_t host, const std::string& jobId, const std::function<void(const Json::Value&)>& onPoll,
                      std::chrono::seconds timeout);

  void discover();
  void snapshotAll();
  void georepSync(const std::string& stepName = "georep");
  void deleteOverlays();
  // `method` with `params` on the primary volume, then on the secondary.
  std::pair<Json::Value, Json::Value> onBothSides(const Vm& vm, const Disk& d, const std::string& method,
                                                  Json::Value params) const;
  // A copy that differs: why, and (sampled) where: the offsets of the
  // sampled ranges that differ; empty when it cannot be located.
  struct Difference {
    std::string base, why;
    std::vector<std::uint64_t> offsets;
    // The secondary holds some pieces under other gluster ids (or not at
    // all): a known geo-replication failure that a resync repairs.
    bool identity = false;
  };
  // Compares each base (all, or those named in `only`) on both sides.
  // Throws on I/O errors.
  std::vector<Difference> compareBases(const std::set<std::string>& only);
  void verifyBases();
  bool mergeAll();  // false when some VM is left on an overlay

  const CycleOptions& options_;
  const ProgressFn& progress_;
  std::string flowId_ = "gdr-sync-" + newUuid().substr(0, 8);
  Json::Value report_;
  std::vector<Vm> vms_;
  std::mutex mutex_;
};

std::string describe(const std::exception& e) {
  if (const auto* c = dynamic_cast<const ClientError*>(&e)) {
    if (c->kind() == ClientError::Kind::Verb) return std::to_string(c->code()) + ": " + c->what();
  }
  return e.what();
}

std::string clockTime(std::int64_t epoch) {
  char buf[32];
  std::tm tm{};
  const std::time_t t = epoch;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

Json::Value& Cycle::step(const std::string& name) {
  Json::Value s;
  s["step"] = name;
  s["status"] = "running";
  report_["steps"].append(s);
  return report_["steps"][report_["steps"].size() - 1];
}

void Cycle::finishStep(Json::Value& s, Clock::time_point started, const std::string& error) {
  s["duration"] = secondsSince(started);
  s["status"] = error.empty() ? "ok" : "failed";
  if (!error.empty()) s["error"] = error;
}

Json::Value Cycle::waitJob(size_t host, const std::string& jobId,
                           const std::function<void(const Json::Value&)>& onPoll, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  RpcClient rpc = client(host);
  int connectionErrors = 0;
  for (;;) {
    Json::Value jobs;
    try {
      Json::Value params;
      params["jobIds"].append(jobId);
      jobs = rpc.call("Host.getJobs", params, flowId_)["jobs"];
      connectionErrors = 0;
    } catch (const ClientError& e) {
      // The agent may be restarting: its jobs survive, keep asking.
      if (e.kind() != ClientError::Kind::Connection || ++connectionErrors > 120) throw;
      rpc = client(host);
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (!jobs.isMember(jobId)) throw std::runtime_error("job " + jobId + " vanished from its agent");
    const Json::Value job = jobs[jobId];
    onPoll(job);
    const std::string state = job["state"].asString();
    if (state == "DONE" || state == "FAILED" || state == "ABORTED") return job;
    if (Clock::now() > deadline) throw std::runtime_error("job " + jobId + " still " + state + " at the deadline");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

void Cycle::discover() {
  const auto started = Clock::now();
  Json::Value& s = step("discover");
  for (size_t h = 0; h < options_.hosts.size(); ++h) {
    const Json::Value list = call(h, "Host.getVMList", Json::Value(Json::objectValue));
    for (const auto& vm : list["vms"]) {
      Vm v;
      v.host = h;
      v.id = vm["vmId"].asString();
      v.name = vm["name"].asString();
      bool elsewhere = false;
      for (const auto& disk : vm["disks"]) {
        if (disk["device"] != "disk") continue;
        const Json::Value& g = disk["gluster"];
        if (!g.isObject() || g["volume"] != options_.volume) {
          elsewhere = true;
          continue;
        }
        if (disk["chain"].size() != 1 || disk["blockJob"].asBool()) {
          throw std::runtime_error("VM " + v.name + " drive " + disk["target"].asString() +
                                   " is not on a single image (a previous cycle left an overlay, or a block job "
                                   "runs): resolve it first");
        }
        Disk d;
        d.drive = disk["target"].asString();
        d.basePath = disk["path"].asString();
        d.baseRel = g["path"].asString();
        d.server = g["server"].asString();
        v.disks.push_back(d);
      }
      if (v.disks.empty()) continue;
      if (elsewhere) v.report["note"] = "some disks are not on " + options_.volume + " and are not protected";
      vms_.push_back(std::move(v));
    }
  }
  s["vms"] = Json::UInt64(vms_.size());
  if (vms_.empty()) s["note"] = "no running VM has a disk on " + options_.volume;
  progress_("discover", std::to_string(vms_.size()) + " VMs on " + options_.volume, true);
  finishStep(s, started);
}

void Cycle::snapshotAll() {
  const auto started = Clock::now();
  Json::Value& s = step("snapshot");
  std::atomic<size_t> done{0};
  std::vector<std::future<void>> work;
  for (auto& vm : vms_) {
    work.push_back(std::async(std::launch::async, [&] {
      const auto t = Clock::now();
      Json::Value params;
      params["vmID"] = vm.id;
      for (const auto& d : vm.disks) {
        Json::Value drive;
        drive["name"] = d.drive;
        params["snapDrives"].append(drive);
      }
      Json::Value r;
      try {
        const Json::Value out = call(vm.host, "VM.snapshot", params);
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& disk : out["disks"]) {
          for (auto& d : vm.disks) {
            if (d.drive != disk["name"].asString()) continue;
            d.topPath = disk["top"].asString();
            // The overlay sits in the base's directory tree on the same volume.
            const std::string baseDir = d.basePath.substr(0, d.basePath.rfind('/') + 1);
            const std::string relDir = d.baseRel.substr(0, d.baseRel.rfind('/') + 1);
            d.topRel = relDir + d.topPath.substr(baseDir.size());
          }
        }
        vm.snapshotted = true;
        r["status"] = "ok";
        r["quiesced"] = out["quiesced"];
        if (!report_.isMember("recoveryPoint") || out["snapshotTime"].asInt64() < report_["recoveryPoint"].asInt64()) {
          report_["recoveryPoint"] = out["snapshotTime"];
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
    if (!vm.snapshotted) error += (error.empty() ? "" : "; ") + vm.name + ": " + vm.report["snapshot"]["error"].asString();
  }
  progress_("snapshot", std::to_string(done) + "/" + std::to_string(vms_.size()) + " VMs", true);
  finishStep(s, started, error);
  if (!error.empty()) throw std::runtime_error("snapshot failed: " + error);
}

void Cycle::georepSync(const std::string& stepName) {
  const auto started = Clock::now();
  Json::Value& s = step(stepName);
  try {
    Json::Value params;
    params["volumeName"] = options_.volume;
    params["remoteHost"] = options_.secondaryHost;
    params["remoteVolumeName"] = options_.secondaryVolume;
    params["timeout"] = Json::Int64(options_.georepTimeout.count());
    const std::string jobId = call(0, "GlusterVolume.geoRepSync", params)["jobId"].asString();
    s["jobId"] = jobId;
    const Json::Value job = waitJob(
        0, jobId,
        [&](const Json::Value& j) {
          std::string detail = j["workersCompleted"].asString() + "/" + j["workersTotal"].asString() + " workers";
          if (j["lastSynced"].isIntegral()) detail += ", last synced " + clockTime(j["lastSynced"].asInt64());
          progress_("geo-rep", detail, false);
        },
        options_.georepTimeout + std::chrono::seconds(60));
    s["checkpointTime"] = job["checkpointTime"];
    for (const auto& warning : job["warnings"]) {
      Json::Value& all = report_["warnings"];
      if (std::find(all.begin(), all.end(), warning) == all.end()) all.append(warning);
    }
    progress_("geo-rep", job["state"].asString(), true);
    if (job["state"] != "DONE") {
      throw std::runtime_error(job["error"].isObject()
                                   ? job["error"]["code"].asString() + ": " + job["error"]["message"].asString()
                                   : "ended " + job["state"].asString());
    }
  } catch (const std::exception& e) {
    finishStep(s, started, describe(e));
    throw std::runtime_error("geo-replication failed: " + describe(e));
  }
  finishStep(s, started);
}

void Cycle::deleteOverlays() {
  const auto started = Clock::now();
  Json::Value& s = step("overlay-delete");
  size_t done = 0, total = 0;
  for (const auto& vm : vms_) total += vm.disks.size();
  try {
    for (auto& vm : vms_) {
      for (const auto& d : vm.disks) {
        Json::Value params;
        params["volfileServers"].append(options_.secondaryHost);
        params["volumeName"] = options_.secondaryVolume;
        params["paths"].append(d.topRel);
        params["expectedBacking"] = d.baseRel;
        const Json::Value out = call(vm.host, "GlusterVolume.overlayDelete", params);
        vm.report["secondary"][d.drive]["overlay"] = out["results"][0];
        progress_("overlay delete", std::to_string(++done) + "/" + std::to_string(total), false);
      }
    }
  } catch (const std::exception& e) {
    finishStep(s, started, describe(e));
    throw std::runtime_error("overlay deletion on the secondary failed: " + describe(e));
  }
  progress_("overlay delete", std::to_string(done) + "/" + std::to_string(total), true);
  finishStep(s, started);
}

std::pair<Json::Value, Json::Value> Cycle::onBothSides(const Vm& vm, const Disk& d, const std::string& method,
                                                       Json::Value params) const {
  params["volfileServers"] = Json::Value(Json::arrayValue);
  params["volfileServers"].append(d.server);
  params["volumeName"] = options_.volume;
  Json::Value primary;
  try {
    primary = call(vm.host, method, params);
  } catch (const std::exception& e) {
    throw std::runtime_error("on the primary: " + describe(e));
  }
  params["volfileServers"] = Json::Value(Json::arrayValue);
  params["volfileServers"].append(options_.secondaryHost);
  params["volumeName"] = options_.secondaryVolume;
  try {
    return {primary, call(vm.host, method, params)};
  } catch (const std::exception& e) {
    throw std::runtime_error("on the secondary: " + describe(e));
  }
}

std::vector<Cycle::Difference> Cycle::compareBases(const std::set<std::string>& only) {
  std::vector<Difference> differing;
  for (auto& vm : vms_) {
    for (const auto& d : vm.disks) {
      if (!only.empty() && !only.count(d.baseRel)) continue;
      Json::Value params;
      params["path"] = d.baseRel;
      const auto [primary, secondary] = onBothSides(vm, d, "GlusterVolume.imageInfo", params);
      vm.report["secondary"][d.drive]["base"] = secondary;
      if (secondary["format"] != primary["format"] || !secondary["backingFile"].isNull() ||
          secondary["virtualSize"] != primary["virtualSize"] || secondary["actualSize"] != primary["actualSize"]) {
        differing.push_back({d.baseRel, "the secondary's copy of " + d.baseRel + " is not the primary's base (format " +
                                              secondary["format"].asString() + ", virtual size " +
                                              secondary["virtualSize"].asString() + ", size " +
                                              secondary["actualSize"].asString() + " vs " +
                                              primary["actualSize"].asString() + ", backing " +
                                              json::compact(secondary["backingFile"]) + ")", {}});
        continue;
      }
      if (options_.verify == "none") continue;
      // First the pieces' identities: cheap (lookups only), and they name
      // the cause of the failure seen most (see shard_identity.h).
      Json::Value l;
      l["path"] = d.baseRel;
      const auto [layoutA, layoutB] = onBothSides(vm, d, "GlusterVolume.shardLayout", l);
      const LayoutComparison layouts = compareShardLayouts(layoutA, layoutB);
      vm.report["secondary"][d.drive]["piecesCompared"] = Json::UInt64(layouts.piecesCompared);
      if (!layouts.problem.empty()) {
        differing.push_back({d.baseRel, "the secondary's copy of " + d.baseRel + " is not laid out as the primary's: " +
                                            layouts.problem,
                             {}});
        continue;
      }
      if (!layouts.mismatches.empty()) {
        Difference diff{d.baseRel,
                        "the secondary does not hold " + std::to_string(layouts.mismatches.size()) + " of " +
                            std::to_string(layouts.piecesCompared) + " pieces of " + d.baseRel + ": " +
                            describeMismatches(layouts.mismatches),
                        {},
                        true};
        for (const auto& m : layouts.mismatches) diff.offsets.push_back(m.offset);
        differing.push_back(diff);
        continue;  // the content differs there too; the cause is known
      }
      // Both copies are frozen: their bytes must match exactly.
      if (options_.verify == "sample") {
        // 16 ranges of 1 MiB spread over the file.
        const std::uint64_t size = primary["actualSize"].asUInt64();
        const std::uint64_t chunk = 1 << 20, count = 16;
        std::uint64_t compared = 0;
        for (std::uint64_t i = 0; i < count; ++i) {
          const std::uint64_t offset = size > chunk ? (size - chunk) / (count - 1) * i : 0;
          Json::Value q;
          q["path"] = d.baseRel;
          q["offset"] = Json::UInt64(offset);
          q["length"] = Json::UInt64(chunk);
          const auto [a, b] = onBothSides(vm, d, "GlusterVolume.fileChecksum", q);
          if (a["sha256"] != b["sha256"] || a["bytes"] != b["bytes"]) {
            differing.push_back({d.baseRel,
                                 "the secondary's copy of " + d.baseRel + " differs from the primary's at bytes " +
                                     std::to_string(offset) + "+" + std::to_string(chunk),
                                 {}});
            break;
          }
          compared += a["bytes"].asUInt64();
          if (size <= chunk) break;
        }
        vm.report["secondary"][d.drive]["verifiedBytes"] = Json::UInt64(compared);
        continue;
      }
      // "shards": 64 KiB in every 4 MiB, one call per side; every shard
      // (gluster's smallest is 4 MiB) is read somewhere, and the strides
      // that differ are located. "full": every byte.
      Json::Value q;
      q["path"] = d.baseRel;
      if (options_.verify == "shards") {
        q["sampleStride"] = Json::UInt64(4 << 20);
        q["sampleLength"] = Json::UInt64(64 << 10);
      }
      const auto [a, b] = onBothSides(vm, d, "GlusterVolume.fileChecksum", q);
      vm.report["secondary"][d.drive]["verifiedBytes"] = a["bytes"];
      if (a["sha256"] != b["sha256"] || a["bytes"] != b["bytes"]) {
        Difference diff{d.baseRel, "", {}};
        const Json::Value &sumsA = a["rangeSums"], &sumsB = b["rangeSums"];
        const std::uint64_t stride = a["sampleStride"].asUInt64();
        if (stride > 0 && sumsA.size() == sumsB.size()) {
          for (Json::ArrayIndex i = 0; i < sumsA.size(); ++i) {
            if (sumsA[i] != sumsB[i]) diff.offsets.push_back(std::uint64_t(i) * stride);
          }
        }
        diff.why = "the secondary's copy of " + d.baseRel + " differs from the primary's (" + options_.verify +
                   " check, " + a["bytes"].asString() + " bytes compared" +
                   (diff.offsets.empty() ? std::string() : ", in " + std::to_string(diff.offsets.size()) + " of " +
                                                               std::to_string(sumsA.size()) + " strides") +
                   ")";
        differing.push_back(diff);
      }
    }
  }
  return differing;
}

void Cycle::verifyBases() {
  auto started = Clock::now();
  Json::Value* s = &step("verify");
  (*s)["mode"] = options_.verify;
  auto describeAll = [](const std::vector<Difference>& differing) {
    std::string out;
    for (const auto& diff : differing) out += (out.empty() ? "" : "; ") + diff.why;
    return out;
  };
  // Just after a sync the secondary can still be settling (a shard being
  // replaced reads as absent for a while): a read error is retried, for up
  // to two minutes.
  auto compare = [&](const std::set<std::string>& only) {
    for (int attempt = 1;; ++attempt) {
      try {
        return compareBases(only);
      } catch (const std::exception& e) {
        // Seen here after a resync: the secondary answered "no such
        // file" for a shard for well over 30 s, then read fine.
        if (attempt == 12) throw;
        progress_("verify", describe(e) + "; reading again in 10 s", true);
        std::this_thread::sleep_for(std::chrono::seconds(10));
      }
    }
  };
  try {
    auto differing = compare({});
    if (differing.empty()) return finishStep(*s, started);
    (*s)["differed"] = describeAll(differing);
    for (const auto& diff : differing) {
      for (std::uint64_t offset : diff.offsets) (*s)["differedAt"][diff.base].append(Json::UInt64(offset));
    }
    // A piece held under another id is repaired by default: gluster's own
    // conflict resolution replaces it when it is marked for resync.
    // Content that differs under the right ids has no known cause; a
    // resync of it is attempted only when asked, and only the shards check
    // locates it.
    const bool repairable = std::all_of(differing.begin(), differing.end(), [&](const Difference& diff) {
      return diff.identity || (options_.verify == "shards" && options_.repair && !diff.offsets.empty());
    });
    if (!repairable) throw std::runtime_error(describeAll(differing));
    // Geo-replication reported the checkpoint complete, yet a copy differs.
    // It does not resend such data by itself: mark the pieces that differ
    // for resync on the primary, sync once more, compare again.
    std::set<std::string> repair;
    for (const auto& diff : differing) {
      progress_("verify", diff.why + "; marking it for resync", true);
      for (const auto& vm : vms_) {
        for (const auto& d : vm.disks) {
          if (d.baseRel != diff.base || repair.count(diff.base)) continue;
          Json::Value params;
          params["path"] = diff.base;
          params["volfileServers"].append(d.server);
          params["volumeName"] = options_.volume;
          // Only the pieces that differ, when the sample located them.
          for (std::uint64_t offset : diff.offsets) params["offsets"].append(Json::UInt64(offset));
          (*s)["resync"][diff.base] = call(vm.host, "GlusterVolume.geoRepResyncFile", params)["marked"];
          repair.insert(diff.base);
        }
      }
    }
    finishStep(*s, started);
    georepSync("georep-repair");
    started = Clock::now();
    s = &step("verify-repair");
    (*s)["mode"] = options_.verify;
    differing = compare(repair);
    if (!differing.empty()) throw std::runtime_error(describeAll(differing) + ", even after a resync");
    for (const auto& base : repair) (*s)["repaired"].append(base);
  } catch (const std::exception& e) {
    finishStep(*s, started, describe(e));
    throw std::runtime_error("verification of the secondary failed: " + describe(e));
  }
  finishStep(*s, started);
}

bool Cycle::mergeAll() {
  const auto started = Clock::now();
  Json::Value& s = step("merge");
  std::atomic<size_t> done{0};
  size_t total = 0;
  for (const auto& vm : vms_) total += vm.snapshotted ? vm.disks.size() : 0;
  std::vector<std::future<void>> work;
  for (auto& vm : vms_) {
    if (!vm.snapshotted) continue;
    for (const auto& d : vm.disks) {
      work.push_back(std::async(std::launch::async, [&, d] {
        const auto t = Clock::now();
        Json::Value r;
        try {
          Json::Value params;
          params["vmID"] = vm.id;
          params["drive"] = d.drive;
          params["topVolume"] = d.topPath;
          params["baseVolume"] = d.basePath;
          params["deleteTop"] = true;
          if (options_.mergeBandwidth) params["bandwidth"] = options_.mergeBandwidth;
          const std::string jobId = call(vm.host, "VM.merge", params)["jobId"].asString();
          r["jobId"] = jobId;
          const Json::Value job = waitJob(vm.host, jobId, [](const Json::Value&) {}, std::chrono::hours(6));
          r["status"] = job["state"] == "DONE" ? "ok" : "failed";
          if (job["error"].isObject()) r["error"] = job["error"]["code"].asString() + ": " + job["error"]["message"].asString();
        } catch (const std::exception& e) {
          r["status"] = "failed";
          r["error"] = describe(e);
        }
        r["duration"] = secondsSince(t);
        std::lock_guard<std::mutex> lock(mutex_);
        vm.report["merge"][d.drive] = r;
        progress_("merge", std::to_string(++done) + "/" + std::to_string(total), false);
      }));
    }
  }
  for (auto& w : work) w.get();
  std::string error;
  for (const auto& vm : vms_) {
    for (const auto& name : vm.report["merge"].getMemberNames()) {
      if (vm.report["merge"][name]["status"] != "ok") {
        error += (error.empty() ? "" : "; ") + vm.name + " " + name + ": " + vm.report["merge"][name]["error"].asString();
      }
    }
  }
  progress_("merge", std::to_string(done) + "/" + std::to_string(total), true);
  finishStep(s, started, error);
  return error.empty();
}

Json::Value Cycle::run() {
  const auto started = Clock::now();
  report_["startTime"] = Json::Int64(nowSeconds());
  report_["flowId"] = flowId_;
  report_["volume"] = options_.volume;
  report_["secondary"] = options_.secondaryHost + "::" + options_.secondaryVolume;
  report_["steps"] = Json::Value(Json::arrayValue);
  Outcome outcome = kSuccess;
  std::string alert;
  try {
    discover();
    if (options_.dryRun) {
      report_["dryRun"] = true;
      Json::Value plan(Json::arrayValue);
      for (const auto& vm : vms_) {
        for (const auto& d : vm.disks) {
          plan.append("snapshot " + vm.name + " " + d.drive + " (" + d.baseRel + "), geo-replicate, delete its overlay on " +
                      options_.secondaryHost + "::" + options_.secondaryVolume + ", merge it back");
        }
      }
      report_["plan"] = plan;
    } else {
      try {
        snapshotAll();
        georepSync();
        // Before the overlays go: a repair needs one more sync, which would
        // bring them back.
        verifyBases();
        deleteOverlays();
      } catch (const std::exception& e) {
        alert = e.what();
        outcome = kFailedMergedBack;
      }
      // Whatever happened, no VM stays on a growing chain.
      if (!mergeAll()) {
        outcome = kMergeBackFailed;
        alert = (alert.empty() ? "" : alert + "; ") + "merging back failed: VMs are left on overlays";
      }
    }
  } catch (const std::exception& e) {
    // Failed before any snapshot (discovery): nothing changed.
    alert = describe(e);
    outcome = kFailedUnchanged;
  }
  bool anySnapshot = false;
  for (const auto& vm : vms_) anySnapshot = anySnapshot || vm.snapshotted;
  if (outcome == kFailedMergedBack && !anySnapshot) outcome = kFailedUnchanged;

  report_["vms"] = Json::Value(Json::arrayValue);
  for (const auto& vm : vms_) {
    Json::Value v = vm.report;
    v["vmId"] = vm.id;
    v["name"] = vm.name;
    v["host"] = options_.hosts[vm.host];
    for (const auto& d : vm.disks) {
      Json::Value disk;
      disk["drive"] = d.drive;
      disk["base"] = d.baseRel;
      disk["overlay"] = d.topRel;
      v["disks"].append(disk);
    }
    report_["vms"].append(v);
  }
  report_["outcome"] = outcome;
  report_["status"] = outcome == kSuccess ? "success" : "failed";
  if (!alert.empty()) report_["alert"] = alert;
  report_["endTime"] = Json::Int64(nowSeconds());
  report_["duration"] = secondsSince(started);
  return report_;
}

}  // namespace

Json::Value runCycle(const CycleOptions& options, const ProgressFn& progress) {
  Cycle cycle(options, progress);
  return cycle.run();
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
  if (factor == 0 || n <= 0) throw std::invalid_argument("bad duration '" + text + "' (e.g. 90s, 15m, 1h)");
  return std::chrono::seconds(n * factor);
}

}  // namespace gdr::sync

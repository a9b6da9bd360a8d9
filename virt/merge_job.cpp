#include "virt/merge_job.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/errors.h"
#include "virt/domain_xml.h"

namespace gdr::virt {

Json::Value MergeSpec::toJson() const {
  Json::Value d;
  d["vmID"] = vmId;
  d["drive"] = drive;
  d["topVolume"] = top;
  d["baseVolume"] = base;
  d["bandwidth"] = Json::UInt64(bandwidthMiB);
  d["deleteTop"] = deleteTop;
  return d;
}

MergeSpec MergeSpec::fromJson(const Json::Value& d) {
  MergeSpec s;
  s.vmId = d["vmID"].asString();
  s.drive = d["drive"].asString();
  s.top = d["topVolume"].asString();
  s.base = d["baseVolume"].asString();
  s.bandwidthMiB = d.get("bandwidth", 0).asUInt64();
  s.deleteTop = d.get("deleteTop", false).asBool();
  return s;
}

JobRecord newMergeRecord(const MergeSpec& spec) {
  JobRecord r;
  r.type = kMergeJobType;
  r.state = "INIT";
  r.details = spec.toJson();
  r.details["pivotAttempts"] = 0;
  r.details["commitStarts"] = 0;
  return r;
}

namespace {

bool chainHolds(const DiskInfo& disk, const std::string& path) {
  return std::find(disk.chain.begin(), disk.chain.end(), path) != disk.chain.end();
}

}  // namespace

void MergeJob::run(JobControl& job) {
  const MergeSpec spec = MergeSpec::fromJson(job.record().details);
  try {
    drive(job, spec);
  } catch (...) {
    if (job.record().terminal()) activity_.endMerge(spec.vmId, spec.drive);
    throw;  // the store fails the job with the error's code
  }
  // Leaving without a terminal state means the agent is stopping: the
  // drive stays claimed until the job is recovered.
  if (job.record().terminal()) activity_.endMerge(spec.vmId, spec.drive);
}

void MergeJob::drive(JobControl& job, const MergeSpec& spec) {
  const std::string what = "merge of " + spec.drive + " of VM " + spec.vmId;
  auto setState = [&](const std::string& state, int progress = -1) {
    job.update([&](JobRecord& r) {
      r.state = state;
      if (progress >= 0) r.progress = progress;
    });
  };
  auto fail = [&](const std::string& message) {
    job.update([&](JobRecord& r) {
      r.state = kJobFailed;
      r.error = JobError{int(Code::MergeFailed), what + ": " + message};
    });
  };
  auto bump = [&](const char* counter) {
    int n = 0;
    job.update([&](JobRecord& r) {
      n = r.details[counter].asInt() + 1;
      r.details[counter] = n;
    });
    return n;
  };

  auto outageSince = std::chrono::steady_clock::time_point{};
  for (;;) {
    if (job.stopRequested()) return;
    const JobRecord record = job.record();
    const std::string state = record.state;
    if (record.terminal()) return;
    try {
      auto domain = hypervisor_.lookup(spec.vmId);
      outageSince = {};
      if (job.abortRequested() && state != "PIVOT" && state != "CLEANUP" && state != "ABORTING") {
        setState("ABORTING");
        continue;
      }
      if (state == "INIT") {
        // Persisted before the call: a restart finds COMMIT and checks
        // whether libvirt got as far as starting the job.
        bump("commitStarts");
        setState("COMMIT", 5);
        domain->blockCommit(spec.drive, spec.base, spec.bandwidthMiB);
        continue;
      }
      const DomainInfo info = parseDomainXml(domain->xml());
      const DiskInfo* disk = info.disk(spec.drive);
      if (!disk) return fail("the VM no longer has drive " + spec.drive);
      const auto blockJob = domain->blockJobInfo(spec.drive);

      if (state == "COMMIT" || state == "READY") {
        if (!blockJob) {
          if (!chainHolds(*disk, spec.top)) {  // pivoted before a restart
            setState("CLEANUP", 95);
            continue;
          }
          // The commit never started, or ended without a pivot.
          if (record.details["commitStarts"].asInt() >= tuning_.maxCommitStarts) {
            return fail("the block job vanished " + std::to_string(tuning_.maxCommitStarts) + " times");
          }
          spdlog::warn("job {}: no block job on {}; starting the commit again", record.id, spec.drive);
          setState("INIT");
          continue;
        }
        const int progress = blockJob->end ? int(10 + 80 * (blockJob->cur * 1.0 / blockJob->end)) : 10;
        // cur == end also holds at the very start: only the mirror's
        // ready flag in the XML says the job can be pivoted.
        if (disk->mirror && disk->mirror->ready) {
          if (state != "READY") {
            setState("READY", std::max(progress, 90));
            if (tuning_.pivotDelay.count() > 0) {
              job.waitFor(tuning_.pivotDelay);
              continue;  // read the chain again after the pause
            }
          }
          setState("PIVOT", 90);
          continue;
        }
        job.update([&](JobRecord& r) {
          r.progress = progress;
          r.details["cur"] = Json::UInt64(blockJob->cur);
          r.details["end"] = Json::UInt64(blockJob->end);
        });
        job.waitFor(tuning_.pollInterval);
        continue;
      }

      if (state == "PIVOT") {
        if (!blockJob) {
          if (disk->path == spec.base && !chainHolds(*disk, spec.top)) {
            setState("CLEANUP", 95);
            continue;
          }
          if (chainHolds(*disk, spec.top)) {  // the job ended without pivoting
            if (record.details["commitStarts"].asInt() >= tuning_.maxCommitStarts) {
              return fail("the block job ended without a pivot");
            }
            setState("INIT");
            continue;
          }
          return fail("after the pivot the drive is on " + disk->path + ", expected " + spec.base);
        }
        if (!disk->mirror || !disk->mirror->ready) {  // e.g. recovered while still syncing
          setState("COMMIT");
          continue;
        }
        try {
          domain->blockJobAbort(spec.drive, true);
        } catch (const AgentError& e) {
          const int attempts = bump("pivotAttempts");
          spdlog::warn("job {}: pivot attempt {} failed: {}", record.id, attempts, e.what());
          if (attempts >= tuning_.maxPivotAttempts) {
            // Leave the VM on a valid chain: cancel the job, stay on the top.
            try {
              domain->blockJobAbort(spec.drive, false);
            } catch (const AgentError& cancel) {
              spdlog::error("job {}: cancelling after failed pivots: {}", record.id, cancel.what());
            }
            return fail("pivot failed " + std::to_string(attempts) + " times: " + e.what() +
                        "; the block job was cancelled and the VM stays on " + spec.top);
          }
          job.waitFor(std::chrono::milliseconds(500) * attempts);
        }
        continue;  // re-read the chain to confirm
      }

      if (state == "CLEANUP") {
        if (chainHolds(*disk, spec.top)) return fail("the chain still holds " + spec.top + " after the pivot");
        if (spec.deleteTop) removeTop_(spec.top);
        setState(kJobDone, 100);
        return;
      }

      if (state == "ABORTING") {
        if (blockJob) {
          domain->blockJobAbort(spec.drive, false);
          job.waitFor(tuning_.pollInterval);
          continue;
        }
        if (!chainHolds(*disk, spec.top)) {  // it pivoted before the abort landed
          setState("CLEANUP", 95);
          continue;
        }
        setState(kJobAborted);
        return;
      }
      return fail("unknown state " + state);
    } catch (const AgentError& e) {
      if (e.code() == Code::NoSuchVM) return fail("the VM is gone");
      // libvirt unreachable: keep trying for a while, then give up.
      const auto now = std::chrono::steady_clock::now();
      if (outageSince == std::chrono::steady_clock::time_point{}) outageSince = now;
      if (now - outageSince > tuning_.libvirtOutage) throw AgentError(Code::MergeFailed, what + ": " + e.what());
      spdlog::warn("job {}: {} (retrying)", record.id, e.what());
      job.waitFor(std::chrono::seconds(1));
    }
  }
}

}  // namespace gdr::virt

#include "virt/merge_job.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "core/errors.h"

namespace gdr::virt {

using State = MergeJob::State;

namespace {

// The job's own verdict (as opposed to an error libvirt raised).
class Failure : public AgentError {
 public:
  explicit Failure(const std::string& message) : AgentError(Code::MergeFailed, message) {}
};

}  // namespace

api::MergeJobDetails MergeSpec::toDetails() const {
  api::MergeJobDetails d;
  d.vmId = vmId;
  d.drive = drive;
  d.topVolume = top;
  d.baseVolume = base;
  d.bandwidth = bandwidthMiB;
  d.deleteTop = deleteTop;
  d.active = active;
  return d;
}

MergeSpec MergeSpec::fromDetails(const Json::Value& details) {
  const auto d = api::decode<api::MergeJobDetails>(details);
  return {d.vmId, d.drive, d.topVolume, d.baseVolume, static_cast<unsigned long>(d.bandwidth), d.deleteTop, d.active};
}

JobRecord newMergeRecord(const MergeSpec& spec) {
  JobRecord r;
  r.type = kMergeJobType;
  r.state = api::enumName(State::Init);
  r.details = api::encode(spec.toDetails());
  return r;
}

const api::Transitions<State>& MergeJob::transitions() {
  static const api::Transitions<State> table = {
      {State::Init, {State::Commit, State::Aborting}},
      {State::Commit, {State::Ready, State::Cleanup, State::Init, State::Aborting}},
      {State::Ready, {State::Pivot, State::Aborting}},
      {State::Pivot, {State::Cleanup, State::Commit, State::Init}},
      {State::Cleanup, {State::Done}},
      {State::Aborting, {State::Aborted, State::Cleanup}},
  };
  return table;
}

bool MergeJob::chainHolds(const DiskInfo& disk, const std::string& path) const {
  return std::find(disk.chain.begin(), disk.chain.end(), path) != disk.chain.end();
}

void MergeJob::fail(const std::string& message) const {
  throw Failure("merge of " + spec_.drive + " of VM " + spec_.vmId + ": " + message);
}

void MergeJob::moveTo(JobControl& job, State next, int progress,
                      const std::function<void(api::MergeJobDetails&)>& change) {
  const JobRecord record = job.record();
  if (!api::allowedMove(transitions(), record.state, next)) {
    fail("no move from " + record.state + " to " + api::enumName(next));
  }
  // Free before the end is seen: whoever sees DONE may merge the drive again.
  if (next == State::Done || next == State::Aborted) releaseDrive();
  job.update([&](JobRecord& r) {
    r.state = api::enumName(next);
    if (progress >= 0) r.progress = progress;
    if (change) r.details = api::encode(changed(r.details, change));
  });
}

api::MergeJobDetails MergeJob::changed(const Json::Value& details,
                                       const std::function<void(api::MergeJobDetails&)>& change) {
  auto d = api::decode<api::MergeJobDetails>(details);
  change(d);
  return d;
}

void MergeJob::note(JobControl& job, int progress, const std::function<void(api::MergeJobDetails&)>& change) {
  job.update([&](JobRecord& r) {
    if (progress >= 0) r.progress = progress;
    r.details = api::encode(changed(r.details, change));
  });
}

void MergeJob::run(JobControl& job) {
  spec_ = MergeSpec::fromDetails(job.record().details);
  auto outageSince = std::chrono::steady_clock::time_point{};
  try {
    for (;;) {
      if (job.stopRequested()) return;  // the drive stays claimed until the job is recovered
      job.takeNudge();                  // this step looks anyway; a nudge during it cuts the next wait short
      const JobRecord record = job.record();
      if (record.terminal()) break;
      const auto state = api::enumFromName<State>(record.state);
      if (!state) fail("unknown state " + record.state);
      try {
        step(job, *state);
        outageSince = {};
      } catch (const LibvirtUnreachable& e) {
        const auto now = std::chrono::steady_clock::now();
        if (outageSince == std::chrono::steady_clock::time_point{}) outageSince = now;
        if (now - outageSince > tuning_.libvirtOutage) fail(e.what());
        spdlog::warn("job {}: {} (retrying)", record.id, e.what());
        job.waitFor(std::chrono::seconds(1));
      } catch (const Failure&) {
        throw;
      } catch (const AgentError& e) {
        if (e.code() == Code::NoSuchVM) fail("the VM is gone");
        fail(e.what());  // libvirt said no: retrying would not change its answer
      }
    }
  } catch (...) {
    releaseDrive();  // the store records the failure
    throw;
  }
  releaseDrive();
}

void MergeJob::releaseDrive() {
  if (driveReleased_) return;  // once: another job may hold the drive by now
  driveReleased_ = true;
  activity_.endMerge(spec_.vmId, spec_.drive);
}

void MergeJob::step(JobControl& job, State state) {
  auto domain = hypervisor_.lookup(spec_.vmId);
  if (job.abortRequested() && state != State::Pivot && state != State::Cleanup && state != State::Aborting) {
    moveTo(job, State::Aborting);
    return;
  }
  Step s{job, api::decode<api::MergeJobDetails>(job.record().details), *domain, nullptr, std::nullopt};
  if (state != State::Init) {
    // The job first, then the chain: a job that ends in between shows as a
    // job and a chain without the top, never as neither.
    s.blockJob = domain->blockJobInfo(spec_.drive);
    const DomainInfo info = parseDomainXml(domain->xml());
    const DiskInfo* disk = info.disk(spec_.drive);
    if (!disk) fail("the VM no longer has drive " + spec_.drive);
    DiskInfo copy = *disk;  // outlives `info`
    s.disk = &copy;
    switch (state) {
      case State::Commit:
        return commit(s);
      case State::Ready:
        return ready(s);
      case State::Pivot:
        return pivot(s);
      case State::Cleanup:
        return cleanup(s);
      case State::Aborting:
        return aborting(s);
      default:
        fail("unexpected state " + std::string(api::enumName(state)));
    }
  }
  init(s);
}

// Persisted before the call: a restart finds COMMIT and checks whether
// libvirt got as far as starting the job.
void MergeJob::init(Step& s) {
  moveTo(s.job, State::Commit, 5, [](api::MergeJobDetails& d) { ++d.commitStarts; });
  s.domain.blockCommit(spec_.drive, spec_.base, spec_.active ? std::string() : spec_.top, spec_.bandwidthMiB);
}

void MergeJob::commit(Step& s) {
  // Pivoted (before a restart), or a commit under the active layer ended.
  if (!chainHolds(*s.disk, spec_.top)) return moveTo(s.job, State::Cleanup, 95);
  if (!s.blockJob) {
    // The commit never started, or ended without a pivot.
    if (s.details.commitStarts >= tuning_.maxCommitStarts) {
      fail("the block job vanished " + std::to_string(tuning_.maxCommitStarts) + " times");
    }
    spdlog::warn("job {}: no block job on {}; starting the commit again", s.job.record().id, spec_.drive);
    return moveTo(s.job, State::Init);
  }
  const BlockJobInfo& job = *s.blockJob;
  const int progress = job.end ? int(10 + 80 * (job.cur * 1.0 / job.end)) : 10;
  // cur == end also holds at the very start: only the mirror's ready flag
  // in the XML says the job can be pivoted.
  if (s.disk->mirror && s.disk->mirror->ready) return moveTo(s.job, State::Ready, std::max(progress, 90));
  note(s.job, progress, [&](api::MergeJobDetails& d) {
    d.cur = job.cur;
    d.end = job.end;
  });
  s.job.waitFor(tuning_.pollInterval);
}

void MergeJob::ready(Step& s) {
  if (tuning_.pivotDelay.count() > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (!readyHeldUntil_) readyHeldUntil_ = now + tuning_.pivotDelay;
    if (now < *readyHeldUntil_) {
      // A block job event may wake the wait early: the hold lasts anyway.
      s.job.waitFor(std::chrono::duration_cast<std::chrono::milliseconds>(*readyHeldUntil_ - now));
      return;  // read the chain again after the pause
    }
  }
  moveTo(s.job, State::Pivot, 90);
}

void MergeJob::pivot(Step& s) {
  if (!s.blockJob) {
    if (s.disk->path == spec_.base && !chainHolds(*s.disk, spec_.top)) return moveTo(s.job, State::Cleanup, 95);
    if (chainHolds(*s.disk, spec_.top)) {  // the job ended without pivoting
      if (s.details.commitStarts >= tuning_.maxCommitStarts) fail("the block job ended without a pivot");
      return moveTo(s.job, State::Init);
    }
    fail("after the pivot the drive is on " + s.disk->path + ", expected " + spec_.base);
  }
  if (!s.disk->mirror || !s.disk->mirror->ready) return moveTo(s.job, State::Commit);  // recovered while still syncing
  try {
    s.domain.blockJobAbort(spec_.drive, true);
  } catch (const LibvirtUnreachable&) {
    throw;
  } catch (const AgentError& e) {
    // A pivot can fail transiently while QEMU finishes the mirror: retried,
    // a bounded number of times.
    const int attempts = s.details.pivotAttempts + 1;
    note(s.job, -1, [&](api::MergeJobDetails& d) { d.pivotAttempts = attempts; });
    spdlog::warn("job {}: pivot attempt {} failed: {}", s.job.record().id, attempts, e.what());
    if (attempts >= tuning_.maxPivotAttempts) {
      // Leave the VM on a valid chain: cancel the job, stay on the top.
      try {
        s.domain.blockJobAbort(spec_.drive, false);
      } catch (const AgentError& cancel) {
        spdlog::error("job {}: cancelling after failed pivots: {}", s.job.record().id, cancel.what());
      }
      fail("pivot failed " + std::to_string(attempts) + " times: " + e.what() +
           "; the block job was cancelled and the VM stays on " + spec_.top);
    }
    s.job.waitFor(std::chrono::milliseconds(500) * attempts);
  }
  // Stay in PIVOT: the next step reads the chain back to confirm.
}

void MergeJob::cleanup(Step& s) {
  if (chainHolds(*s.disk, spec_.top)) fail("the chain still holds " + spec_.top + " after the pivot");
  if (spec_.deleteTop) {
    try {
      removeTop_(spec_.top);
    } catch (const AgentError& e) {
      fail(e.what());
    }
  }
  moveTo(s.job, State::Done, 100);
}

void MergeJob::aborting(Step& s) {
  if (s.blockJob) {
    s.domain.blockJobAbort(spec_.drive, false);
    s.job.waitFor(tuning_.pollInterval);
    return;
  }
  if (!chainHolds(*s.disk, spec_.top)) return moveTo(s.job, State::Cleanup, 95);  // it pivoted before the abort landed
  moveTo(s.job, State::Aborted);
}

bool mergeAwaitsBlockJobEvent(const JobRecord& record, const std::string& vmUuid, const std::string& drive) {
  if (record.type != kMergeJobType || record.terminal()) return false;
  const std::string jobVm = record.details.get("vmID", "").asString();
  // libvirt spells UUIDs in lower case; a caller may not have.
  return std::equal(jobVm.begin(), jobVm.end(), vmUuid.begin(), vmUuid.end(),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
                    }) &&
         record.details.get("drive", "").asString() == drive;
}

}  // namespace gdr::virt

#include "client/session_setup.h"

#include <exception>
#include <stdexcept>

namespace gdr::sync {

namespace {

std::string joinedNames(const std::vector<std::string>& names, size_t most) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < most; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > most) text += ", ...";
  return text;
}

api::SessionParams sessionOf(const SessionSetupRequest& r) {
  api::SessionParams p;
  p.volumeName = r.volume;
  p.remoteHost = r.secondaryHost;
  p.remoteVolumeName = r.secondaryVolume;
  return p;  // root: a session of another user needs gluster's mount broker first
}

// Runs the steps in order; the first that throws ends the set-up.
class Setup {
 public:
  Setup(SessionSetupReport& report, const SetupProgress& progress) : report_(report), progress_(progress) {}

  // `work` returns the step's detail.
  bool step(const std::string& name, const std::function<std::string()>& work) {
    SessionSetupStep s{name, false, ""};
    try {
      s.detail = work();
      s.ok = true;
    } catch (const std::exception& e) {
      s.detail = e.what();
      report_.failure = name + ": " + s.detail;
    }
    report_.steps.push_back(s);
    if (progress_) progress_(s);
    return s.ok;
  }

 private:
  SessionSetupReport& report_;
  const SetupProgress& progress_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> sessionSettings() {
  // The leading space keeps gluster's CLI from reading the value as its own option.
  return {{"rsync-options", " --ignore-times"}};
}

SessionSetupReport setupSession(GeoRepSetupApi& primary, GeoRepSetupApi& secondary, const SessionSetupRequest& request,
                                const SetupProgress& progress) {
  SessionSetupReport report;
  Setup setup(report, progress);
  const api::SessionParams session = sessionOf(request);
  const std::string name = request.volume + " -> " + request.secondaryHost + "::" + request.secondaryVolume;

  if (!setup.step("existing", [&] {
        api::SessionListParams filter;
        filter.volumeName = session.volumeName;
        filter.remoteHost = session.remoteHost;
        filter.remoteVolumeName = session.remoteVolumeName;
        filter.remoteUserName = session.remoteUserName;
        report.existed = !primary.geoRepSessionList(filter).sessions.empty();
        return report.existed ? "the session " + name + " exists: only its settings are checked"
                              : "no session " + name + " on " + primary.endpoint();
      })) {
    return report;
  }
  if (!report.existed) {
    api::GeoRepKeysResult keys;
    const bool ready =
        (request.secondaryHolds.empty()
             ? setup.step("empty",
                          [&] {
                            // Geo-replication would mix the secondary's files with the
                            // primary's: a new session's secondary must hold nothing.
                            const api::EmptyCheckResult empty =
                                secondary.volumeEmptyCheck({{request.secondaryHost}, request.secondaryVolume});
                            if (!empty.volumeEmptyCheck) {
                              throw std::runtime_error(
                                  "the secondary volume " + request.secondaryVolume + " is not empty (it holds " +
                                  joinedNames(empty.entries, 5) +
                                  "): a new session needs an empty secondary; nothing was changed");
                            }
                            return request.secondaryVolume + " is empty";
                          })
             : setup.step("copy",
                          [&] {
                            return request.secondaryVolume + " holds " + request.secondaryHolds + ": no empty check";
                          })) &&
        setup.step("keys",
                   [&] {
                     keys = primary.geoRepKeysGet();
                     if (keys.geoRepPubKeys.empty()) throw std::runtime_error("gsec_create gave no keys");
                     return std::to_string(keys.geoRepPubKeys.size()) + " keys from the primary's pool (" +
                            primary.endpoint() + ")";
                   }) &&
        setup.step("authorize",
                   [&] {
                     const auto merged = secondary.geoRepKeysUpdate({session.remoteUserName, keys.geoRepPubKeys});
                     return std::to_string(merged.added) + " keys added to " + session.remoteUserName +
                            "'s authorized_keys on " + secondary.endpoint() + ", " + std::to_string(merged.present) +
                            " there already";
                   }) &&
        setup.step("create", [&] {
          api::SessionCreateParams create;
          static_cast<api::SessionParams&>(create) = session;
          create.noVerify = true;
          primary.geoRepSessionCreate(create);
          report.created = true;
          return "created " + name;
        });
    if (!ready) return report;
  }
  if (!setup.step("config", [&] {
        std::string done;
        for (const auto& [option, value] : sessionSettings()) {
          api::ConfigSetParams set;
          static_cast<api::SessionParams&>(set) = session;
          set.optionName = option;
          set.optionValue = value;
          primary.geoRepConfigSet(set);
          done += (done.empty() ? "" : ", ") + option + "=" + value;
        }
        return done;
      })) {
    return report;
  }
  if (!setup.step("protect", [&] {
        // What gluster's push-pem hook does, and a no-verify create does not:
        // no ordinary client may write into the recovery points. A failover
        // switches it off on purpose.
        secondary.volumeSet({request.secondaryVolume, "features.read-only", "on"});
        return "features.read-only on for " + request.secondaryVolume + " (" + secondary.endpoint() +
               "): only geo-replication writes there";
      })) {
    return report;
  }
  setup.step("status", [&] {
    for (const auto& w : primary.geoRepSessionStatus(session).sessionStatus) {
      report.workers.push_back(w.masterNode + ":" + w.masterBrick + " " + w.status);
    }
    if (report.workers.empty()) throw std::runtime_error("the session lists no workers");
    return joinedNames(report.workers, 8);
  });
  return report;
}

}  // namespace gdr::sync

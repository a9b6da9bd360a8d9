#include "agent/agent.h"

#include <signal.h>

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <atomic>
#include <memory>
#include <thread>

#include "core/dispatcher.h"
#include "gfapi/glfs_volume.h"
#include "gfapi/overlay_delete.h"
#include "gluster/cli.h"
#include "gluster/events.h"
#include "gluster/georep_sync.h"
#include "virt/libvirt_domain.h"
#include "virt/libvirt_events.h"
#include "virt/merge_job.h"
#include "virt/vm_activity.h"
#include "agent/events_server.h"
#include "agent/https_server.h"
#include "core/job_store.h"
#include "agent/logging.h"
#include "core/schema.h"
#include "agent/unix_server.h"
#include "agent/worker_pool.h"
#include "verbs/all_verbs.h"
#include "version.h"

namespace gdr {

namespace {

// A block job's event wakes the merge job of that VM and drive.
void wakeMergesOnBlockJobEvents(virt::LibvirtHypervisor& hypervisor, JobStore& jobs) {
  hypervisor.onBlockJobEvent([&jobs](const std::string& vmUuid, const std::string& drive) {
    const size_t woken =
        jobs.nudge([&](const JobRecord& r) { return virt::mergeAwaitsBlockJobEvent(r, vmUuid, drive); });
    spdlog::debug("libvirt: block job event on {} {}: {} job(s) woken", vmUuid, drive, woken);
  });
}

}  // namespace

int runAgent(const AgentConfig& config) {
  namespace asio = boost::asio;
  const Schema& schema = builtinSchema();

  JobStore jobs(config.stateDir, config.jobTtl);
  gfapi::VolumePool::Options gfapiOptions;
  gfapiOptions.idleTimeout = config.gfapiIdleTimeout;
  gfapiOptions.maxConnections = config.gfapiPoolMax;
  gfapiOptions.logFile = config.stateDir + "/gfapi.log";
  gfapi::VolumePool volumes(gfapiOptions);
  gfapi::HeaderCache imageHeaders;
  gluster::SystemCommandRunner glusterRunner;
  gluster::GlusterCli glusterCli(glusterRunner, config.glusterTimeout, "/var/lib/glusterd");
  // The event loop before the first libvirt connection: a block job that
  // gets ready, or ends, wakes its merge job at once.
  virt::LibvirtEventLoop libvirtEvents;
  virt::LibvirtHypervisor hypervisor(config.libvirtUri);
  if (libvirtEvents.running()) wakeMergesOnBlockJobEvents(hypervisor, jobs);
  virt::VmActivity vmActivity;
  AgentServices services{jobs,
                         schema,
                         volumes,
                         imageHeaders,
                         glusterCli,
                         hypervisor,
                         vmActivity,
                         config.overlayPrefixes,
                         config.deleteVolumes,
                         config.volfileServers,
                         config.eventsListen.has_value(),
                         config.mergePivotDelay,
                         config.geoRepKeyUsers,
                         config.geoRepPublicKeyFile,
                         config.geoRepMountBrokerRoot};
  services.guests = &hypervisor;
  services.drillDir = config.stateDir + "/drills";
  services.failoverDir = config.stateDir + "/failovers";
  Registry registry;
  registerAllVerbs(registry, services);
  Dispatcher dispatcher(schema, registry, config.checkResults, config.maxBatch);
  jobs.load();

  // Gluster's events: a completed checkpoint wakes the sync jobs waiting
  // for it (their status reading confirms it).
  std::unique_ptr<EventsServer> events;
  if (config.eventsListen) {
    EventsServer::Options options;
    options.host = config.eventsListen->host;
    options.port = config.eventsListen->port;
    options.token = config.eventsToken;
    events = std::make_unique<EventsServer>(options, [&jobs](const std::string& body) {
      const auto event = gluster::parseGlusterEvent(body);
      if (!event) {
        spdlog::warn("events: not a gluster event: {}", body.substr(0, 200));
        return;
      }
      const size_t woken = jobs.nudge([&](const JobRecord& r) { return gluster::syncAwaitsEvent(r, *event); });
      spdlog::debug("events: {} {} -> {}::{} brick {}: {} job(s) woken", event->name, event->primaryVolume,
                    event->secondaryHost, event->secondaryVolume, event->brick, woken);
    });
    try {
      events->start();
    } catch (const std::exception& e) {
      spdlog::critical("{}", e.what());
      return 1;
    }
  }

  WorkerPool pool(config.workers, config.queue);
  RequestRunner runner(dispatcher, pool, config.requestTimeout);
  asio::io_context io(1);

  std::vector<std::unique_ptr<UnixSocketServer>> unixServers;
  std::vector<std::unique_ptr<HttpsServer>> httpsServers;
  for (const auto& address : config.listen) {
    if (address.kind == ListenAddress::Kind::Unix) {
      auto server = std::make_unique<UnixSocketServer>(io, address.path, runner, config.maxRequestBytes,
                                                       config.maxConnections, config.idleTimeout);
      server->SetHandler(&dispatcher);
      if (!server->StartListening()) {
        spdlog::critical("{}", server->lastError());
        return 1;
      }
      unixServers.push_back(std::move(server));
    } else {
      HttpsServer::Options options;
      options.host = address.host;
      options.port = address.port;
      options.certFile = config.tlsCert;
      options.keyFile = config.tlsKey;
      options.caFile = config.tlsCa;
      options.allowedClients = config.tlsAllowedClients;
      options.idleTimeoutSeconds = unsigned(config.idleTimeout.count());
      options.maxRequestBytes = config.maxRequestBytes;
      options.maxConnections = config.maxConnections;
      auto server = std::make_unique<HttpsServer>(options, runner);
      server->SetHandler(&dispatcher);
      if (!server->StartListening()) {
        spdlog::critical("{}", server->lastError());
        return 1;
      }
      httpsServers.push_back(std::move(server));
    }
  }
  spdlog::info("gdr-agent {} ready: {} verbs, {} workers, queue {}, state dir {}", GDR_VERSION,
               schema.verbs().size(), config.workers, config.queue, config.stateDir);

  // Shutdown: stop accepting, refuse new requests, let in-flight ones
  // finish (bounded), persist jobs, close connections once their replies
  // are written.
  std::thread shutdownThread;
  std::atomic<bool> abandoned{false};  // requests left running past the grace
  // Keeps io.run() going while a request is on a worker and its connection
  // has no I/O pending; released once shutdown is complete.
  auto keepRunning = asio::make_work_guard(io);
  asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> onSignal =
      [&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        signals.async_wait(onSignal);
        if (signal == SIGHUP) {
          logging::reopen();
          return;
        }
        if (shutdownThread.joinable()) {
          spdlog::info("signal {}: already shutting down", signal);
          return;
        }
        spdlog::info("signal {}: shutting down", signal);
        for (auto& server : unixServers) server->StopListening();
        for (auto& server : httpsServers) server->quiesce();
        runner.beginShutdown();
        shutdownThread = std::thread([&] {
          if (!pool.drain(config.shutdownGrace)) {
            spdlog::warn("requests still running after {}s; exiting anyway", config.shutdownGrace.count());
            abandoned = true;
          }
          jobs.stop(config.shutdownGrace);
          // glfs_fini can take ~11 s: bounded, the process exits anyway.
          volumes.shutdown(std::chrono::seconds(2));
          asio::post(io, [&] {
            for (auto& server : unixServers) server->closeConnections();
            // A repeated SIGTERM while tearing down must not kill the
            // process half-way (exit status 143 instead of 0).
            ::signal(SIGTERM, SIG_IGN);
            ::signal(SIGINT, SIG_IGN);
            signals.cancel();
            keepRunning.reset();
          });
        });
      };
  signals.async_wait(onSignal);

  io.run();
  if (shutdownThread.joinable()) shutdownThread.join();
  for (auto& server : httpsServers) server->StopListening();
  if (events) events->stop();
  spdlog::info("gdr-agent stopped");
  spdlog::default_logger()->flush();
  // A worker still in a call (a hung libvirt or gluster call) would answer
  // into the servers and the runner as they are destroyed: leave without
  // destroying anything. The jobs are persisted, the log flushed.
  if (abandoned) std::_Exit(0);
  return 0;
}

}  // namespace gdr

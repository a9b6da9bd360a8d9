// gdr-gfapi-bench: overlayDelete latency, p50 and p99, three ways in one
// run, each deleting real qcow2 overlays on the same sharded lab volume:
//   pooled  GlusterVolume.overlayDelete through gdr-agent (long-lived glfs_t);
//   naive   glfs_new + glfs_init + unlink + glfs_fini for every deletion;
//   fuse    mount -t glusterfs + rm + umount for every deletion.
// Usage: gdr-gfapi-bench AGENT_SOCKET HOST VOLUME MOUNT [N_POOLED N_NAIVE N_FUSE [PER_DIR]]
// Each deletion checks every sibling in the overlay's directory; PER_DIR
// (default 8, one overlay per VM disk of a cycle) sets how many share one.
// MOUNT is a writable FUSE mount of VOLUME, used to create the overlays.
#include <dlfcn.h>
#include <glusterfs/api/glfs.h>
#include <glusterfs/api/glfs-handles.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/process.h"
#include "client/rpc_client.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double ms(Clock::time_point since) { return std::chrono::duration<double, std::milli>(Clock::now() - since).count(); }

int perDir = 8;

// Overlay i of a kind lives in images-(i / perDir)/.gdr-snapshots/.
std::string overlayPath(const std::string& prefix, int i) {
  return "images-" + std::to_string(i / perDir) + "/.gdr-snapshots/" + prefix + std::to_string(i) + ".qcow2";
}

void makeOverlays(const std::string& dir, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string path = dir + "/" + overlayPath(prefix, i);
    fs::create_directories(fs::path(path).parent_path());
    const auto r = gdr::runCommand({"qemu-img", "create", "-q", "-f", "qcow2", "-b", "../../base.qcow2", "-F",
                                    "qcow2", path},
                                   std::chrono::seconds(30));
    if (r.exitCode != 0) throw std::runtime_error("qemu-img: " + r.err);
  }
}

void report(const char* name, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return;
  std::printf("%-8s %6zu %10.2f %10.2f %10.2f\n", name, v.size(), v[v.size() / 2],
              v[std::min(v.size() - 1, v.size() * 99 / 100)], v.back());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s AGENT_SOCKET HOST VOLUME MOUNT [N_POOLED N_NAIVE N_FUSE]\n", argv[0]);
    return 2;
  }
  const std::string socket = argv[1], host = argv[2], volume = argv[3], mount = argv[4];
  const int nPooled = argc > 5 ? std::stoi(argv[5]) : 200;
  const int nNaive = argc > 6 ? std::stoi(argv[6]) : 3;
  const int nFuse = argc > 7 ? std::stoi(argv[7]) : 10;
  perDir = argc > 8 ? std::stoi(argv[8]) : 8;
  const std::string rel = "bench-" + std::to_string(::getpid());
  const std::string dir = mount + "/" + rel;
  fs::create_directories(dir);
  gdr::runCommand({"qemu-img", "create", "-q", "-f", "qcow2", dir + "/base.qcow2", "64M"}, std::chrono::seconds(30));
  makeOverlays(dir, "pooled-", nPooled);
  makeOverlays(dir, "naive-", nNaive);
  makeOverlays(dir, "fuse-", nFuse);

  std::printf("overlayDelete latency on %s (sharded), up to %d overlays per directory, milliseconds\n\n",
              volume.c_str(), perDir);
  std::printf("%-8s %6s %10s %10s %10s\n", "method", "n", "p50", "p99", "max");

  // Pooled, through the agent; the first call pays for glfs_init.
  gdr::client::RpcClient client(gdr::client::makeTransport("unix:" + socket, {}, std::chrono::seconds(60)));
  std::vector<double> pooled;
  for (int i = 0; i < nPooled; ++i) {
    Json::Value p;
    p["volfileServers"].append(host);
    p["volumeName"] = volume;
    p["paths"].append(rel + "/" + overlayPath("pooled-", i));
    p["expectedBacking"] = rel + "/base.qcow2";
    const auto t = Clock::now();
    const Json::Value r = client.call("GlusterVolume.overlayDelete", p);
    pooled.push_back(ms(t));
    if (!r["results"][0]["deleted"].asBool()) throw std::runtime_error("not deleted: " + p["paths"][0].asString());
  }
  report("pooled", pooled);

  // Naive: a whole libgfapi life cycle per deletion.
  using SetFsPid = int (*)(glfs_t*, pid_t);
  auto setFsPid = reinterpret_cast<SetFsPid>(dlsym(RTLD_DEFAULT, "glfs_setfspid"));
  std::vector<double> naive;
  for (int i = 0; i < nNaive; ++i) {
    const auto t = Clock::now();
    glfs_t* g = glfs_new(volume.c_str());
    glfs_set_volfile_server(g, "tcp", host.c_str(), 24007);
    glfs_set_logging(g, "/dev/null", 0);
    if (glfs_init(g) != 0) throw std::runtime_error("glfs_init failed");
    if (setFsPid) setFsPid(g, -1);
    const std::string path = "/" + rel + "/" + overlayPath("naive-", i);
    if (glfs_unlink(g, path.c_str()) != 0) throw std::runtime_error("glfs_unlink failed: " + path);
    glfs_fini(g);
    naive.push_back(ms(t));
  }
  report("naive", naive);

  // FUSE: mount, rm, umount.
  std::vector<double> fuse;
  const std::string mnt = "/tmp/" + rel + "-mnt";
  fs::create_directories(mnt);
  for (int i = 0; i < nFuse; ++i) {
    const auto t = Clock::now();
    if (gdr::runCommand({"mount", "-t", "glusterfs", host + ":/" + volume, mnt}, std::chrono::seconds(60)).exitCode)
      throw std::runtime_error("mount failed");
    fs::remove(mnt + "/" + rel + "/" + overlayPath("fuse-", i));
    gdr::runCommand({"umount", mnt}, std::chrono::seconds(60));
    fuse.push_back(ms(t));
  }
  report("fuse", fuse);
  fs::remove(mnt);
  fs::remove_all(dir);
  return 0;
}

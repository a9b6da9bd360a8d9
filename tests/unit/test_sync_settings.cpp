// gdr-sync's settings: a storage domain's file under the flags, the errors
// that name a bad file's line; and what goes with them: which cycle is
// due, one cycle per state dir, progress lines.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "client/progress_lines.h"
#include "client/report_store.h"
#include "client/state_lock.h"
#include "client/sync_settings.h"
#include "core/json_util.h"
#include "core/uuid.h"

namespace gdr::sync {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class SyncSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("gdr-sync-settings-" + newUuid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void writeDomain(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const fs::path path = dir_ / (name + ".conf");
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
  }
  SyncSettings parse(std::vector<std::string> args) {
    args.insert(args.begin(), {"--config-dir", dir_.string()});
    return parseSyncArgs(args);
  }
  // The message parse() throws, or "" when it does not.
  std::string error(const std::vector<std::string>& args) {
    try {
      parse(args);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

const char* const kVmstore =
    "# vmstore: the gold VMs\n"
    "hosts = unix:/run/gdr/agent.sock, https://127.0.0.1:54321\n"
    "volume = vmstore\n"
    "secondary = dr-site-1::vmstore-dr\n"
    "verify = shards\n"
    "interval = 15m\n"
    "target_rpo = 1h\n"
    "alert_command = logger -t gdr '#dr' \"$GDR_SUBJECT\"\n"
    "alert_mail = dr@example.org,oncall@example.org\n"
    "alert_syslog = yes\n"
    "keep_points = 4\n";

TEST_F(SyncSettingsTest, ADomainsFileHoldsItsSettingsAndItsStateIsItsOwn) {
  writeDomain("vmstore", kVmstore);
  const SyncSettings s = parse({"--domain", "vmstore"});
  EXPECT_EQ(s.command, SyncCommand::Cycle);
  EXPECT_EQ(s.hosts, (std::vector<std::string>{"unix:/run/gdr/agent.sock", "https://127.0.0.1:54321"}));
  EXPECT_EQ(s.cycle.volume, "vmstore");
  EXPECT_EQ(s.cycle.secondaryHost, "dr-site-1");
  EXPECT_EQ(s.cycle.secondaryVolume, "vmstore-dr");
  EXPECT_EQ(s.cycle.verify, VerifyMode::Shards);
  EXPECT_EQ(s.cycle.keepPoints, 4);
  EXPECT_EQ(s.interval, seconds(900));
  EXPECT_EQ(s.rpo.critical, seconds(3600));
  EXPECT_EQ(s.rpo.warning, seconds(1800));  // half the target
  // '#' inside a value is the value's: only a line's first '#' is a comment.
  EXPECT_EQ(s.alerts.command, "logger -t gdr '#dr' \"$GDR_SUBJECT\"");
  EXPECT_EQ(s.alerts.mailTo, (std::vector<std::string>{"dr@example.org", "oncall@example.org"}));
  EXPECT_TRUE(s.alerts.syslog);
  EXPECT_EQ(s.stateDir, "/var/lib/gdr/sync/vmstore");
}

TEST_F(SyncSettingsTest, FlagsOverrideTheFileWhereverTheyStand) {
  writeDomain("vmstore", kVmstore + std::string("state_dir = /srv/gdr/vmstore\n"));
  const SyncSettings s =
      parse({"--verify=full", "--domain", "vmstore", "--target-rpo", "2h", "--rpo-warning", "90m", "check"});
  EXPECT_EQ(s.command, SyncCommand::Check);
  EXPECT_EQ(s.cycle.verify, VerifyMode::Full);
  EXPECT_EQ(s.rpo.critical, seconds(7200));
  EXPECT_EQ(s.rpo.warning, seconds(5400));
  EXPECT_EQ(s.stateDir, "/srv/gdr/vmstore");
  EXPECT_EQ(parse({"--domain", "vmstore", "--state-dir", "/tmp/x"}).stateDir, "/tmp/x");
  // The check's own names for its thresholds.
  const SyncSettings c = parse({"check", "--warning", "10m", "--critical", "20m"});
  EXPECT_EQ(c.rpo.warning, seconds(600));
  EXPECT_EQ(c.rpo.critical, seconds(1200));
}

TEST_F(SyncSettingsTest, WithoutADomainTheFlagsAloneDecideAsBefore) {
  const SyncSettings s = parse({"--hosts", "unix:/s", "--volume", "v", "--secondary", "h::w", "--no-repair", "--json"});
  EXPECT_FALSE(s.cycle.repair);
  EXPECT_TRUE(parse({"--hosts", "unix:/s", "--volume", "v", "--secondary", "h::w"}).cycle.repair);
  EXPECT_TRUE(
      parse({"--hosts", "unix:/s", "--volume", "v", "--secondary", "h::w", "--no-repair", "--repair"}).cycle.repair);
  EXPECT_TRUE(s.json);
  EXPECT_EQ(s.stateDir, "/var/lib/gdr/sync");
  EXPECT_EQ(s.rpo.warning, seconds(3600));
  EXPECT_EQ(s.rpo.critical, seconds(7200));
  EXPECT_EQ(s.cycle.layout, Layout::Delta);
  EXPECT_EQ(sessionAfterSync(s.cycle), SessionAfterSync::Stop);
  EXPECT_EQ(sessionAfterSync(
                parse({"--hosts", "unix:/s", "--volume", "v", "--secondary", "h::w", "--session", "keep"}).cycle),
            SessionAfterSync::Keep);
  EXPECT_TRUE(s.cycle.georepStartAfterRollover);
  EXPECT_FALSE(parse({"--hosts", "unix:/s", "--volume", "v", "--secondary", "h::w", "--georep-start", "at-once"})
                   .cycle.georepStartAfterRollover);
}

// A bad file is refused whole, naming the file and the line.
TEST_F(SyncSettingsTest, ABadFileNamesItsLine) {
  const std::string path = (dir_ / "vmstore.conf").string();
  writeDomain("vmstore", "volume = vmstore\n\nhots = unix:/s\n");
  EXPECT_EQ(error({"--domain", "vmstore"}), path + ":3: unknown setting 'hots' (see gdr-sync --help)");
  writeDomain("vmstore", "volume = vmstore\nverify = sometimes\n");
  EXPECT_EQ(error({"--domain", "vmstore"}), path + ":2: verify takes none, sample, shards or full");
  writeDomain("vmstore", "volume vmstore\n");
  EXPECT_EQ(error({"--domain", "vmstore"}), path + ":1: expected 'key = value'");
  writeDomain("vmstore", "alert_syslog = maybe\n");
  EXPECT_EQ(error({"--domain", "vmstore"}), path + ":1: alert_syslog takes yes or no");
  writeDomain("vmstore", "target_rpo = 1h\nrpo_warning = 2h\n");
  EXPECT_EQ(error({"--domain", "vmstore", "check"}), "the RPO warning threshold is above the target");
  // A flag a file may not hold: the run's own.
  writeDomain("vmstore", "every = 1h\n");
  EXPECT_EQ(error({"--domain", "vmstore"}), path + ":1: unknown setting 'every' (see gdr-sync --help)");
  // Settings the cycle needs, missing from file and flags alike.
  writeDomain("vmstore", "volume = vmstore\n");
  EXPECT_EQ(error({"--domain", "vmstore"}), "--hosts, --volume and --secondary HOST::VOLUME are required (in " +
                                                dir_.string() + "/vmstore.conf or a flag)");
}

// The file names commands gdr-sync runs as root: one others may write is
// refused; a domain name is a file name, never a path.
TEST_F(SyncSettingsTest, AFileOthersMayWriteAndANameThatIsAPathAreRefused) {
  writeDomain("vmstore", kVmstore, 0664);
  EXPECT_NE(error({"--domain", "vmstore"}).find("may be written by others than its owner"), std::string::npos);
  for (const char* name : {"../etc/passwd", ".hidden", "-x", "a/b", "", "a b"}) {
    EXPECT_NE(error({"--domain", name}).find("is not a domain name"), std::string::npos) << name;
  }
  EXPECT_EQ(error({"--domain", "absent"}), "no domain 'absent': cannot read " + (dir_ / "absent.conf").string());
}

TEST_F(SyncSettingsTest, FlagsAreChecked) {
  EXPECT_EQ(error({"--hots", "x"}), "unknown argument '--hots' (see --help)");
  EXPECT_EQ(error({"--volume"}), "--volume needs a value");
  EXPECT_EQ(error({"--repair=yes"}), "--repair takes no value");
  EXPECT_EQ(error({"check", "points"}), "one command at a time: 'points' after another");
  EXPECT_EQ(error({"--keep-points", "0"}), "--keep-points takes a whole number from 1 to 9999");
  EXPECT_EQ(error({"--timeout", "99999999999999d"}), "--timeout: bad duration '99999999999999d' (e.g. 90s, 15m, 1h)");
  EXPECT_EQ(error({"--hosts", "unix:/s", "--volume", "v", "--secondary", "h::w", "--if-due"}),
            "--if-due needs an interval (--interval, or the domain's)");
  EXPECT_EQ(error({"points", "--hosts", "unix:/s"}), "--hosts and --secondary HOST::VOLUME are required");
  EXPECT_EQ(error({"--session", "pause"}), "--session takes keep or stop");
  EXPECT_EQ(error({"--georep-start", "later"}), "--georep-start takes after-rollover or at-once");
  EXPECT_EQ(
      error({"--hosts", "unix:/s", "--volume", "v", "--secondary", "h::w", "--layout", "flat", "--session", "keep"}),
      "--session keep needs the delta layout: in the flat layout the VMs rewrite the bases the secondary holds");
  EXPECT_TRUE(parse({"check", "--help"}).help);
}

TEST_F(SyncSettingsTest, MergeBandwidthIsAutoByDefaultMiBPerSecondOrUnlimited) {
  const std::vector<std::string> site{"--hosts", "unix:/s", "--volume", "v", "--secondary", "h::w"};
  auto with = [&](const std::string& value) {
    std::vector<std::string> args = site;
    args.insert(args.end(), {"--merge-bandwidth", value});
    return parse(args).cycle;
  };
  // auto by default
  EXPECT_EQ(parse(site).cycle.mergeBandwidth, 0u);
  EXPECT_TRUE(parse(site).cycle.pacedMerges);
  EXPECT_EQ(with("20").mergeBandwidth, 20u);
  EXPECT_FALSE(with("20").pacedMerges);
  EXPECT_TRUE(with("auto").pacedMerges);
  EXPECT_EQ(with("auto").mergeBandwidth, 0u);
  EXPECT_FALSE(with("unlimited").pacedMerges);
  EXPECT_EQ(with("unlimited").mergeBandwidth, 0u);
  EXPECT_EQ(error({"--merge-bandwidth", "fast"}),
            "--merge-bandwidth takes a whole number from 1 to 999999 (MiB/s, auto or unlimited)");
  EXPECT_EQ(error({"--merge-bandwidth", "0"}),
            "--merge-bandwidth takes a whole number from 1 to 999999 (MiB/s, auto or unlimited)");
}

// check's own trouble is UNKNOWN to a monitoring system: the error names
// the command the arguments named, wherever the mistake stands, and a
// flag's value is never taken for a command.
TEST_F(SyncSettingsTest, AnErrorKnowsTheCommand) {
  const auto commandOf = [&](const std::vector<std::string>& args) {
    try {
      parse(args);
    } catch (const SyncUsageError& e) {
      return e.command;
    }
    ADD_FAILURE() << "no error";
    return SyncCommand::Cycle;
  };
  EXPECT_EQ(commandOf({"check", "--hots", "x"}), SyncCommand::Check);
  EXPECT_EQ(commandOf({"--hots", "check"}), SyncCommand::Check);
  EXPECT_EQ(commandOf({"--warning", "soon", "check"}), SyncCommand::Check);
  EXPECT_EQ(commandOf({"--volume", "check"}), SyncCommand::Cycle);
  EXPECT_EQ(commandOf({"history", "--last", "0"}), SyncCommand::History);
  EXPECT_EQ(error({"--hosts", "unix:/a,,unix:/b", "--volume", "v", "--secondary", "h::w"}),
            "--hosts: empty entry in 'unix:/a,,unix:/b'");
}

// setup needs the secondary's agent besides the session's ends, from a
// flag or the domain's file.
TEST_F(SyncSettingsTest, SetupNeedsTheSecondarysAgent) {
  const std::vector<std::string> session = {"setup", "--hosts", "unix:/s", "--volume", "v", "--secondary", "h::w"};
  EXPECT_EQ(error(session), "--hosts, --volume, --secondary HOST::VOLUME and --secondary-agent are required");
  auto args = session;
  args.insert(args.end(), {"--secondary-agent", "dr1:54321"});
  EXPECT_EQ(error(args), "--secondary-agent takes unix:/path or https://host:port");
  args.back() = "https://dr1:54321";
  const SyncSettings s = parse(args);
  EXPECT_EQ(s.command, SyncCommand::Setup);
  EXPECT_EQ(s.secondaryAgent, "https://dr1:54321");
  writeDomain("vmstore", std::string(kVmstore) + "secondary_agent = unix:/run/gdr/dr.sock\n");
  EXPECT_EQ(parse({"setup", "--domain", "vmstore"}).secondaryAgent, "unix:/run/gdr/dr.sock");
}

TEST_F(SyncSettingsTest, TheDomainsAreTheConfFilesOfTheDirectory) {
  writeDomain("vmstore", kVmstore);
  writeDomain("bronze.tier", kVmstore);
  std::ofstream(dir_ / "vmstore.conf.rpmsave") << kVmstore;
  std::ofstream(dir_ / "README") << "not a domain\n";
  EXPECT_EQ(listDomains(dir_.string()), (std::vector<std::string>{"bronze.tier", "vmstore"}));
  EXPECT_TRUE(listDomains((dir_ / "absent").string()).empty());
  const SyncSettings bronze = domainSettings(dir_.string(), "bronze.tier");
  EXPECT_EQ(bronze.stateDir, "/var/lib/gdr/sync/bronze.tier");
  EXPECT_EQ(bronze.rpo.critical, seconds(3600));
}

// A cycle is due once its interval has passed since the last one started
// (less the timer's 30 s granularity), or when none has run.
TEST(CycleDue, TheIntervalCountsFromTheLastStart) {
  const Json::Value none(Json::arrayValue);
  EXPECT_TRUE(cycleDue(none, 1000, 900));
  const Json::Value ran = json::parseOrThrow(R"([{"startTime": 100}, {"startTime": 1000}])", "history");
  EXPECT_FALSE(cycleDue(ran, 1000 + 600, 900));
  EXPECT_FALSE(cycleDue(ran, 1000 + 869, 900));
  EXPECT_TRUE(cycleDue(ran, 1000 + 870, 900));
  EXPECT_TRUE(cycleDue(ran, 1000 + 5000, 900));
}

// Open-file-description locks belong to an open file: a second lock in
// this process meets the first as another process (or host) would.
TEST(StateDirLock, OneCycleAtATimePerStateDir) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("gdr-lock-" + newUuid());
  char host[256] = "";
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  {
    StateDirLock first(dir.string());
    try {
      StateDirLock second(dir.string());
      FAIL() << "two locks on one state dir";
    } catch (const StateDirBusy& e) {
      EXPECT_EQ(std::string(e.what()), "another gdr-sync runs a cycle on " + dir.string() + " (host " +
                                           std::string(host) + ", pid " + std::to_string(::getpid()) + ")");
    }
    // Another domain's state dir is not held.
    StateDirLock other((dir / "other").string());
  }
  StateDirLock again(dir.string());  // released with its holder
  fs::remove_all(dir);
}

// A holder killed with -9 leaves the domain unlocked: the next run takes it.
TEST(StateDirLock, AHolderKilledReleasesIt) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("gdr-lock-" + newUuid());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    StateDirLock held(dir.string());
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  try {
    StateDirLock second(dir.string());
    ADD_FAILURE() << "taken while another process holds it";
  } catch (const StateDirBusy& e) {
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(child) + ")"), std::string::npos) << e.what();
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_NO_THROW(StateDirLock after(dir.string()));
  ::close(ready[0]);
  ::close(ready[1]);
  fs::remove_all(dir);
}

// A state dir on the shared storage is refused while the volume is not
// mounted there (every host would lock a directory of its own).
TEST(StateDirLock, TheSharedStorageMustBeMountedForAStateDirOnIt) {
  const fs::path root = fs::path(::testing::TempDir()) / ("gdr-shared-" + newUuid());
  fs::create_directories(root);
  EXPECT_THROW(requireSharedStorageMounted((root / "gdr/lab").string(), root.string()), std::runtime_error);
  EXPECT_THROW(requireSharedStorageMounted(root.string() + "/./gdr", root.string()), std::runtime_error);
  // Elsewhere: no requirement. Under a mounted root (/proc is one): none.
  EXPECT_NO_THROW(requireSharedStorageMounted(root.string() + "-other/gdr", root.string()));
  EXPECT_NO_THROW(requireSharedStorageMounted("/var/lib/gdr/sync/lab"));
  EXPECT_NO_THROW(requireSharedStorageMounted("/proc/gdr", "/proc"));
  fs::remove_all(root);
}

TEST(ProgressLines, ALogGetsEachLineOnce) {
  ProgressLines lines(0);
  EXPECT_EQ(lines.update("snapshot", "1/2 VMs", false), "snapshot 1/2 VMs\n");
  EXPECT_EQ(lines.update("snapshot", "2/2 VMs", false), "snapshot 2/2 VMs\n");
  EXPECT_EQ(lines.update("snapshot", "2/2 VMs", true), "");  // the step's end says nothing new
  EXPECT_EQ(lines.update("geo-rep", "0/2 workers", false), "geo-rep 0/2 workers\n");
  EXPECT_EQ(lines.update("geo-rep", "0/2 workers", false), "");
  EXPECT_EQ(lines.update("geo-rep", "2/2 workers", false), "geo-rep 2/2 workers\n");
  EXPECT_EQ(lines.update("geo-rep", "FINISHED", true), "geo-rep FINISHED\n");
  EXPECT_EQ(lines.finish(), "");
}

TEST(ProgressLines, ATerminalRedrawsTheLineInPlace) {
  ProgressLines lines(40);
  EXPECT_EQ(lines.update("snapshot", "1/2 VMs", false), "\r\033[Ksnapshot 1/2 VMs");
  EXPECT_EQ(lines.update("snapshot", "2/2 VMs", true), "\r\033[Ksnapshot 2/2 VMs\n");
  // Wider than the terminal: cut to one row, or "\r" would redraw only its last.
  const std::string wide = lines.update("geo-rep", std::string(60, 'x'), false);
  EXPECT_EQ(wide, "\r\033[Kgeo-rep " + std::string(28, 'x') + "...");
  EXPECT_EQ(wide.size() - 4, 39u);
  // The cycle failed with that line open: its newline comes at the end.
  EXPECT_EQ(lines.finish(), "\n");
  EXPECT_EQ(lines.finish(), "");
}

}  // namespace
}  // namespace gdr::sync

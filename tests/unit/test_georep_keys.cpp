// The geo-replication keys: gsec_create's lines parsed, checked (a forced
// command, one line), merged into authorized_keys without touching what
// is there, and written into a home as root would, refusing symlinks.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/uuid.h"
#include "gluster/cli.h"
#include "gluster/georep_keys.h"

namespace gdr::gluster {
namespace {

namespace fs = std::filesystem;

// As gsec_create writes them (common_secret.pem.pub): per primary node,
// a key for gsyncd and one for the tar+ssh sync, two blanks after the option.
const std::string kGsyncdKey =
    "command=\"/usr/lib/x86_64-linux-gnu/glusterfs/gsyncd\"  ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQDkV1node1gsyncdKeyForTheLab0123456789abcdefABCDEF== root@node1";
const std::string kTarKey =
    "command=\"tar ${SSH_ORIGINAL_COMMAND#* }\"  ssh-rsa "
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQCx9node1tarKeyForTheLab0123456789abcdefABCDEF+/== root@node1";
const std::string kOperatorKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorsOwnKeyNotTouched0123456789 admin@laptop";

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(GeoRepKeys, GsecCreatesLinesParseWithTheirForcedCommands) {
  auto key = parseAuthorizedKey(kTarKey);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->options, "command=\"tar ${SSH_ORIGINAL_COMMAND#* }\"");  // a blank inside the quotes
  EXPECT_EQ(key->type, "ssh-rsa");
  EXPECT_EQ(key->comment, "root@node1");
  key = parseAuthorizedKey(kOperatorKey);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->options, "");
  EXPECT_EQ(key->type, "ssh-ed25519");
  for (const char* notAKey : {"", "   ", "# a comment", "ssh-rsa", "ssh-rsa not*base64!", "command=\"x\" ssh-foo AAAA",
                              "command=\"unterminated ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB"}) {
    EXPECT_FALSE(parseAuthorizedKey(notAKey)) << notAKey;
  }
}

TEST(GeoRepKeys, OnlyOneLineKeysWithAForcedCommandAreTakenIn) {
  EXPECT_EQ(checkGeoRepKey(kGsyncdKey, 0).type, "ssh-rsa");
  auto refusal = [](const std::string& line) -> std::string {
    try {
      checkGeoRepKey(line, 3);
    } catch (const AgentError& e) {
      EXPECT_EQ(e.code(), Code::GeoRepKeyRejected);
      EXPECT_EQ(e.data()["index"].asUInt64(), 3u);
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(refusal(kOperatorKey),
            "geoRepPubKeys[3]: no forced command (command=\"...\"): geo-replication keys run gsyncd or tar only");
  EXPECT_EQ(refusal("no-pty " + kOperatorKey),
            "geoRepPubKeys[3]: no forced command (command=\"...\"): geo-replication keys run gsyncd or tar only");
  EXPECT_EQ(refusal(kGsyncdKey + "\n" + kOperatorKey), "geoRepPubKeys[3]: more than one line");
  EXPECT_EQ(refusal("hello"), "geoRepPubKeys[3]: not an authorized_keys line with a public key");
  // Another option before the command is fine.
  EXPECT_NO_THROW(checkGeoRepKey("no-pty," + kGsyncdKey, 0));
}

// What the file holds stays byte for byte (comments, the operator's own
// keys, a last line without its newline); a key held already, whatever
// its options, is not added again; the new ones come once, in order.
TEST(GeoRepKeys, TheMergeKeepsTheFileAndAddsEachKeyOnce) {
  const std::string existing = "# keys of the DR site\n" + kOperatorKey + "\nno-pty " +
                               kGsyncdKey.substr(kGsyncdKey.find("ssh-rsa"));  // no newline at the end
  const KeyMerge merge = mergeAuthorizedKeys(existing, {kGsyncdKey, kTarKey, kTarKey});
  EXPECT_EQ(merge.present, 1);  // the gsyncd key, held with other options
  EXPECT_EQ(merge.added, 1);
  EXPECT_EQ(merge.text, existing + "\n" + kTarKey + "\n");
  const KeyMerge again = mergeAuthorizedKeys(merge.text, {kGsyncdKey, kTarKey});
  EXPECT_EQ(again.added, 0);
  EXPECT_EQ(again.present, 2);
  EXPECT_EQ(again.text, merge.text);
  EXPECT_EQ(mergeAuthorizedKeys("", {kGsyncdKey}).text, kGsyncdKey + "\n");
}

class AuthorizedKeysFile : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::path(::testing::TempDir()) / ("gdr-home-" + newUuid());
    fs::create_directories(home_);
    const passwd* me = ::getpwuid(::getuid());
    ASSERT_NE(me, nullptr);
    user_ = me->pw_name;
  }
  void TearDown() override { fs::remove_all(home_); }
  Code failure(const std::vector<std::string>& keys, std::string* message = nullptr) {
    try {
      updateAuthorizedKeys(user_, keys, home_.string());
    } catch (const AgentError& e) {
      if (message) *message = e.what();
      return e.code();
    }
    return Code::GeneralException;  // not refused
  }
  fs::path home_;
  std::string user_;
};

TEST_F(AuthorizedKeysFile, MadeForTheUserAndLeftAloneWhenItHoldsTheKeys) {
  KeyMerge merge = updateAuthorizedKeys(user_, {kGsyncdKey, kTarKey}, home_.string());
  EXPECT_EQ(merge.added, 2);
  struct stat st {};
  ASSERT_EQ(::stat((home_ / ".ssh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((home_ / ".ssh/authorized_keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, ::getuid());
  EXPECT_EQ(readFile(home_ / ".ssh/authorized_keys"), kGsyncdKey + "\n" + kTarKey + "\n");
  const auto written = fs::last_write_time(home_ / ".ssh/authorized_keys");
  merge = updateAuthorizedKeys(user_, {kTarKey, kGsyncdKey}, home_.string());
  EXPECT_EQ(merge.added, 0);
  EXPECT_EQ(merge.present, 2);
  EXPECT_EQ(fs::last_write_time(home_ / ".ssh/authorized_keys"), written);  // not rewritten
}

// Root writes into a user's home: a symlink planted there is never followed.
TEST_F(AuthorizedKeysFile, SymlinksAreRefusedAndNothingIsWrittenThrough) {
  const fs::path target = home_ / "elsewhere";
  fs::create_directories(target);
  fs::create_directory_symlink(target, home_ / ".ssh");
  std::string message;
  EXPECT_EQ(failure({kGsyncdKey}, &message), Code::GeoRepPublicKeyWriteFailed);
  EXPECT_NE(message.find(".ssh is not a directory of"), std::string::npos) << message;
  EXPECT_TRUE(fs::is_empty(target));

  fs::remove(home_ / ".ssh");
  fs::create_directories(home_ / ".ssh");
  std::ofstream(target / "victim") << "untouched\n";
  fs::create_symlink(target / "victim", home_ / ".ssh/authorized_keys");
  EXPECT_EQ(failure({kGsyncdKey}, &message), Code::GeoRepPublicKeyWriteFailed);
  EXPECT_NE(message.find("is not a regular file"), std::string::npos) << message;
  EXPECT_EQ(readFile(target / "victim"), "untouched\n");
}

TEST_F(AuthorizedKeysFile, AnUnknownUserIsRefused) {
  try {
    updateAuthorizedKeys("gdr-no-such-user-" + newUuid().substr(0, 8), {kGsyncdKey}, home_.string());
    ADD_FAILURE() << "no refusal";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::GeoRepUserNotFound);
  }
  EXPECT_FALSE(fs::exists(home_ / ".ssh"));
}

// gsec_create's file as the lab's gluster 10.3 wrote it: every key in it
// is one geoRepKeysUpdate takes, and a second merge adds nothing.
TEST(GeoRepKeys, TheKeysGsecCreateWroteAreTakenIn) {
  const std::vector<std::string> keys =
      readGeoRepPublicKeys(std::string(GDR_SOURCE_DIR) + "/tests/fixtures/gluster/common_secret.pem.pub");
  ASSERT_EQ(keys.size(), 2u);
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_NO_THROW(checkGeoRepKey(keys[i], i)) << keys[i];
  EXPECT_EQ(parseAuthorizedKey(keys[1])->options, "command=\"tar ${SSH_ORIGINAL_COMMAND#* }\"");
  const KeyMerge merge = mergeAuthorizedKeys("", keys);
  EXPECT_EQ(merge.added, 2);
  EXPECT_EQ(mergeAuthorizedKeys(merge.text, keys).added, 0);
}

TEST(GeoRepKeys, ThePublicKeyFileIsReadAndAMissingOneSaysSo) {
  const fs::path file = fs::path(::testing::TempDir()) / ("gdr-pem-" + newUuid());
  std::ofstream(file) << kGsyncdKey << "\n\n" << kTarKey << "\n";
  EXPECT_EQ(readGeoRepPublicKeys(file.string()), (std::vector<std::string>{kGsyncdKey, kTarKey}));
  fs::remove(file);
  try {
    readGeoRepPublicKeys(file.string());
    ADD_FAILURE() << "no refusal";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::GeoRepPublicKeyFileReadError);
  }
}

// gsec_create through the CLI seam: its exit code decides, and a failure
// carries what gluster said.
TEST(GeoRepKeys, GsecCreateFailureSaysWhatGlusterSaid) {
  struct Runner : CommandRunner {
    std::vector<std::string> args;
    int exitCode = 0;
    CommandResult run(const std::vector<std::string>& a, std::chrono::milliseconds) override {
      args = a;
      CommandResult r;
      r.exitCode = exitCode;
      r.err = exitCode ? "gsec_create: failed to create pem keys" : "";
      return r;
    }
  } runner;
  GlusterCli cli(runner, std::chrono::seconds(5));
  cli.geoRepKeysCreate();
  EXPECT_EQ(runner.args, (std::vector<std::string>{"system::", "execute", "gsec_create"}));
  runner.exitCode = 1;
  try {
    cli.geoRepKeysCreate();
    ADD_FAILURE() << "no refusal";
  } catch (const AgentError& e) {
    EXPECT_EQ(e.code(), Code::GeoRepPublicKeyFileCreateFailed);
    EXPECT_EQ(std::string(e.what()), "gsec_create failed: gsec_create: failed to create pem keys");
  }
}

// A failover's fence: geo-replication's keys out, every other line as it
// was, the keys kept aside first; a second fence changes nothing.
TEST(GeoRepKeys, TheFenceTakesOutOnlyGeoRepKeysAndKeepsThemAside) {
  const std::string existing = "# operators\n" + kOperatorKey + "\n" + kGsyncdKey + "\n" + kTarKey + "\n";
  const KeyFence pure = withoutGeoRepKeys(existing);
  EXPECT_EQ(pure.text, "# operators\n" + kOperatorKey + "\n");
  EXPECT_EQ(pure.removed, (std::vector<std::string>{kGsyncdKey, kTarKey}));

  const fs::path home = fs::path(testing::TempDir()) / ("gdr-fence-" + newUuid());
  fs::create_directories(home / ".ssh");
  std::ofstream(home / ".ssh" / "authorized_keys") << existing;
  const fs::path aside = home / "aside";
  const std::string me = ::getpwuid(::geteuid())->pw_name;
  const KeyFence fence = fenceGeoRepKeys(me, aside.string(), home.string());
  EXPECT_EQ(fence.removed.size(), 2u);
  EXPECT_EQ(readFile(home / ".ssh" / "authorized_keys"), "# operators\n" + kOperatorKey + "\n");
  EXPECT_EQ(readFile(aside), kGsyncdKey + "\n" + kTarKey + "\n");
  fs::remove(aside);
  EXPECT_TRUE(fenceGeoRepKeys(me, aside.string(), home.string()).removed.empty());
  EXPECT_FALSE(fs::exists(aside));  // nothing to keep: nothing written
  fs::remove_all(home);
}

}  // namespace
}  // namespace gdr::gluster

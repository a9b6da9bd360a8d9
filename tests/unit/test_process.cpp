#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/process.h"

namespace gdr {
namespace {

using namespace std::chrono_literals;

TEST(Process, CapturesOutputAndExitCode) {
  const auto r = runCommand({"sh", "-c", "echo out; echo err >&2; exit 3"}, 5s);
  EXPECT_EQ(r.exitCode, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.timedOut);
}

TEST(Process, KillsAtTheDeadline) {
  const auto started = std::chrono::steady_clock::now();
  const auto r = runCommand({"sleep", "30"}, 200ms);
  EXPECT_TRUE(r.timedOut);
  EXPECT_EQ(r.exitCode, -1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(Process, TheChildInheritsNoOtherDescriptor) {
  const int fd = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(fd, 3);
  const auto r = runCommand({"sh", "-c", "test -e /proc/self/fd/" + std::to_string(fd) + " && echo leaked || echo closed"},
                            std::chrono::seconds(5));
  ::close(fd);
  EXPECT_EQ(r.out, "closed\n");
}

TEST(Process, MissingProgram) {
  const auto r = runCommand({"gdr-no-such-program"}, 1s);
  EXPECT_TRUE(r.spawnFailed || r.exitCode == 127);
}

}  // namespace
}  // namespace gdr

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

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
  const auto r =
      runCommand({"sh", "-c", "test -e /proc/self/fd/" + std::to_string(fd) + " && echo leaked || echo closed"},
                 std::chrono::seconds(5));
  ::close(fd);
  EXPECT_EQ(r.out, "closed\n");
}

TEST(Process, FeedsStandardInputAndAddsToTheEnvironment) {
  CommandInput input;
  input.stdinText = std::string(1 << 20, 'x') + "end";  // more than a pipe holds
  input.environment = {"GDR_TEST_VALUE=42"};
  const auto r = runCommand({"sh", "-c", "wc -c; echo $GDR_TEST_VALUE"}, 10s, 1 << 20, input);
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_EQ(r.out, std::to_string((1 << 20) + 3) + "\n42\n");
  EXPECT_NE(std::getenv("PATH"), nullptr);  // the rest of the environment, as ever
}

// A program that reads none of a large input, and exits: no SIGPIPE takes
// this process down, and the result is the program's.
TEST(Process, AProgramThatReadsNoneOfItsInputIsNoTrouble) {
  CommandInput input;
  input.stdinText = std::string(4 << 20, 'x');
  const auto r = runCommand({"sh", "-c", "exec 0<&-; echo done"}, 10s, 1 << 20, input);
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_EQ(r.out, "done\n");
  EXPECT_FALSE(r.timedOut);
}

TEST(Process, MissingProgram) {
  const auto r = runCommand({"gdr-no-such-program"}, 1s);
  EXPECT_TRUE(r.spawnFailed || r.exitCode == 127);
}

}  // namespace
}  // namespace gdr

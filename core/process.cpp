#include "core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace gdr {

namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void closeEnd(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

// write(2) to a pipe whose reader is gone, without SIGPIPE: the signal is
// blocked in this thread for the call, and one it raised is taken back.
ssize_t writeWithoutSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipeOnly, old, pending;
  sigemptyset(&pipeOnly);
  sigaddset(&pipeOnly, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipeOnly, &old);
  sigpending(&pending);
  const bool alreadyPending = sigismember(&pending, SIGPIPE);
  const ssize_t put = ::write(fd, data, size);
  const int saved = errno;
  if (put < 0 && saved == EPIPE && !alreadyPending) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipeOnly, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return put;
}

}  // namespace

CommandResult runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, size_t maxOutput,
                         const CommandInput& input) {
  CommandResult result;
  Pipe out, err, in;
  const bool feed = !input.stdinText.empty();
  if (argv.empty() || ::pipe2(out.fd, O_CLOEXEC) != 0 || ::pipe2(err.fd, O_CLOEXEC) != 0 ||
      (feed && ::pipe2(in.fd, O_CLOEXEC) != 0)) {
    result.spawnFailed = true;
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (feed) {
    posix_spawn_file_actions_adddup2(&actions, in.fd[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err.fd[1], 2);
  // Nothing else of the agent's reaches the child: a listening socket
  // inherited by a gluster CLI call would outlive a killed agent and keep
  // the next one from taking over the socket.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) env.push_back(*e);
  for (const auto& e : input.environment) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  out.closeEnd(1);
  err.closeEnd(1);
  in.closeEnd(0);
  // Written as the child reads it, never blocking: a child that stops
  // reading cannot hold this process past the deadline.
  size_t fed = 0;
  if (feed) ::fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
  if (rc != 0) {
    result.spawnFailed = true;
    result.err = std::string("cannot run ") + argv[0] + ": " + strerror(rc);
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[3] = {{out.fd[0], POLLIN, 0}, {err.fd[0], POLLIN, 0}, {feed ? in.fd[1] : -1, POLLOUT, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timedOut = true;
      ::kill(pid, SIGKILL);
      break;
    }
    const int n = ::poll(fds, 3, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t put = writeWithoutSigpipe(in.fd[1], input.stdinText.data() + fed, input.stdinText.size() - fed);
      if (put > 0) fed += size_t(put);
      if ((put < 0 && errno != EAGAIN && errno != EINTR) || fed == input.stdinText.size()) {
        in.closeEnd(1);  // all of it, or the child closed its end (EPIPE)
        fds[2].fd = -1;
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        if (sinks[i]->size() < maxOutput) sinks[i]->append(buf, std::min<size_t>(got, maxOutput - sinks[i]->size()));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!result.timedOut && WIFEXITED(status)) result.exitCode = WEXITSTATUS(status);
  return result;
}

}  // namespace gdr

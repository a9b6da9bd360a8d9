#include <gtest/gtest.h>

#include <sstream>

#include "client/cli.h"
#include "client/rpc_client.h"

namespace gdr::client {
namespace {

struct CliRun {
  int code;
  std::string out, err;
};

CliRun run(std::vector<std::string> args, const std::string& input = "") {
  std::istringstream in(input);
  std::ostringstream out, err;
  const int code = runCli(args, in, out, err);
  return {code, out.str(), err.str()};
}

TEST(Cli, HelpIsGeneratedFromTheSchema) {
  CliRun r = run({"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("Host"), std::string::npos);
  r = run({"Host", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("getJobs"), std::string::npos);
  EXPECT_NE(r.out.find("abortJob"), std::string::npos);
  r = run({"Host", "abortJob", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("jobId (string, required)"), std::string::npos) << r.out;
}

TEST(Cli, UsageErrors) {
  EXPECT_EQ(run({}).code, kExitUsage);
  EXPECT_EQ(run({"Nope", "ping"}).code, kExitUsage);
  EXPECT_EQ(run({"Host", "nope", "--help"}).code, kExitUsage);
  EXPECT_EQ(run({"Host", "getJobs", "jobIds"}).code, kExitUsage);
  EXPECT_EQ(run({"--timeout"}).code, kExitUsage);
  EXPECT_EQ(run({"Host", "getJobs", "-f", "-"}, "[1,2]").code, kExitUsage);
}

// A reply nested deeper than any result is a protocol error, not an abort.
TEST(RpcClient, ADeeplyNestedReplyIsAProtocolError) {
  class Deep : public Transport {
    std::string roundTrip(const std::string&, const std::string&) override {
      return R"({"jsonrpc":"2.0","id":1,"result":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
    }
  };
  RpcClient rpc(std::make_unique<Deep>());
  try {
    rpc.call("Host.ping");
    ADD_FAILURE() << "accepted";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.kind(), ClientError::Kind::Protocol);
  }
}

TEST(Cli, ConnectionFailureHasItsOwnExitCode) {
  const CliRun r = run({"-s", "/nonexistent/gdr.sock", "Host", "ping"});
  EXPECT_EQ(r.code, kExitConnection);
  EXPECT_NE(r.err.find("/nonexistent/gdr.sock"), std::string::npos);
}

}  // namespace
}  // namespace gdr::client

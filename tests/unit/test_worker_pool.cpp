#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "core/dispatcher.h"
#include "core/json_util.h"
#include "agent/worker_pool.h"

namespace gdr {
namespace {

using namespace std::chrono_literals;

TEST(WorkerPool, RefusesBeyondCapacityAndDrains) {
  WorkerPool pool(1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  auto blocked = [&] {
    gate.wait();
    ++ran;
  };
  ASSERT_TRUE(pool.trySubmit(blocked));  // running
  // Wait until the worker took it, so the queue is empty again.
  for (int i = 0; i < 200 && pool.inFlight() != 1; ++i) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(pool.trySubmit(blocked));   // queued 1
  EXPECT_TRUE(pool.trySubmit(blocked));   // queued 2
  EXPECT_FALSE(pool.trySubmit(blocked));  // full: refused at once
  release.set_value();
  EXPECT_TRUE(pool.drain(5s));
  EXPECT_EQ(ran, 3);
  EXPECT_FALSE(pool.trySubmit(blocked));  // stopped
}

const char* const kSchema = R"({"version":"t","namespaces":{"T":{"doc":"t"}},"verbs":[
  {"namespace":"T","name":"fast","doc":"f","execution":"inline","params":[],"returns":{"type":"object","doc":"-"}},
  {"namespace":"T","name":"slow","doc":"s","params":[],"returns":{"type":"object","doc":"-"}}]})";

TEST(RequestRunner, InlineOnCallerWorkersElsewhereBusyWhenFull) {
  const Schema schema = Schema::parse(kSchema);
  Registry registry;
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> fastOnCaller{false};
  registry.add("T.fast", [&](const Json::Value&, const CallContext&) {
    fastOnCaller = std::this_thread::get_id() == caller;
    return Json::Value("fast");
  });
  registry.add("T.slow", [&](const Json::Value&, const CallContext&) {
    gate.wait();
    return Json::Value("slow");
  });
  Dispatcher dispatcher(schema, registry);
  WorkerPool pool(1, 1);
  RequestRunner runner(dispatcher, pool);

  std::vector<std::string> replies;
  std::mutex mutex;
  auto collect = [&](std::optional<std::string> reply) {
    std::lock_guard<std::mutex> lock(mutex);
    replies.push_back(reply.value_or("(none)"));
  };
  const std::string slow = R"({"jsonrpc":"2.0","method":"T.slow","id":1})";
  runner.submit(slow, {}, collect);  // running
  for (int i = 0; i < 200 && pool.inFlight() != 1; ++i) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);
  runner.submit(slow, {}, collect);  // queued
  runner.submit(slow, {}, collect);  // refused: busy
  runner.submit(R"({"jsonrpc":"2.0","method":"T.fast","id":2})", {}, collect);  // inline, not blocked
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_EQ(json::parse(replies[0])->get("error", {})["code"], 1100);
    EXPECT_EQ(json::parse(replies[1])->get("result", ""), "fast");
  }
  EXPECT_TRUE(fastOnCaller);
  release.set_value();
  EXPECT_TRUE(pool.drain(5s));
  EXPECT_EQ(replies.size(), 4u);

  runner.beginShutdown();
  runner.submit(R"({"jsonrpc":"2.0","method":"T.fast","id":3})", {}, collect);
  EXPECT_EQ(json::parse(replies.back())->get("error", {})["code"], 1101);
}

TEST(RequestRunner, AnswersRequestTimeoutWhenAWorkerRequestOverrunsItsDeadline) {
  const Schema schema = Schema::parse(kSchema);
  Registry registry;
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  registry.add("T.fast", [](const Json::Value&, const CallContext&) { return Json::Value("fast"); });
  registry.add("T.slow", [&](const Json::Value&, const CallContext&) {
    ++ran;
    gate.wait();
    return Json::Value("slow");
  });
  Dispatcher dispatcher(schema, registry);
  WorkerPool pool(1, 4);
  RequestRunner runner(dispatcher, pool, 200ms);
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<Json::Value> replies;
  auto collect = [&](std::optional<std::string> reply) {
    std::lock_guard<std::mutex> lock(mutex);
    replies.push_back(json::parse(reply.value_or("null")).value_or(Json::Value()));
    arrived.notify_all();
  };
  runner.submit(R"({"jsonrpc":"2.0","method":"T.slow","id":1})", {}, collect);  // runs, then hangs
  runner.submit(R"({"jsonrpc":"2.0","method":"T.slow","id":2})", {}, collect);  // waits behind it
  {
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(arrived.wait_for(lock, 5s, [&] { return replies.size() == 2; }));
  }
  std::map<int, Json::Value> byId;
  for (const auto& reply : replies) byId[reply["id"].asInt()] = reply;
  EXPECT_EQ(byId[1]["error"]["code"], 1104);
  EXPECT_NE(byId[1]["error"]["message"].asString().find("still running"), std::string::npos);
  EXPECT_EQ(byId[2]["error"]["code"], 1104);
  EXPECT_NE(byId[2]["error"]["message"].asString().find("nothing was done"), std::string::npos);
  release.set_value();
  EXPECT_TRUE(pool.drain(5s));
  EXPECT_EQ(ran, 1);              // the one refused in the queue never ran
  EXPECT_EQ(replies.size(), 2u);  // and the late reply of the first was dropped
  // A request that finishes in time is answered normally.
  runner.submit(R"({"jsonrpc":"2.0","method":"T.fast","id":3})", {}, collect);
  EXPECT_EQ(replies.back()["result"], "fast");
}

}  // namespace
}  // namespace gdr

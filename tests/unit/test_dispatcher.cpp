// The transport-free core, in memory: every JSON-RPC 2.0 rule, every
// protocol error code, agent error codes, batches (including the
// specification's own examples) and notifications.
#include <gtest/gtest.h>
#include <libvirt/libvirt.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "core/dispatcher.h"
#include "core/job_store.h"
#include "core/json_util.h"
#include "gfapi/glfs_volume.h"
#include "gfapi/overlay_delete.h"
#include "gluster/cli.h"
#include "virt/libvirt_domain.h"
#include "virt/vm_activity.h"
#include "api/verb_list.h"
#include "verbs/all_verbs.h"

namespace gdr {
namespace {

// The methods of the JSON-RPC 2.0 specification's examples.
const char* const kSpecSchema = R"({
  "version": "test",
  "namespaces": {"T": {"doc": "test"}},
  "verbs": [
    {"namespace": "T", "name": "subtract", "doc": "a - b", "execution": "inline",
     "params": [{"name": "minuend", "type": "integer", "required": true, "doc": "a"},
                {"name": "subtrahend", "type": "integer", "required": true, "doc": "b"}],
     "returns": {"type": "integer", "doc": "difference"}},
    {"namespace": "T", "name": "sum", "doc": "sum", "params": [
       {"name": "a", "type": "integer", "required": true, "doc": "a"},
       {"name": "b", "type": "integer", "required": true, "doc": "b"},
       {"name": "c", "type": "integer", "default": 0, "doc": "c"}],
     "returns": {"type": "integer", "doc": "sum"}},
    {"namespace": "T", "name": "notify_hello", "doc": "n", "params": [
       {"name": "n", "type": "integer", "required": true, "doc": "n"}], "returns": {"type": "object", "doc": "-"}},
    {"namespace": "T", "name": "get_data", "doc": "d", "params": [], "returns": {"type": "array", "items": {"type": "any"}, "doc": "-"}},
    {"namespace": "T", "name": "fail", "doc": "fails", "params": [
       {"name": "how", "type": "string", "enum": ["agent", "std"], "required": true, "doc": "how"}],
     "returns": {"type": "object", "doc": "-"}}
  ]})";

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : schema_(Schema::parse(kSpecSchema)) {
    registry_.add("T.subtract", [](const Json::Value& p, const CallContext&) {
      return Json::Value(p["minuend"].asInt() - p["subtrahend"].asInt());
    });
    registry_.add("T.sum", [this](const Json::Value& p, const CallContext& ctx) {
      lastFlow_ = ctx.flowId;
      return Json::Value(p["a"].asInt() + p["b"].asInt() + p["c"].asInt());
    });
    registry_.add("T.notify_hello", [this](const Json::Value&, const CallContext&) {
      ++notified_;
      return Json::Value(Json::objectValue);
    });
    registry_.add("T.get_data", [](const Json::Value&, const CallContext&) {
      Json::Value out(Json::arrayValue);
      out.append("hello");
      out.append(5);
      return out;
    });
    registry_.add("T.fail", [](const Json::Value& p, const CallContext&) -> Json::Value {
      if (p["how"] == "agent") {
        Json::Value data;
        data["jobId"] = "x";
        throw AgentError(Code::NoSuchJob, "no such job: x", data);
      }
      throw std::runtime_error("boom");
    });
    dispatcher_ = std::make_unique<Dispatcher>(schema_, registry_);
  }

  Json::Value call(const std::string& text) {
    auto reply = dispatcher_->handle(text);
    EXPECT_TRUE(reply.has_value()) << "no reply to " << text;
    auto parsed = json::parse(reply.value_or("null"));
    EXPECT_TRUE(parsed.has_value()) << *reply;
    return parsed.value_or(Json::Value());
  }

  int errorCode(const std::string& text) {
    const Json::Value reply = call(text);
    EXPECT_EQ(reply["jsonrpc"], "2.0");
    EXPECT_FALSE(reply.isMember("result"));
    return reply["error"]["code"].asInt();
  }

  Schema schema_;
  Registry registry_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::string lastFlow_;
  int notified_ = 0;
};

TEST_F(DispatcherTest, PositionalAndNamedParams) {
  EXPECT_EQ(call(R"({"jsonrpc":"2.0","method":"T.subtract","params":[42,23],"id":1})")["result"], 19);
  EXPECT_EQ(call(R"({"jsonrpc":"2.0","method":"T.subtract","params":[23,42],"id":2})")["result"], -19);
  const Json::Value named = call(R"({"jsonrpc":"2.0","method":"T.subtract","params":{"subtrahend":23,"minuend":42},"id":3})");
  EXPECT_EQ(named["result"], 19);
  EXPECT_EQ(named["id"], 3);
}

TEST_F(DispatcherTest, StringAndNullIdsAreEchoed) {
  EXPECT_EQ(call(R"({"jsonrpc":"2.0","method":"T.get_data","id":"abc"})")["id"], "abc");
  const Json::Value reply = call(R"({"jsonrpc":"2.0","method":"T.get_data","id":null})");
  EXPECT_TRUE(reply.isMember("id"));
  EXPECT_TRUE(reply["id"].isNull());
  EXPECT_EQ(reply["result"][0], "hello");
}

TEST_F(DispatcherTest, DefaultsAreFilledIn) {
  EXPECT_EQ(call(R"({"jsonrpc":"2.0","method":"T.sum","params":{"a":1,"b":2},"id":1})")["result"], 3);
  EXPECT_EQ(call(R"({"jsonrpc":"2.0","method":"T.sum","params":{"a":1,"b":2,"c":4},"id":1})")["result"], 7);
}

TEST_F(DispatcherTest, NotificationGetsNoReplyButRuns) {
  EXPECT_FALSE(dispatcher_->handle(R"({"jsonrpc":"2.0","method":"T.notify_hello","params":[7]})").has_value());
  EXPECT_EQ(notified_, 1);
  // Unknown method and bad params in a notification: still no reply.
  EXPECT_FALSE(dispatcher_->handle(R"({"jsonrpc":"2.0","method":"nope"})").has_value());
  EXPECT_FALSE(dispatcher_->handle(R"({"jsonrpc":"2.0","method":"T.notify_hello","params":["x"]})").has_value());
  EXPECT_EQ(notified_, 1);
}

TEST_F(DispatcherTest, ParseError) {
  const Json::Value reply = call(R"({"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz])");
  EXPECT_EQ(reply["error"]["code"], -32700);
  EXPECT_TRUE(reply["id"].isNull());
  EXPECT_EQ(errorCode(""), -32700);
  EXPECT_EQ(errorCode(R"({"jsonrpc":"2.0","method":"T.get_data","id":1} trailing)"), -32700);
  EXPECT_EQ(errorCode(R"({"jsonrpc":"2.0","method":"T.get_data","id":1,"id":2})"), -32700);  // duplicate key
}

TEST_F(DispatcherTest, InvalidRequest) {
  EXPECT_EQ(errorCode(R"({"jsonrpc": "2.0", "method": 1, "params": "bar"})"), -32600);
  EXPECT_EQ(errorCode(R"({"method":"T.get_data","id":1})"), -32600);              // no jsonrpc
  EXPECT_EQ(errorCode(R"({"jsonrpc":"1.0","method":"T.get_data","id":1})"), -32600);
  EXPECT_EQ(errorCode(R"({"jsonrpc":"2.0","method":"T.get_data","params":5,"id":1})"), -32600);
  EXPECT_EQ(errorCode(R"({"jsonrpc":"2.0","method":"T.get_data","id":{"a":1}})"), -32600);
  EXPECT_EQ(errorCode(R"("just a string")"), -32600);
  EXPECT_EQ(errorCode("42"), -32600);
  // The id of a well-formed id is kept even when the request is invalid.
  EXPECT_EQ(call(R"({"jsonrpc":"2.0","method":7,"id":9})")["id"], 9);
}

TEST_F(DispatcherTest, MethodNotFound) {
  const Json::Value reply = call(R"({"jsonrpc":"2.0","method":"T.foobar","id":"1"})");
  EXPECT_EQ(reply["error"]["code"], -32601);
  EXPECT_EQ(reply["error"]["data"]["method"], "T.foobar");
  EXPECT_EQ(reply["id"], "1");
}

TEST_F(DispatcherTest, InvalidParamsNameTheParameter) {
  Json::Value reply = call(R"({"jsonrpc":"2.0","method":"T.subtract","params":{"minuend":"x","subtrahend":1},"id":1})");
  EXPECT_EQ(reply["error"]["code"], -32602);
  EXPECT_EQ(reply["error"]["data"]["param"], "minuend");
  EXPECT_EQ(reply["error"]["data"]["expected"], "integer");
  EXPECT_NE(reply["error"]["message"].asString().find("minuend"), std::string::npos);

  reply = call(R"({"jsonrpc":"2.0","method":"T.subtract","params":{"minuend":1},"id":1})");
  EXPECT_EQ(reply["error"]["code"], -32602);
  EXPECT_EQ(reply["error"]["data"]["param"], "subtrahend");
  EXPECT_NE(reply["error"]["message"].asString().find("missing"), std::string::npos);

  reply = call(R"({"jsonrpc":"2.0","method":"T.subtract","params":{"minuend":1,"subtrahend":2,"extra":3},"id":1})");
  EXPECT_EQ(reply["error"]["code"], -32602);
  EXPECT_EQ(reply["error"]["data"]["param"], "extra");

  EXPECT_EQ(errorCode(R"({"jsonrpc":"2.0","method":"T.subtract","params":[1,2,3],"id":1})"), -32602);
  EXPECT_EQ(errorCode(R"({"jsonrpc":"2.0","method":"T.subtract","params":[1.5,2],"id":1})"), -32602);
  EXPECT_EQ(errorCode(R"({"jsonrpc":"2.0","method":"T.fail","params":{"how":"other"},"id":1})"), -32602);
}

TEST_F(DispatcherTest, HandlerErrorsKeepTheirCodeAndData) {
  Json::Value reply = call(R"({"jsonrpc":"2.0","method":"T.fail","params":{"how":"agent"},"id":1})");
  EXPECT_EQ(reply["error"]["code"], 66);
  EXPECT_EQ(reply["error"]["message"], "no such job: x");
  EXPECT_EQ(reply["error"]["data"]["jobId"], "x");
  reply = call(R"({"jsonrpc":"2.0","method":"T.fail","params":{"how":"std"},"id":1})");
  EXPECT_EQ(reply["error"]["code"], -32603);
  EXPECT_NE(reply["error"]["message"].asString().find("boom"), std::string::npos);
}

TEST_F(DispatcherTest, SpecBatchExample) {
  const Json::Value replies = call(R"([
    {"jsonrpc": "2.0", "method": "T.sum", "params": [1,2,4], "id": "1"},
    {"jsonrpc": "2.0", "method": "T.notify_hello", "params": [7]},
    {"jsonrpc": "2.0", "method": "T.subtract", "params": [42,23], "id": "2"},
    {"foo": "boo"},
    {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
    {"jsonrpc": "2.0", "method": "T.get_data", "id": "9"}
  ])");
  ASSERT_TRUE(replies.isArray());
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[0]["id"], "1");
  EXPECT_EQ(replies[0]["result"], 7);
  EXPECT_EQ(replies[1]["id"], "2");
  EXPECT_EQ(replies[1]["result"], 19);
  EXPECT_EQ(replies[2]["error"]["code"], -32600);
  EXPECT_TRUE(replies[2]["id"].isNull());
  EXPECT_EQ(replies[3]["error"]["code"], -32601);
  EXPECT_EQ(replies[3]["id"], "5");
  EXPECT_EQ(replies[4]["result"][1], 5);
  EXPECT_EQ(notified_, 1);
}

TEST_F(DispatcherTest, SpecBatchEdgeCases) {
  // Invalid JSON batch.
  EXPECT_EQ(errorCode(R"([{"jsonrpc": "2.0", "method": "T.sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method")"),
            -32700);
  // Empty array: one error, not an array.
  const Json::Value empty = call("[]");
  EXPECT_TRUE(empty.isObject());
  EXPECT_EQ(empty["error"]["code"], -32600);
  // Invalid batch of one and of three.
  Json::Value replies = call("[1]");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0]["error"]["code"], -32600);
  replies = call("[1,2,3]");
  ASSERT_EQ(replies.size(), 3u);
  for (const auto& r : replies) EXPECT_EQ(r["error"]["code"], -32600);
  // All notifications: nothing at all.
  EXPECT_FALSE(dispatcher_->handle(R"([{"jsonrpc":"2.0","method":"T.notify_hello","params":[1]},
                                       {"jsonrpc":"2.0","method":"T.notify_hello","params":[2]}])").has_value());
  EXPECT_EQ(notified_, 2);
}

TEST_F(DispatcherTest, FlowIdFromRequestOrTransport) {
  call(R"({"jsonrpc":"2.0","method":"T.sum","params":[1,2],"id":1,"flowId":"engine-42"})");
  EXPECT_EQ(lastFlow_, "engine-42");
  dispatcher_->handle(R"({"jsonrpc":"2.0","method":"T.sum","params":[1,2],"id":1})", "header-7");
  EXPECT_EQ(lastFlow_, "header-7");
  EXPECT_EQ(errorCode(R"({"jsonrpc":"2.0","method":"T.sum","params":[1,2],"id":1,"flowId":3})"), -32600);
}

TEST_F(DispatcherTest, ABatchOverTheLimitIsRefusedWholeAndRunsNothing) {
  std::string batch = "[";
  for (int i = 0; i < 101; ++i) batch += std::string(i ? "," : "") + R"({"jsonrpc":"2.0","method":"T.notify_hello","params":[7]})";
  batch += "]";
  EXPECT_EQ(errorCode(batch), -32600);
  EXPECT_EQ(notified_, 0);
  batch = "[";
  for (int i = 0; i < 100; ++i) batch += std::string(i ? "," : "") + R"({"jsonrpc":"2.0","method":"T.notify_hello","params":[7]})";
  batch += "]";
  EXPECT_FALSE(dispatcher_->handle(batch).has_value());  // notifications: no reply, all run
  EXPECT_EQ(notified_, 100);
}

TEST_F(DispatcherTest, ANestedRequestIsAParseErrorNotACrash) {
  const std::string deep = R"({"jsonrpc":"2.0","method":"T.sum","id":1,"params":)" + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  EXPECT_EQ(errorCode(deep), -32700);
  EXPECT_EQ(errorCode("[" + std::string(2000, '{')), -32700);
}

TEST_F(DispatcherTest, LogLinesCannotBeForgedByTheCaller) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  call("{\"jsonrpc\":\"2.0\",\"method\":\"T.sum\\ncall method=Forged code=0\\u001b[2J\",\"id\":\"a\\nb\","
       "\"flowId\":\"f\\r\\nx\",\"params\":[1,2]}");
  dispatcher_->handle(R"({"jsonrpc":"2.0","method":"T.sum","params":[1,2],"id":1})", "hdr\nforged");
  spdlog::set_default_logger(previous);
  const std::string log = captured.str();
  // One line per call, and no control character but the line ends.
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2) << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << log;
  EXPECT_EQ(log.find('\r'), std::string::npos) << log;
  EXPECT_NE(log.find("T.sum\\x0acall method=Forged"), std::string::npos) << log;
  EXPECT_NE(log.find("flow=hdr\\x0aforged"), std::string::npos) << log;
}

TEST(Printable, EscapesAndCuts) {
  EXPECT_EQ(json::printable("plain text-1.2"), "plain text-1.2");
  EXPECT_EQ(json::printable("a\nb\"c\\"), "a\\x0ab\\x22c\\x5c");
  EXPECT_EQ(json::printable(std::string(300, 'x'), 10), "xxxxxxxxxx...");
  EXPECT_EQ(json::printable("\xc3\xa9"), "\\xc3\\xa9");
}

TEST_F(DispatcherTest, PrepareRoutesBlockingVerbsToWorkers) {
  EXPECT_FALSE(dispatcher_->prepare(R"({"jsonrpc":"2.0","method":"T.subtract","params":[1,2],"id":1})").needsWorker);
  EXPECT_TRUE(dispatcher_->prepare(R"({"jsonrpc":"2.0","method":"T.sum","params":[1,2],"id":1})").needsWorker);
  EXPECT_TRUE(dispatcher_->prepare(R"([{"jsonrpc":"2.0","method":"T.subtract","params":[1,2],"id":1},
                                      {"jsonrpc":"2.0","method":"T.sum","params":[1,2],"id":2}])").needsWorker);
  EXPECT_FALSE(dispatcher_->prepare("{oops").needsWorker);
}

TEST_F(DispatcherTest, RefuseAnswersEveryCallWithTheCode) {
  auto prepared = dispatcher_->prepare(R"([{"jsonrpc":"2.0","method":"T.sum","params":[1,2],"id":1},
                                          {"jsonrpc":"2.0","method":"T.notify_hello","params":[1]},
                                          {"jsonrpc":"2.0","method":"T.sum","params":[1,2],"id":2}])");
  auto reply = json::parse(*dispatcher_->refuse(prepared, Code::Busy, "busy"));
  ASSERT_TRUE(reply && reply->isArray());
  ASSERT_EQ(reply->size(), 2u);
  EXPECT_EQ((*reply)[0]["error"]["code"], 1100);
  EXPECT_EQ((*reply)[1]["id"], 2);
  EXPECT_EQ(notified_, 0);
}

TEST_F(DispatcherTest, LibraryConnectorInterface) {
  jsonrpc::IClientConnectionHandler& handler = *dispatcher_;
  std::string reply;
  handler.HandleRequest(R"({"jsonrpc":"2.0","method":"T.subtract","params":[5,3],"id":1})", reply);
  EXPECT_EQ(json::parse(reply)->get("result", 0), 2);
  handler.HandleRequest(R"({"jsonrpc":"2.0","method":"T.notify_hello","params":[1]})", reply);
  EXPECT_TRUE(reply.empty());
}

TEST(DispatcherSchema, RefusesHandlersThatDifferFromTheSchema) {
  const Schema schema = Schema::parse(kSpecSchema);
  Registry registry;
  registry.add("T.subtract", [](const Json::Value&, const CallContext&) { return Json::Value(); });
  registry.add("T.extra", [](const Json::Value&, const CallContext&) { return Json::Value(); });
  const auto problems = schemaMismatches(schema, registry);
  EXPECT_EQ(problems.size(), 5u);  // four verbs without handler, one handler without verb
  EXPECT_THROW(Dispatcher(schema, registry), std::logic_error);
}

// The real agent: every verb in verbs/schema.json has a handler and every
// handler a schema entry.
// The agent's real services (libvirt's test driver), as agent.cpp wires them.
struct RealServices {
  explicit RealServices(const std::string& name, std::vector<std::string> deleteVolumes = {},
                        std::optional<std::vector<std::string>> volfileServers = std::nullopt)
      : jobs(testing::TempDir() + name, std::chrono::seconds(60)),
        volumes({}),
        cli(runner, std::chrono::seconds(5)),
        hypervisor("test:///default"),
        services{jobs, builtinSchema(), volumes, headers, cli, hypervisor, activity, {}, std::move(deleteVolumes),
                 std::move(volfileServers)} {
    registerAllVerbs(registry, services);
  }
  JobStore jobs;
  gfapi::VolumePool volumes;
  gfapi::HeaderCache headers;
  gluster::SystemCommandRunner runner;
  gluster::GlusterCli cli;
  virt::LibvirtHypervisor hypervisor;
  virt::VmActivity activity;
  AgentServices services;
  Registry registry;
};

TEST(DispatcherSchema, BuiltinSchemaMatchesRegisteredVerbs) {
  RealServices real("gdr-schema-match");
  const Registry& registry = real.registry;
  const auto problems = schemaMismatches(builtinSchema(), registry);
  for (const auto& p : problems) ADD_FAILURE() << p;
  EXPECT_FALSE(builtinSchema().verbs().empty());
  EXPECT_NO_THROW(Dispatcher(builtinSchema(), registry));
}

// The uniform verb list (used by the request fuzzer) names every verb of
// the schema and nothing else.
TEST(DispatcherSchema, AllVerbsListMatchesSchema) {
  Registry registry;
  api::registerDefaultHandlers(registry, api::AllVerbs{});
  const auto problems = schemaMismatches(builtinSchema(), registry);
  for (const auto& p : problems) ADD_FAILURE() << p;
  EXPECT_NO_THROW(Dispatcher(builtinSchema(), registry));
}

// Deletion and volume connections are scoped by the agent's settings,
// checked before any volume is contacted.
TEST(DispatcherSchema, OverlayDeleteAndVolfileServersAreScoped) {
  RealServices real("gdr-scoped", {"secondary"}, std::vector<std::string>{"127.0.0.7"});
  const Dispatcher dispatcher(builtinSchema(), real.registry);
  auto code = [&](const std::string& method, const std::string& params) {
    const auto reply = json::parse(*dispatcher.handle(R"({"jsonrpc":"2.0","id":1,"method":")" + method +
                                                      R"(","params":)" + params + "}"));
    return (*reply)["error"]["code"].asInt();
  };
  EXPECT_EQ(code("GlusterVolume.overlayDelete",
                 R"({"volumeName":"primary","volfileServers":["127.0.0.7"],"paths":["i/.gdr-snapshots/o.qcow2"]})"),
            3220);
  EXPECT_EQ(code("GlusterVolume.overlayDelete",
                 R"({"volumeName":"secondary","volfileServers":["192.0.2.1"],"paths":["i/.gdr-snapshots/o.qcow2"]})"),
            3222);
  EXPECT_EQ(code("GlusterVolume.fileStat", R"({"volumeName":"secondary","volfileServers":["127.0.0.1"],"path":"a"})"),
            3222);  // a configured list is the whole list
  EXPECT_EQ(real.volumes.openConnections(), 0u);
}

// VM.pause, VM.cont and VM.destroy on libvirt's test driver (its running
// domain "test"): idempotent, and no power-off of a VM that still runs
// without force. The domain is started again after.
TEST(DispatcherSchema, PauseContAndDestroyOnlyAPausedVm) {
  RealServices real("gdr-vm-state");
  const Dispatcher dispatcher(builtinSchema(), real.registry);
  const std::string id = "6695eb01-f6a4-8304-79aa-97f2502e193f";  // the test driver's "test"
  auto call = [&](const std::string& method, const std::string& extra = "") {
    return *json::parse(*dispatcher.handle(R"({"jsonrpc":"2.0","id":1,"method":"VM.)" + method +
                                           R"(","params":{"vmID":")" + id + "\"" + extra + "}}"));
  };
  auto domain = real.hypervisor.lookup(id);
  ASSERT_TRUE(domain->running());

  const Json::Value refused = call("destroy");
  EXPECT_EQ(refused["error"]["code"].asInt(), 1107) << refused.toStyledString();
  EXPECT_TRUE(domain->running());
  EXPECT_FALSE(domain->paused());

  Json::Value r = call("pause");
  EXPECT_EQ(r["result"]["state"], "paused") << r.toStyledString();
  EXPECT_TRUE(r["result"]["changed"].asBool());
  EXPECT_TRUE(domain->paused());
  EXPECT_FALSE(call("pause")["result"]["changed"].asBool());  // paused already

  r = call("cont");
  EXPECT_EQ(r["result"]["state"], "running") << r.toStyledString();
  EXPECT_TRUE(r["result"]["changed"].asBool());
  EXPECT_FALSE(domain->paused());
  EXPECT_FALSE(call("cont")["result"]["changed"].asBool());

  ASSERT_TRUE(call("pause")["result"]["changed"].asBool());
  r = call("destroy");
  EXPECT_EQ(r["result"]["state"], "shut off") << r.toStyledString();
  EXPECT_TRUE(r["result"]["changed"].asBool());
  EXPECT_FALSE(domain->running());
  EXPECT_FALSE(call("destroy")["result"]["changed"].asBool());  // off already
  EXPECT_EQ(call("pause")["error"]["code"].asInt(), 1);          // not running
  EXPECT_EQ(call("cont")["error"]["code"].asInt(), 1);

  // force: a running VM too.
  std::unique_ptr<virConnect, int (*)(virConnectPtr)> conn(virConnectOpen("test:///default"), virConnectClose);
  ASSERT_TRUE(conn);
  std::unique_ptr<virDomain, int (*)(virDomainPtr)> test(virDomainLookupByUUIDString(conn.get(), id.c_str()),
                                                         virDomainFree);
  ASSERT_TRUE(test);
  ASSERT_EQ(virDomainCreate(test.get()), 0);
  EXPECT_TRUE(call("destroy", R"(,"force":true)")["result"]["changed"].asBool());
  EXPECT_FALSE(domain->running());
  ASSERT_EQ(virDomainCreate(test.get()), 0);
}

}  // namespace
}  // namespace gdr

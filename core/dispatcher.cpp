#include "core/dispatcher.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "core/json_util.h"

namespace gdr {

namespace {

Json::Value errorObject(Code code, const std::string& message, const Json::Value& data = Json::Value()) {
  Json::Value error;
  error["code"] = static_cast<int>(code);
  error["message"] = message;
  if (!data.isNull()) error["data"] = data;
  return error;
}

Json::Value envelope(const Json::Value& id) {
  Json::Value reply(Json::objectValue);
  reply["jsonrpc"] = "2.0";
  reply["id"] = id;
  return reply;
}

bool validId(const Json::Value& id) { return id.isString() || id.isNull() || (id.isNumeric() && !id.isBool()); }

// Checks the request object itself (not its params). Returns an error
// message, or empty when the object is a well-formed request.
std::string requestProblem(const Json::Value& call) {
  if (!call.isObject()) return "a request must be a JSON object";
  if (call.get("jsonrpc", Json::Value()) != "2.0") return "member 'jsonrpc' must be exactly \"2.0\"";
  if (!call.isMember("method") || !call["method"].isString()) return "member 'method' must be a string";
  if (call.isMember("params") && !call["params"].isObject() && !call["params"].isArray()) {
    return "member 'params' must be an object or an array";
  }
  if (call.isMember("id") && !validId(call["id"])) return "member 'id' must be a string, a number or null";
  if (call.isMember("flowId") && !call["flowId"].isString()) return "member 'flowId' must be a string";
  return {};
}

// The id as it appears in the log; cheap, as it runs for every call.
std::string idText(const Json::Value& call) {
  if (!call.isObject()) return "-";
  static constexpr char kId[] = "id";
  const Json::Value* id = call.find(kId, kId + 2);
  if (!id) return "-";
  if (id->isInt64()) return std::to_string(id->asInt64());
  if (id->isString()) return "\"" + json::printable(id->asString(), 80) + "\"";
  return json::printable(json::compact(*id), 80);
}

}  // namespace

Dispatcher::Dispatcher(const Schema& schema, const Registry& registry, bool checkResults, size_t maxBatch)
    : schema_(schema), registry_(registry), checkResults_(checkResults), maxBatch_(maxBatch) {
  auto problems = schemaMismatches(schema, registry);
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw std::logic_error("verb schema and handlers differ: " + all);
  }
}

std::string Dispatcher::errorReply(Code code, const std::string& message) {
  Json::Value reply = envelope(Json::Value());
  reply["error"] = errorObject(code, message);
  return json::compact(reply);
}

bool Dispatcher::isInlineCall(const Json::Value& call) const {
  if (!requestProblem(call).empty()) return true;  // answered with an error at once
  const VerbSpec* verb = schema_.find(call["method"].asString());
  return !verb || verb->runsInline;
}

PreparedRequest Dispatcher::prepare(std::string_view text, std::string transportFlowId) const {
  PreparedRequest prepared;
  prepared.transportFlowId = std::move(transportFlowId);
  std::string error;
  auto body = json::parse(text, &error);
  if (!body) {
    prepared.parseErrorReply = errorReply(Code::ParseError, "Parse error: " + error);
    spdlog::info("call method=- id=- flow={} code={} ms=0", json::printable(prepared.transportFlowId, 80),
                 int(Code::ParseError));
    return prepared;
  }
  prepared.body = std::move(*body);
  if (prepared.body.isArray()) {
    for (const auto& call : prepared.body) prepared.needsWorker = prepared.needsWorker || !isInlineCall(call);
  } else {
    prepared.needsWorker = !isInlineCall(prepared.body);
  }
  return prepared;
}

Json::Value Dispatcher::callOne(const Json::Value& call, const std::string& transportFlowId) const {
  const auto started = std::chrono::steady_clock::now();
  const std::string problem = requestProblem(call);
  const bool notification = problem.empty() && !call.isMember("id");
  const Json::Value id = problem.empty() || (call.isObject() && validId(call.get("id", Json::Value())))
                             ? call.get("id", Json::Value())
                             : Json::Value();
  const std::string method = problem.empty() ? call["method"].asString() : "-";
  CallContext ctx{method, problem.empty() && call.isMember("flowId") ? call["flowId"].asString() : transportFlowId};

  Json::Value reply = envelope(id);
  int code = 0;
  // Everything the caller controls is logged through printable().
  const std::string logMethod = json::printable(method, 80), logFlow = json::printable(ctx.flowId, 80);
  spdlog::debug("begin method={} id={} flow={}", logMethod, idText(call), logFlow);
  try {
    if (!problem.empty()) throw AgentError(Code::InvalidRequest, "Invalid Request: " + problem);
    const VerbSpec* verb = schema_.find(method);
    if (!verb) {
      Json::Value data;
      data["method"] = method;
      throw AgentError(Code::MethodNotFound, "Method not found: " + method, data);
    }
    const Json::Value params = schema_.validate(*verb, call.get("params", Json::Value()));
    Json::Value result = (*registry_.find(method))(params, ctx);
    if (checkResults_) schema_.validateResult(*verb, result);
    reply["result"] = std::move(result);
  } catch (const AgentError& e) {
    code = static_cast<int>(e.code());
    reply["error"] = errorObject(e.code(), e.what(), e.data());
  } catch (const std::exception& e) {
    code = static_cast<int>(Code::InternalError);
    reply["error"] = errorObject(Code::InternalError, std::string("Internal error: ") + e.what());
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (code == 0) {
    spdlog::info("call method={} id={} flow={} code=0 ms={:.3f}", logMethod, idText(call), logFlow, ms);
  } else {
    spdlog::warn("call method={} id={} flow={} code={} ms={:.3f} error={}", logMethod, idText(call), logFlow, code,
                 ms, json::printable(reply["error"]["message"].asString(), 400));
  }
  if (notification) return Json::Value();
  return reply;
}

std::optional<std::string> Dispatcher::execute(const PreparedRequest& request) const {
  if (request.parseErrorReply) return request.parseErrorReply;
  const Json::Value& body = request.body;
  if (body.isArray()) {
    if (body.empty()) return errorReply(Code::InvalidRequest, "Invalid Request: empty batch");
    if (body.size() > maxBatch_) {
      spdlog::warn("refused a batch of {} calls (at most {})", body.size(), maxBatch_);
      return errorReply(Code::InvalidRequest, "Invalid Request: a batch of " + std::to_string(body.size()) +
                                                  " calls; at most " + std::to_string(maxBatch_));
    }
    Json::Value replies(Json::arrayValue);
    for (const auto& call : body) {
      Json::Value reply = callOne(call, request.transportFlowId);
      if (!reply.isNull()) replies.append(std::move(reply));
    }
    if (replies.empty()) return std::nullopt;  // a batch of notifications
    return json::compact(replies);
  }
  Json::Value reply = callOne(body, request.transportFlowId);
  if (reply.isNull()) return std::nullopt;
  return json::compact(reply);
}

std::optional<std::string> Dispatcher::refuse(const PreparedRequest& request, Code code,
                                              const std::string& message) const {
  if (request.parseErrorReply) return request.parseErrorReply;
  auto refuseOne = [&](const Json::Value& call) -> Json::Value {
    if (!call.isObject() || !call.isMember("id")) return Json::Value();
    Json::Value reply = envelope(validId(call["id"]) ? call["id"] : Json::Value());
    reply["error"] = errorObject(code, message);
    return reply;
  };
  spdlog::warn("refused request code={} reason={}", int(code), json::printable(message, 400));
  if (request.body.isArray()) {
    Json::Value replies(Json::arrayValue);
    for (const auto& call : request.body) {
      Json::Value reply = refuseOne(call);
      if (!reply.isNull()) replies.append(std::move(reply));
    }
    if (replies.empty()) return std::nullopt;
    return json::compact(replies);
  }
  Json::Value reply = refuseOne(request.body);
  if (reply.isNull()) return std::nullopt;
  return json::compact(reply);
}

void Dispatcher::HandleRequest(const std::string& request, std::string& reply) {
  reply = handle(request).value_or(std::string());
}

}  // namespace gdr

#pragma once
// Verb name -> handler. Handlers receive parameters already validated and
// normalized against the schema (defaults filled in), and either return
// the result or throw AgentError.
#include <json/value.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/codec.h"
#include "core/errors.h"

namespace gdr {

class Schema;

struct CallContext {
  std::string method;
  std::string flowId;
};

using Handler = std::function<Json::Value(const Json::Value& params, const CallContext& ctx)>;

class Registry {
 public:
  // Throws std::logic_error when the name is registered twice.
  void add(const std::string& method, Handler handler);

  // A typed handler for `Verb` (an api/ descriptor): its parameters arrive
  // decoded into Verb::Params, its Verb::Result is encoded at the edge.
  template <class Verb, class Fn>
  void add(Fn fn) {
    add(Verb::kName, [fn = std::move(fn)](const Json::Value& params, const CallContext& ctx) -> Json::Value {
      typename Verb::Params decoded;
      try {
        decoded = api::decode<typename Verb::Params>(params);
      } catch (const api::DecodeError& e) {
        // Passed the schema but does not fit its type (an integer out of range).
        Json::Value data;
        data["param"] = e.member();
        throw AgentError(Code::InvalidParams, "invalid parameter '" + e.member() + "': " + e.what(), data);
      }
      return api::encode(fn(decoded, ctx));
    });
  }
  const Handler* find(const std::string& method) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, Handler> handlers_;
};

// Every way the schema and the registered handlers disagree, one line
// each ("schema has X but no handler", "handler X is not in the schema").
std::vector<std::string> schemaMismatches(const Schema& schema, const Registry& registry);

}  // namespace gdr

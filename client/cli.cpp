#include "client/cli.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "core/json_util.h"
#include "core/schema.h"
#include "client/rpc_client.h"

namespace gdr::client {

namespace {

const char* const kDefaultSocket = "/run/gdr/agent.sock";

struct Options {
  std::string socket = kDefaultSocket;
  std::string host;
  int port = 54321;
  TlsOptions tls;
  double timeoutSeconds = 60;
  std::string flowId;
};

std::string firstSentence(const std::string& doc) {
  const auto end = doc.find(". ");
  return end == std::string::npos ? doc : doc.substr(0, end + 1);
}

void describeParams(std::ostringstream& out, const std::vector<ParamSpec>& params, const std::string& indent) {
  for (const auto& p : params) {
    out << indent << p.name << " (" << describeType(p.type);
    if (p.required) out << ", required";
    if (!p.defaultValue.isNull()) out << ", default " << json::compact(p.defaultValue);
    if (!p.type.enumValues.empty()) {
      out << ", one of";
      for (const auto& v : p.type.enumValues) out << " " << json::compact(v);
    }
    out << ")\n" << indent << "    " << p.doc << "\n";
    const TypeSpec* inner = &p.type;
    if (inner->type == "array" && inner->items) inner = inner->items.get();
    if (!inner->properties.empty()) describeParams(out, inner->properties, indent + "    ");
  }
}

// name=value: a value is taken verbatim for a string parameter, and
// parsed as JSON (falling back to a string) for any other.
Json::Value parseValue(const VerbSpec* verb, const std::string& name, const std::string& text) {
  if (verb) {
    for (const auto& p : verb->params) {
      if (p.name == name && p.type.type == "string") return text;
    }
  }
  if (auto value = json::parse(text)) return *value;
  return text;
}

}  // namespace

std::string usageText() {
  std::ostringstream out;
  out << "Usage: gdr-client [-s SOCKET | -H HOST [-p PORT] [--cafile F --cert F --key F | --insecure]]\n"
         "                  [--timeout SEC] [--flow-id ID] NAMESPACE VERB [name=value ...] [-f FILE|-]\n"
         "\n"
         "Calls one gdr-agent verb and prints its result as JSON.\n"
         "\n"
         "  -s, --socket PATH  the agent's Unix socket (default "
      << kDefaultSocket
      << ")\n"
         "  -H, --host HOST    call over HTTPS instead\n"
         "  -p, --port PORT    HTTPS port (default 54321)\n"
         "  --cafile F         CA certificate to verify the agent with\n"
         "  --cert F, --key F  client certificate and key\n"
         "  --insecure         do not verify the agent's certificate\n"
         "  --timeout SEC      give up after SEC seconds (default 60)\n"
         "  --flow-id ID       trace id logged by the agent with this call\n"
         "  -f FILE|-          read the whole params object from FILE or stdin\n"
         "\n"
         "A value is parsed as JSON when it parses, otherwise taken as a string\n"
         "(string parameters are always taken verbatim).\n"
         "\n"
         "Exit codes: 0 success, 1 the verb failed, 2 usage, 3 connection, 4 protocol.\n"
         "\n"
         "Namespaces (gdr-client NAMESPACE --help lists their verbs):\n";
  for (const auto& [ns, doc] : builtinSchema().namespaces()) out << "  " << ns << "\n      " << doc << "\n";
  return out.str();
}

std::string namespaceHelp(const std::string& ns) {
  const Schema& schema = builtinSchema();
  if (!schema.namespaces().count(ns)) return {};
  std::ostringstream out;
  out << ns << ": " << schema.namespaces().at(ns) << "\n\nVerbs (gdr-client " << ns << " VERB --help):\n";
  for (const auto& verb : schema.verbs()) {
    if (verb.ns == ns) out << "  " << verb.name << "\n      " << firstSentence(verb.doc) << "\n";
  }
  return out.str();
}

std::string verbHelp(const std::string& method) {
  const VerbSpec* verb = builtinSchema().find(method);
  if (!verb) return {};
  std::ostringstream out;
  out << method << "\n\n" << verb->doc << "\n\nParameters:\n";
  if (verb->params.empty()) out << "  (none)\n";
  describeParams(out, verb->params, "  ");
  out << "\nReturns:\n  " << verb->returns.get("doc", "").asString() << "\n";
  return out.str();
}

int runCli(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  Options options;
  size_t i = 0;
  auto needValue = [&](const std::string& flag) -> std::string {
    if (i + 1 >= args.size()) throw std::invalid_argument(flag + " needs a value");
    return args[++i];
  };
  std::vector<std::string> positional;
  std::string paramsFile;
  bool wantHelp = false;
  try {
    for (; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "-h" || a == "--help") {
        wantHelp = true;
      } else if (a == "-s" || a == "--socket") {
        options.socket = needValue(a);
      } else if (a == "-H" || a == "--host") {
        options.host = needValue(a);
      } else if (a == "-p" || a == "--port") {
        options.port = std::stoi(needValue(a));
      } else if (a == "--cafile") {
        options.tls.caFile = needValue(a);
      } else if (a == "--cert") {
        options.tls.certFile = needValue(a);
      } else if (a == "--key") {
        options.tls.keyFile = needValue(a);
      } else if (a == "--insecure") {
        options.tls.insecure = true;
      } else if (a == "--timeout") {
        options.timeoutSeconds = std::stod(needValue(a));
      } else if (a == "--flow-id") {
        options.flowId = needValue(a);
      } else if (a == "-f") {
        paramsFile = needValue(a);
      } else if (a.size() > 1 && a[0] == '-' && positional.size() < 2) {
        throw std::invalid_argument("unknown option " + a);
      } else {
        positional.push_back(a);
      }
    }
  } catch (const std::exception& e) {
    err << "gdr-client: " << e.what() << "\n";
    return kExitUsage;
  }

  if (positional.empty()) {
    (wantHelp ? out : err) << usageText();
    return wantHelp ? kExitOk : kExitUsage;
  }
  const std::string& ns = positional[0];
  if (!builtinSchema().namespaces().count(ns)) {
    err << "gdr-client: unknown namespace '" << ns << "' (see gdr-client --help)\n";
    return kExitUsage;
  }
  if (positional.size() == 1) {
    (wantHelp ? out : err) << namespaceHelp(ns);
    return wantHelp ? kExitOk : kExitUsage;
  }
  const std::string method = ns + "." + positional[1];
  const VerbSpec* verb = builtinSchema().find(method);
  if (wantHelp) {
    const std::string help = verbHelp(method);
    if (help.empty()) {
      err << "gdr-client: unknown verb '" << method << "'\n" << namespaceHelp(ns);
      return kExitUsage;
    }
    out << help;
    return kExitOk;
  }

  Json::Value params(Json::objectValue);
  if (!paramsFile.empty()) {
    std::stringstream text;
    if (paramsFile == "-") {
      text << in.rdbuf();
    } else {
      std::ifstream file(paramsFile);
      if (!file) {
        err << "gdr-client: cannot read " << paramsFile << "\n";
        return kExitUsage;
      }
      text << file.rdbuf();
    }
    std::string error;
    auto parsed = json::parse(text.str(), &error);
    if (!parsed || !parsed->isObject()) {
      err << "gdr-client: " << paramsFile << " must hold a JSON object" << (error.empty() ? "" : ": " + error) << "\n";
      return kExitUsage;
    }
    params = *parsed;
  }
  for (size_t k = 2; k < positional.size(); ++k) {
    const auto eq = positional[k].find('=');
    if (eq == std::string::npos || eq == 0) {
      err << "gdr-client: expected name=value, got '" << positional[k] << "'\n";
      return kExitUsage;
    }
    const std::string name = positional[k].substr(0, eq);
    params[name] = parseValue(verb, name, positional[k].substr(eq + 1));
  }

  try {
    const std::string endpoint =
        options.host.empty() ? "unix:" + options.socket
                             : "https://" + (options.host.find(':') != std::string::npos ? "[" + options.host + "]"
                                                                                          : options.host) +
                                   ":" + std::to_string(options.port) + "/";
    RpcClient client(makeTransport(endpoint, options.tls,
                                   std::chrono::milliseconds(static_cast<long long>(options.timeoutSeconds * 1000))));
    out << json::pretty(client.call(method, params, options.flowId)) << "\n";
    return kExitOk;
  } catch (const ClientError& e) {
    switch (e.kind()) {
      case ClientError::Kind::Verb:
        err << e.code() << ": " << e.what() << "\n";
        if (!e.data().isNull()) err << json::pretty(e.data()) << "\n";
        return kExitVerbError;
      case ClientError::Kind::Connection:
        err << "gdr-client: " << e.what() << "\n";
        return kExitConnection;
      case ClientError::Kind::Protocol:
        err << "gdr-client: protocol error: " << e.what() << "\n";
        return kExitProtocol;
    }
  }
  return kExitProtocol;
}

}  // namespace gdr::client

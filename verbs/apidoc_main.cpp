// gdr-apidoc: writes docs/API.md from the verb schema, so the reference
// documentation can never drift from what the agent validates.
#include <cstring>
#include <iostream>

#include "api/codes.h"

#include "core/json_util.h"
#include "core/schema.h"

namespace {

void params(std::ostream& out, const std::vector<gdr::ParamSpec>& list, const std::string& prefix) {
  for (const auto& p : list) {
    out << "| `" << prefix << p.name << "` | " << gdr::describeType(p.type) << " | " << (p.required ? "yes" : "no")
        << " | " << (p.defaultValue.isNull() ? "" : "`" + gdr::json::compact(p.defaultValue) + "`") << " | " << p.doc
        << " |\n";
    const gdr::TypeSpec* inner = &p.type;
    if (inner->type == "array" && inner->items) inner = inner->items.get();
    if (!inner->properties.empty()) params(out, inner->properties, prefix + p.name + (p.type.type == "array" ? "[]." : "."));
  }
}

std::string typeText(const gdr::TypeSpec& t) {
  std::string text = gdr::describeType(t);
  if (t.type == "object" && t.values) text = "object of " + gdr::describeType(*t.values);
  return t.nullable ? text + " or null" : text;
}

// The result's members, nested ones as a.b[].c.
void members(std::ostream& out, const std::vector<gdr::ParamSpec>& list, const std::string& prefix) {
  for (const auto& p : list) {
    out << "| `" << prefix << p.name << "` | " << typeText(p.type) << " | " << (p.required ? "yes" : "no") << " | "
        << p.doc << " |\n";
    const gdr::TypeSpec* inner = &p.type;
    std::string suffix = ".";
    while (inner->type == "array" && inner->items) {
      inner = inner->items.get();
      suffix = "[]" + suffix;
    }
    if (inner->type == "object" && inner->values) {
      inner = inner->values.get();
      suffix = ".*" + suffix;
    }
    if (!inner->properties.empty()) members(out, inner->properties, prefix + p.name + suffix);
  }
}

// The status codes, from the one list (api/codes.h).
void codes(std::ostream& out) {
  out << "| code | name | meaning |\n|---|---|---|\n";
  for (const auto& info : gdr::kAllCodes) {
    out << "| " << int(info.code) << " | " << info.name << " | " << info.meaning << " |\n";
  }
}

}  // namespace

// gdr-apidoc          the whole reference (docs/API.md)
// gdr-apidoc --codes  the status-code table alone (as in README.md)
int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--codes") == 0) {
    codes(std::cout);
    return 0;
  }
  const auto& schema = gdr::builtinSchema();
  std::ostream& out = std::cout;
  out << "# gdr-agent API reference\n\n"
      << "Generated from `verbs/schema.json` by `gdr-apidoc`; do not edit by hand.\n"
      << "Schema version " << schema.version() << ".\n";
  for (const auto& [ns, doc] : schema.namespaces()) {
    out << "\n## " << ns << "\n\n" << doc << "\n";
    for (const auto& verb : schema.verbs()) {
      if (verb.ns != ns) continue;
      out << "\n### " << verb.fullName() << "\n\n" << verb.doc << "\n\n";
      if (verb.params.empty()) {
        out << "No parameters.\n";
      } else {
        out << "| parameter | type | required | default | meaning |\n|---|---|---|---|---|\n";
        params(out, verb.params, "");
      }
      out << "\nReturns: " << verb.returns.get("doc", "").asString() << "\n";
      if (!verb.result.properties.empty()) {
        out << "\n| member | type | always | meaning |\n|---|---|---|---|\n";
        members(out, verb.result.properties, "");
      }
    }
  }
  out << "\n## Status codes\n\n"
      << "Every error is a JSON-RPC error object whose `code` is one of these (VDSM's number where VDSM has the\n"
      << "condition), with a `message` and, where useful, `data`.\n\n";
  codes(out);
  return 0;
}

#include "core/registry.h"

#include <stdexcept>

#include "core/schema.h"

namespace gdr {

void Registry::add(const std::string& method, Handler handler) {
  if (!handlers_.emplace(method, std::move(handler)).second) {
    throw std::logic_error("verb registered twice: " + method);
  }
}

const Handler* Registry::find(const std::string& method) const {
  auto it = handlers_.find(method);
  return it == handlers_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, handler] : handlers_) out.push_back(name);
  return out;
}

std::vector<std::string> schemaMismatches(const Schema& schema, const Registry& registry) {
  std::vector<std::string> problems;
  for (const auto& verb : schema.verbs()) {
    if (!registry.find(verb.fullName())) problems.push_back("schema has " + verb.fullName() + " but no handler");
  }
  for (const auto& name : registry.names()) {
    if (!schema.find(name)) problems.push_back("handler " + name + " is not in the schema");
  }
  return problems;
}

}  // namespace gdr

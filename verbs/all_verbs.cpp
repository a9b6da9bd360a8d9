#include "verbs/all_verbs.h"

namespace gdr {

void registerAllVerbs(Registry& registry, AgentServices& services) {
  registerHostVerbs(registry, services);
}

}  // namespace gdr

#include "verbs/all_verbs.h"

namespace gdr {

void registerAllVerbs(Registry& registry, AgentServices& services) {
  registerHostVerbs(registry, services);
  registerGlusterVolumeVerbs(registry, services);
  registerVmVerbs(registry, services);
}

}  // namespace gdr

#include "verbs/all_verbs.h"

namespace gdr {

void registerAllVerbs(Registry& registry, AgentServices& services) {
  registerHostVerbs(registry, services);
  registerGlusterVolumeVerbs(registry, services);
  registerGlusterHostVerbs(registry, services);
  registerVmVerbs(registry, services);
}

}  // namespace gdr

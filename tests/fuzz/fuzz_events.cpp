// Bodies POSTed to the events listener by glustereventsd (or by anyone who
// reaches it): parsed into an event or refused, never more.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gluster/events.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const auto event = gdr::gluster::parseGlusterEvent(body);
  if (event && event->name.empty()) std::abort();  // an event always has its name
  return 0;
}

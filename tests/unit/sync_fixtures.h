#pragma once
// Recorded gdr-sync material (tests/fixtures/sync/): reports, layouts.
#include <json/json.h>

#include <fstream>
#include <string>

namespace gdr::sync {

inline Json::Value syncFixture(const std::string& name) {
  std::ifstream in(std::string(GDR_SOURCE_DIR) + "/tests/fixtures/sync/" + name);
  Json::Value out;
  in >> out;
  return out;
}

}  // namespace gdr::sync

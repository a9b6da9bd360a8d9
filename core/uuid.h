#pragma once
// Random identifiers for jobs and flows.
#include <string>

namespace gdr {

std::string newUuid();                     // a random UUID (version 4), lower case
bool isUuid(const std::string& text);      // 8-4-4-4-12 hex digits

}  // namespace gdr

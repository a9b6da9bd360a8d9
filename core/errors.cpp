#include "core/errors.h"

namespace gdr {

const char* codeName(Code code) {
  for (const auto& info : kAllCodes) {
    if (info.code == code) return info.name;
  }
  return "Unknown";
}

const char* codeMeaning(Code code) {
  for (const auto& info : kAllCodes) {
    if (info.code == code) return info.meaning;
  }
  return "";
}

}  // namespace gdr

#pragma once
// Small text helpers shared by the configuration readers (the agent's
// file, gdr-sync's domains, authorized_keys) and the log and index tails
// the agent reads.
#include <cstddef>
#include <string>
#include <vector>

namespace gdr {

// Without leading and trailing blanks (space, tab, CR, LF).
std::string trim(const std::string& text);

// "a, b,c" -> {"a", "b", "c"}; blank text -> {}. An empty entry ("a,,b",
// "a,") is a typo, never meant: std::invalid_argument names it.
std::vector<std::string> splitList(const std::string& text, char separator = ',');

// The last `bytes` of a file; empty when it cannot be read.
std::string readFileTail(const std::string& path, size_t bytes);

}  // namespace gdr

#include "core/text.h"

#include <fstream>
#include <stdexcept>

namespace gdr {

std::string trim(const std::string& text) {
  static const char* const blanks = " \t\r\n";
  const auto first = text.find_first_not_of(blanks);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

std::vector<std::string> splitList(const std::string& text, char separator) {
  std::vector<std::string> items;
  if (trim(text).empty()) return items;
  std::string::size_type start = 0;
  for (;;) {
    const auto end = text.find(separator, start);
    std::string item = trim(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (item.empty()) throw std::invalid_argument("empty entry in '" + text + "'");
    items.push_back(std::move(item));
    if (end == std::string::npos) return items;
    start = end + 1;
  }
}

std::string readFileTail(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > std::streamoff(bytes) ? size - std::streamoff(bytes) : 0;
  in.seekg(from);
  std::string text(size_t(size - from), '\0');
  in.read(text.data(), std::streamsize(text.size()));
  text.resize(size_t(in.gcount()));
  return text;
}

}  // namespace gdr

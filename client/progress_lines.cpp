#include "client/progress_lines.h"

namespace gdr::sync {

std::string ProgressLines::update(const std::string& step, const std::string& detail, bool done) {
  std::string line = detail.empty() ? step : step + " " + detail;
  if (columns_ == 0) {
    if (line == lastPrinted_) return "";
    lastPrinted_ = line;
    return line + "\n";
  }
  // A line wider than the terminal wraps, and "\r" would redraw only its
  // last row: keep it to one row.
  if (line.size() >= columns_) line = line.substr(0, columns_ > 4 ? columns_ - 4 : 0) + "...";
  lineOpen_ = !done;
  return "\r\033[K" + line + (done ? "\n" : "");
}

std::string ProgressLines::finish() {
  const bool open = lineOpen_;
  lineOpen_ = false;
  return open ? "\n" : "";
}

}  // namespace gdr::sync

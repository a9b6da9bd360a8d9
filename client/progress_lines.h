#pragma once
// What gdr-sync prints of a cycle's progress. On a terminal a step's line
// is redrawn in place ("\r", erase, the line cut to the terminal's width)
// and ends with a newline when the step is done; elsewhere (a log, the
// journal) a line is printed only when it says something new. Pure: the
// caller writes what update() returns.
#include <string>

namespace gdr::sync {

class ProgressLines {
 public:
  // `columns`: the terminal's width (0: not a terminal).
  explicit ProgressLines(size_t columns) : columns_(columns) {}

  std::string update(const std::string& step, const std::string& detail, bool done);
  // After the cycle: the newline a step left open (it failed half-way).
  std::string finish();

 private:
  size_t columns_;
  std::string lastPrinted_;  // not a terminal: the last line printed
  bool lineOpen_ = false;    // a terminal: a line drawn without its newline
};

}  // namespace gdr::sync

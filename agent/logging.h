#pragma once
// spdlog set-up for the agent: one shared logger writing to a file (or
// stderr) that can be reopened in place on SIGHUP, for logrotate.
#include <string>

namespace gdr::logging {

// `file` "-" means stderr. Throws std::runtime_error if the file cannot be opened.
void init(const std::string& file, const std::string& level);

// Reopens the log file (after logrotate moved it). Safe from any thread.
void reopen();

}  // namespace gdr::logging

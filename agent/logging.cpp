#include "agent/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace gdr::logging {

namespace {

// A file sink whose FILE* can be swapped under the sink's own lock, so
// reopening never races with a thread that is logging.
class ReopenableFileSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(std::string path) : path_(std::move(path)) { file_ = openFile(); }
  ~ReopenableFileSink() override {
    if (file_) std::fclose(file_);
  }

  void reopen() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::FILE* fresh = openFile();
    std::fclose(file_);
    file_ = fresh;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), file_);
  }
  void flush_() override { std::fflush(file_); }

 private:
  std::FILE* openFile() {
    std::FILE* f = std::fopen(path_.c_str(), "ae");
    if (!f) throw std::runtime_error("cannot open log file " + path_ + ": " + std::strerror(errno));
    return f;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
};

std::shared_ptr<ReopenableFileSink> g_fileSink;

}  // namespace

void init(const std::string& file, const std::string& level) {
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty() || file == "-") {
    logger = std::make_shared<spdlog::logger>("gdr", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  } else {
    g_fileSink = std::make_shared<ReopenableFileSink>(file);
    logger = std::make_shared<spdlog::logger>("gdr", g_fileSink);
  }
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%t] %v");
  logger->set_level(spdlog::level::from_str(level == "warning" ? "warn" : level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

void reopen() {
  if (g_fileSink) {
    try {
      g_fileSink->reopen();
      spdlog::info("log file reopened");
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
    }
  }
}

}  // namespace gdr::logging

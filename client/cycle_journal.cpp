#include "client/cycle_journal.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/durable_file.h"
#include "core/json_util.h"

namespace gdr::sync {

namespace fs = std::filesystem;

FileCycleJournal::FileCycleJournal(std::string stateDir)
    : dir_(std::move(stateDir)), path_((fs::path(dir_) / "cycle-journal.json").string()) {}

std::optional<Json::Value> FileCycleJournal::load() {
  std::error_code ec;
  if (!fs::exists(path_, ec)) return std::nullopt;
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = json::parse(text.str());
  if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + path_);
  if (!parsed || !parsed->isObject() || !(*parsed)["vms"].isArray()) {
    throw std::runtime_error(path_ + " is not a cycle journal; move it aside once its VMs are checked");
  }
  return parsed;
}

void FileCycleJournal::save(const Json::Value& journal) {
  fs::create_directories(dir_);
  writeFileDurably(path_, json::pretty(journal) + "\n");
}

void FileCycleJournal::clear() {
  std::error_code ec;
  fs::remove(path_, ec);
  if (ec) throw std::runtime_error("cannot remove " + path_ + ": " + ec.message());
}

}  // namespace gdr::sync

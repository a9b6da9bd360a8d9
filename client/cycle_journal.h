#pragma once
// What gdr-sync must know to finish a cycle it did not finish (killed,
// host rebooted): which VMs it was about to snapshot or had snapshotted,
// on which hosts. Saved before each step that changes a VM, kept until
// every VM is back on one image; the next run adopts what it finds.
#include <json/value.h>

#include <optional>
#include <string>

namespace gdr::sync {

class CycleJournal {
 public:
  virtual ~CycleJournal() = default;
  // The journal of an unfinished cycle, or nullopt. Throws
  // std::runtime_error when one exists but cannot be read.
  virtual std::optional<Json::Value> load() = 0;
  virtual void save(const Json::Value& journal) = 0;  // durable before it returns; throws
  virtual void clear() = 0;
};

// STATE_DIR/cycle-journal.json, replaced whole and fsync'ed.
class FileCycleJournal : public CycleJournal {
 public:
  explicit FileCycleJournal(std::string stateDir);
  std::optional<Json::Value> load() override;
  void save(const Json::Value& journal) override;
  void clear() override;
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

}  // namespace gdr::sync

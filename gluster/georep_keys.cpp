#include "gluster/georep_keys.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/durable_file.h"
#include "core/errors.h"
#include "core/json_util.h"
#include "core/text.h"

namespace gdr::gluster {

namespace {

bool isKeyType(const std::string& word) {
  static const std::set<std::string> types = {"ssh-rsa",
                                              "ssh-ed25519",
                                              "ecdsa-sha2-nistp256",
                                              "ecdsa-sha2-nistp384",
                                              "ecdsa-sha2-nistp521",
                                              "sk-ssh-ed25519@openssh.com",
                                              "sk-ecdsa-sha2-nistp256@openssh.com"};
  return types.count(word) > 0;
}

bool isBase64(const std::string& word) {
  return word.size() >= 16 && std::all_of(word.begin(), word.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '+' || c == '/' || c == '=';
         });
}

// The options field ends at the first blank outside double quotes.
size_t optionsEnd(const std::string& line) {
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && quoted && i + 1 < line.size()) {
      ++i;
    } else if (line[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && (line[i] == ' ' || line[i] == '\t')) {
      return i;
    }
  }
  return quoted ? std::string::npos : line.size();
}

// type, blob and comment from `rest` (after the options, if any).
bool parseKeyFields(const std::string& rest, AuthorizedKey& key) {
  std::istringstream words(rest);
  if (!(words >> key.type >> key.blob)) return false;
  std::getline(words, key.comment);
  key.comment = trim(key.comment);
  return isKeyType(key.type) && isBase64(key.blob);
}

}  // namespace

std::optional<AuthorizedKey> parseAuthorizedKey(const std::string& raw) {
  const std::string line = trim(raw);
  if (line.empty() || line[0] == '#') return std::nullopt;
  AuthorizedKey key;
  if (parseKeyFields(line, key)) return key;
  // Options first: "command=\"...\",no-pty ssh-rsa AAAA... comment".
  const size_t end = optionsEnd(line);
  if (end == std::string::npos || end == line.size()) return std::nullopt;
  key = AuthorizedKey{};
  key.options = line.substr(0, end);
  if (!parseKeyFields(line.substr(end + 1), key)) return std::nullopt;
  return key;
}

AuthorizedKey checkGeoRepKey(const std::string& line, size_t index) {
  const std::string where = "geoRepPubKeys[" + std::to_string(index) + "]: ";
  Json::Value data;
  data["index"] = Json::UInt64(index);
  if (trim(line).find_first_of("\r\n") != std::string::npos) {
    throw AgentError(Code::GeoRepKeyRejected, where + "more than one line", data);
  }
  const std::optional<AuthorizedKey> key = parseAuthorizedKey(line);
  if (!key) throw AgentError(Code::GeoRepKeyRejected, where + "not an authorized_keys line with a public key", data);
  // gsec_create's keys all carry one; without it the key would open a shell.
  if (key->options.rfind("command=", 0) != 0 && key->options.find(",command=") == std::string::npos) {
    throw AgentError(Code::GeoRepKeyRejected,
                     where + "no forced command (command=\"...\"): geo-replication keys run gsyncd or tar only", data);
  }
  return *key;
}

KeyMerge mergeAuthorizedKeys(const std::string& existing, const std::vector<std::string>& keys) {
  KeyMerge out;
  out.text = existing;
  std::vector<AuthorizedKey> held;
  std::istringstream lines(existing);
  std::string line;
  while (std::getline(lines, line)) {
    if (auto key = parseAuthorizedKey(line)) held.push_back(*key);
  }
  if (!out.text.empty() && out.text.back() != '\n') out.text += '\n';
  std::vector<AuthorizedKey> appended;
  auto holds = [](const std::vector<AuthorizedKey>& keys, const AuthorizedKey& key) {
    return std::any_of(keys.begin(), keys.end(), [&](const AuthorizedKey& k) { return k.sameKey(key); });
  };
  for (const auto& raw : keys) {
    const std::optional<AuthorizedKey> key = parseAuthorizedKey(raw);
    if (!key || holds(appended, *key)) continue;  // a key asked for twice comes once
    if (holds(held, *key)) {
      ++out.present;
      continue;
    }
    out.text += trim(raw) + "\n";
    appended.push_back(*key);
    ++out.added;
  }
  return out;
}

std::vector<std::string> readGeoRepPublicKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw AgentError(Code::GeoRepPublicKeyFileReadError, "cannot read " + path + ": " + std::strerror(errno));
  }
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    if (!trim(line).empty()) keys.push_back(trim(line));
  }
  if (keys.empty()) throw AgentError(Code::GeoRepPublicKeyFileReadError, path + " holds no key");
  return keys;
}

namespace {

// A user's authorized_keys, as read before it is rewritten.
struct KeysFile {
  std::string path, text;
  uid_t uid = 0;
  gid_t gid = 0;
};

KeysFile readKeysFile(const std::string& user, const std::string& homeOverride) {
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    throw AgentError(Code::GeoRepUserNotFound, "no user '" + json::printable(user, 64) + "' on this host");
  }
  const std::string home = homeOverride.empty() ? std::string(found->pw_dir) : homeOverride;
  const std::string sshDir = home + "/.ssh";
  KeysFile out{sshDir + "/authorized_keys", "", found->pw_uid, found->pw_gid};
  auto writeFailed = [&](const std::string& why) { return AgentError(Code::GeoRepPublicKeyWriteFailed, why); };
  // Written as root into the user's home: never through a symlink the
  // user may have planted, never into a directory someone else owns.
  struct stat st {};
  if (::lstat(sshDir.c_str(), &st) != 0) {
    if (errno != ENOENT) throw writeFailed("cannot read " + sshDir + ": " + std::strerror(errno));
    if (::mkdir(sshDir.c_str(), 0700) != 0 || ::chown(sshDir.c_str(), found->pw_uid, found->pw_gid) != 0) {
      throw writeFailed("cannot make " + sshDir + ": " + std::strerror(errno));
    }
  } else if (!S_ISDIR(st.st_mode) || (st.st_uid != found->pw_uid && st.st_uid != 0)) {
    throw writeFailed(sshDir + " is not a directory of " + user + "'s");
  }
  if (::lstat(out.path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) throw writeFailed(out.path + " is not a regular file (a symlink?)");
    std::ifstream in(out.path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw writeFailed("cannot read " + out.path);
    out.text = text.str();
  } else if (errno != ENOENT) {
    throw writeFailed("cannot read " + out.path + ": " + std::strerror(errno));
  }
  return out;
}

void writeKeysFile(const KeysFile& file, const std::string& text) {
  try {
    writeFileDurably(file.path, text, 0600, FileOwner{file.uid, file.gid});
  } catch (const std::exception& e) {
    throw AgentError(Code::GeoRepPublicKeyWriteFailed, e.what());
  }
}

bool isGeoRepKey(const AuthorizedKey& key) {
  const auto at = key.options.find("command=\"");
  if (at == std::string::npos) return false;
  const std::string command = key.options.substr(at + 9);
  return command.find("gsyncd") != std::string::npos || command.rfind("tar ", 0) == 0;
}

}  // namespace

KeyMerge updateAuthorizedKeys(const std::string& user, const std::vector<std::string>& keys,
                              const std::string& homeOverride) {
  const KeysFile file = readKeysFile(user, homeOverride);
  KeyMerge merge = mergeAuthorizedKeys(file.text, keys);
  if (merge.added == 0) return merge;  // nothing to write: the file stays as it is
  writeKeysFile(file, merge.text);
  return merge;
}

KeyFence withoutGeoRepKeys(const std::string& existing) {
  KeyFence out;
  std::istringstream in(existing);
  std::string line;
  while (std::getline(in, line)) {
    const auto key = parseAuthorizedKey(line);
    if (key && isGeoRepKey(*key)) {
      out.removed.push_back(line);
    } else {
      out.text += line + "\n";
    }
  }
  return out;
}

KeyFence fenceGeoRepKeys(const std::string& user, const std::string& keptAside, const std::string& homeOverride) {
  const KeysFile file = readKeysFile(user, homeOverride);
  KeyFence fence = withoutGeoRepKeys(file.text);
  if (fence.removed.empty()) return fence;
  std::string aside;
  for (const auto& line : fence.removed) aside += line + "\n";
  try {
    writeFileDurably(keptAside, aside, 0600);  // first: a key is never only in memory
  } catch (const std::exception& e) {
    throw AgentError(Code::GeoRepPublicKeyWriteFailed, "cannot keep the fenced keys aside: " + std::string(e.what()));
  }
  writeKeysFile(file, fence.text);
  return fence;
}

}  // namespace gdr::gluster

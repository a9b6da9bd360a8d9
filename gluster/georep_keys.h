#pragma once
// The keys geo-replication logs in with: gluster's gsec_create writes the
// primary's public keys, one authorized_keys line each, every one with a
// forced command (gsyncd, or tar for the tar+ssh sync); they are merged
// into the secondary user's ~/.ssh/authorized_keys. The parsing and the
// merge are pure; updateAuthorizedKeys() does the file's I/O.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace gdr::gluster {

// One authorized_keys line: [options] type base64 [comment].
struct AuthorizedKey {
  std::string options;  // "" or e.g. command="/usr/libexec/glusterfs/gsyncd"
  std::string type;     // ssh-rsa, ssh-ed25519, ecdsa-sha2-nistp256, ...
  std::string blob;     // the key, base64
  std::string comment;
  // A key is the same key whatever its options and comment.
  bool sameKey(const AuthorizedKey& other) const { return type == other.type && blob == other.blob; }
};

// Parses one line; nullopt for a comment, a blank line, or something that
// is not a key (an unknown type, a blob that is not base64).
std::optional<AuthorizedKey> parseAuthorizedKey(const std::string& line);

// Checks a key a caller asks to install: one line, a key, and a forced
// command among its options (a key without one would be a shell login).
// Throws AgentError(GeoRepKeyRejected) saying which and why.
AuthorizedKey checkGeoRepKey(const std::string& line, size_t index);

struct KeyMerge {
  std::string text;  // the file's new content: the old one untouched, new lines after it
  int added = 0, present = 0;
};

// Merges `keys` into an authorized_keys file's `existing` text: a key the
// file holds already (by type and blob, whatever its options) is left as
// it is; the others are appended once each, in order.
KeyMerge mergeAuthorizedKeys(const std::string& existing, const std::vector<std::string>& keys);

// The lines of gsec_create's public key file (blank lines dropped).
// Throws AgentError(GeoRepPublicKeyFileReadError).
std::vector<std::string> readGeoRepPublicKeys(const std::string& path);

// Merges `keys` into `user`'s ~/.ssh/authorized_keys: ~/.ssh made 0700 if
// absent, the file written whole (temporary file, fsync, rename), mode 0600,
// owned by the user. `homeOverride` (tests) stands for the user's home.
// Throws AgentError(GeoRepUserNotFound, GeoRepPublicKeyWriteFailed).
KeyMerge updateAuthorizedKeys(const std::string& user, const std::vector<std::string>& keys,
                              const std::string& homeOverride = "");

// An authorized_keys text without geo-replication's keys (a forced
// command running gsyncd, or tar for the tar+ssh sync): every other line
// kept as it is. `removed`: the lines taken out.
struct KeyFence {
  std::string text;
  std::vector<std::string> removed;
};
KeyFence withoutGeoRepKeys(const std::string& existing);

// Fences a secondary from its primary: the geo-replication keys taken out
// of `user`'s ~/.ssh/authorized_keys, so a primary that comes back cannot
// log in to sync over a promoted volume. The lines taken out are written
// to `keptAside` first (nothing lost); the file is left as it is when it
// holds none.
KeyFence fenceGeoRepKeys(const std::string& user, const std::string& keptAside, const std::string& homeOverride = "");

}  // namespace gdr::gluster

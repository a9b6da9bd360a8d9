#pragma once
// Volume-relative paths, checked before anything touches a volume. Pure.
#include <string>
#include <vector>

namespace gdr::volpath {

using Components = std::vector<std::string>;

// Splits a path relative to the volume root into its components. Throws
// AgentError(PathRejected) for an absolute path, an empty path or
// component ("a//b", trailing "/"), "." or "..", a NUL, or a component
// longer than 255 bytes.
Components split(const std::string& path);
std::string join(const Components& components);

// The directory overlays live in when none are configured: VM.snapshot
// puts each overlay into this directory next to its disk.
inline constexpr const char* kSnapshotDirName = ".gdr-snapshots";

// With `prefixes` empty: the file's parent directory is named
// ".gdr-snapshots". Otherwise the path lies strictly below one of the
// prefixes (volume-relative directories, themselves valid paths).
bool insideAllowedPrefix(const Components& path, const std::vector<std::string>& prefixes);

// Does `backing` (as written in an overlay's qcow2 header) designate
// `expected` (a volume-relative path)? A relative name is resolved against
// the overlay's directory; an absolute one (a path on some mount of the
// primary) matches when its trailing components are exactly `expected`.
bool backingDesignates(const std::string& backing, const Components& overlayDir, const Components& expected);

// Whether `delta` (volume-relative) is an overlay gdr made for `base`: a
// .qcow2 file in the snapshot directory beside it. Only such files are
// ever removed as a point's delta.
bool isDeltaBeside(const std::string& delta, const std::string& base);

}  // namespace gdr::volpath

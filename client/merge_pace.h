// --merge-bandwidth auto: each merge copies at a few times the rate its VM
// wrote the image, so the merge takes a bounded share of the guest's disk
// instead of all it can get (scripts/bench guest: a merge at full speed
// left a guest writing flat out 21-29 % of its throughput meanwhile).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gdr::sync {

// How many times the VM's own write rate a paced merge copies at: the merge
// takes about a quarter of the time the VM spent writing the image.
constexpr double kMergePaceFactor = 4;
// No paced merge is slower than this: an image written slowly still merges
// within seconds (the lab's record writers' 32 MiB, written over two
// minutes, in 8 s; at 1-2 MiB/s they took 16-32 s). An image is
// paced however small: four small merges at full speed at once left guests
// writing flat out half their throughput (scripts/bench guest, 4 VMs,
// cycles of 30 s).
constexpr unsigned kMergePaceMinMiB = 4;

// When the VM began writing an overlay, from the UTC second in its name as
// the agent makes it (NAME.YYYYMMDDTHHMMSSZ.XXXXXX.qcow2); nullopt for a
// name without one.
std::optional<std::int64_t> overlayStamp(const std::string& path);

// The bandwidth (MiB/s) of a paced merge of `bytes` written over
// `writingSeconds` (under a second counts as one); nullopt: full speed, the
// image being empty.
std::optional<unsigned> pacedMergeBandwidth(std::uint64_t bytes, double writingSeconds);

}  // namespace gdr::sync

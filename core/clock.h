#pragma once
// Wall-clock time as the wire shows it: seconds (or milliseconds) since the
// epoch. Durations inside the programs use std::chrono::steady_clock.
#include <cstdint>

namespace gdr {

std::int64_t nowSeconds();
std::int64_t nowMilliseconds();

}  // namespace gdr

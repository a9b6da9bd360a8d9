// The request path as a transport drives it, in memory: parse, schema
// validation, batches, the typed decoding of every verb's parameters and
// the encoding of its result. Whatever the bytes, the dispatcher answers
// with JSON (or nothing, for notifications) and never throws.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/verb_list.h"
#include "core/dispatcher.h"
#include "core/json_util.h"
#include "core/schema.h"

namespace {

const gdr::Dispatcher& dispatcher() {
  static gdr::Registry registry = [] {
    gdr::Registry r;
    // Each verb answers its default result: the handlers' I/O is not what
    // is fuzzed here, the edge in front of them is.
    gdr::api::registerDefaultHandlers(r, gdr::api::AllVerbs{});
    return r;
  }();
  static const gdr::Dispatcher instance(gdr::builtinSchema(), registry, /*checkResults=*/false, /*maxBatch=*/100);
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto reply = dispatcher().handle(text, "fuzz-flow");
  if (reply && !gdr::json::parse(*reply)) std::abort();  // a reply that is not JSON
  return 0;
}

// libFuzzer entry point for models::handle_translate_request (the request handling of seqgrad serve).
// The checks live in targets.h, shared with the Catch2 replay of the corpus (tests/test_fuzz_regressions.cpp).
#include <cstddef>
#include <cstdint>

#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    seqgrad::fuzz::translate_request({reinterpret_cast<const char*>(data), size});
    return 0;
}

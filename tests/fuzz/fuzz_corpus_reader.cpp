// libFuzzer entry point for data::read_corpus_string with the word and char tokenizers (the first byte chooses the options).
// The checks live in targets.h, shared with the Catch2 replay of the corpus (tests/test_fuzz_regressions.cpp).
#include <cstddef>
#include <cstdint>

#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    seqgrad::fuzz::corpus_reader({reinterpret_cast<const char*>(data), size});
    return 0;
}

// Value checks for the command's options that say what is allowed. CLI11 puts the flag in front:
//   seqgrad: error: --hidden: must be a positive integer, got 0 (see seqgrad --help)
// (CLI11's own PositiveNumber says "Value 0 not in range 0.000000 to 1.797693e+308"). Each check
// also reads the text itself, so `--epochs many` gets the same kind of message.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace seqgrad::apps {

CLI::Validator positive_integer();      // 1, 2, ...
CLI::Validator non_negative_integer();  // 0, 1, ...
CLI::Validator integer_range(std::int64_t lo, std::int64_t hi);
CLI::Validator positive_number();       // > 0
CLI::Validator non_negative_number();   // >= 0
CLI::Validator number_range(double lo, double hi);

}  // namespace seqgrad::apps

// The option value checks of apps/checks.h.
#include "apps/checks.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace seqgrad::apps {

namespace {

// The whole text as an integer, or false (also for a number out of the int64 range).
bool parse_integer(const std::string& text, std::int64_t& value) {
    if (text.empty()) return false;
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0') return false;
    value = v;
    return true;
}

// The whole text as a finite number, or false.
bool parse_number(const std::string& text, double& value) {
    if (text.empty()) return false;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (*end != '\0' || !std::isfinite(v)) return false;
    value = v;
    return true;
}

CLI::Validator integer_check(std::string what, std::string desc, std::int64_t lo, std::int64_t hi) {
    return CLI::Validator(
        [what, lo, hi](std::string& text) -> std::string {
            std::int64_t v = 0;
            if (!parse_integer(text, v) || v < lo || v > hi) return fmt::format("must be {}, got {}", what, text);
            return {};
        },
        std::move(desc));
}

CLI::Validator number_check(std::string what, std::string desc, double lo, bool lo_open, double hi) {
    return CLI::Validator(
        [what, lo, lo_open, hi](std::string& text) -> std::string {
            double v = 0;
            if (!parse_number(text, v) || v < lo || (lo_open && v == lo) || v > hi)
                return fmt::format("must be {}, got {}", what, text);
            return {};
        },
        std::move(desc));
}

}  // namespace

CLI::Validator positive_integer() { return integer_check("a positive integer", "POSITIVE", 1, INT64_MAX); }
CLI::Validator non_negative_integer() { return integer_check("an integer >= 0", "NONNEGATIVE", 0, INT64_MAX); }
CLI::Validator integer_range(std::int64_t lo, std::int64_t hi) {
    return integer_check(fmt::format("an integer from {} to {}", lo, hi), fmt::format("[{} - {}]", lo, hi), lo, hi);
}
CLI::Validator positive_number() { return number_check("a positive number", "POSITIVE", 0.0, true, HUGE_VAL); }
CLI::Validator non_negative_number() { return number_check("a number >= 0", "NONNEGATIVE", 0.0, false, HUGE_VAL); }
CLI::Validator number_range(double lo, double hi) {
    return number_check(fmt::format("a number from {} to {}", lo, hi), fmt::format("[{} - {}]", lo, hi), lo, false, hi);
}

}  // namespace seqgrad::apps

// The dates task (see models/data/toy_tasks.h): the proleptic Gregorian calendar, the written forms
// of a date, and the generator.
#include "models/data/toy_task_util.h"

#include <array>

namespace seqgrad::data {

using toy::Rng;
using toy::pick;
using toy::chance;

// ---- dates ----------------------------------------------------------------------------------------
namespace dates {

namespace {
const std::array<const char*, 12> kMonths = {"january", "february", "march",     "april",   "may",      "june",
                                             "july",    "august",   "september", "october", "november", "december"};
const std::array<const char*, 12> kMonthAbbr = {"jan", "feb", "mar", "apr", "may", "jun",
                                                "jul", "aug", "sep", "oct", "nov", "dec"};
const std::array<const char*, 7> kWeekdays = {"monday", "tuesday",  "wednesday", "thursday",
                                              "friday", "saturday", "sunday"};
const std::array<const char*, 7> kWeekdayAbbr = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::string ordinal(int d) {
    const char* suffix = (d % 100 >= 11 && d % 100 <= 13) ? "th"
                         : d % 10 == 1                    ? "st"
                         : d % 10 == 2                    ? "nd"
                         : d % 10 == 3                    ? "rd"
                                                          : "th";
    return fmt::format("{}{}", d, suffix);
}

constexpr std::size_t kNumFormats = 24;
}  // namespace

// Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms": eras of 400 years, March-based
// years so the leap day is last.
std::int64_t days_from_civil(Date d) {
    const std::int64_t y = d.year - (d.month <= 2 ? 1 : 0);
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;                                       // [0, 399]
    const std::int64_t doy = (153 * (d.month + (d.month > 2 ? -3 : 9)) + 2) / 5 + d.day - 1;  // [0, 365]
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;               // [0, 146096]
    return era * 146097 + doe - 719468;
}

Date civil_from_days(std::int64_t z) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    const int year = static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0));
    return {year, month, day};
}

int weekday(Date d) {
    // 1970-01-01 was a Thursday (index 3 counting from Monday = 0).
    const std::int64_t z = days_from_civil(d);
    return static_cast<int>(((z % 7) + 7 + 3) % 7);
}

std::string iso(Date d) { return fmt::format("{:04d}-{:02d}-{:02d}", d.year, d.month, d.day); }

std::size_t num_formats() { return kNumFormats; }

std::string format_date(Date d, std::size_t k, Casing casing) {
    auto name = [&](const char* s) {
        std::string out = s;
        if (casing == Casing::Title) out[0] = static_cast<char>(out[0] - 'a' + 'A');
        return out;
    };
    const std::string wd = name(kWeekdays[static_cast<std::size_t>(weekday(d))]);
    const std::string wda = name(kWeekdayAbbr[static_cast<std::size_t>(weekday(d))]);
    const std::string month = name(kMonths[static_cast<std::size_t>(d.month - 1)]);
    const std::string mon = name(kMonthAbbr[static_cast<std::size_t>(d.month - 1)]);
    const int D = d.day, M = d.month, Y = d.year, YY = d.year % 100;
    std::string s;
    switch (k) {
        case 0: s = fmt::format("{} {} {} {}", wd, D, month, Y); break;                 // saturday 9 may 1998
        case 1: s = fmt::format("{}/{}/{:02d}", D, M, YY); break;                       // 9/5/98
        case 2: s = fmt::format("{} {}, {}", month, ordinal(D), Y); break;              // may 9th, 1998
        case 3: s = fmt::format("{:02d}.{:02d}.{}", D, M, Y); break;                    // 09.05.1998
        case 4: s = fmt::format("{}/{:02d}/{:02d}", Y, M, D); break;                    // 1998/05/09
        case 5: s = fmt::format("{} {} {:02d}", D, mon, YY); break;                     // 9 may 98
        case 6: s = fmt::format("{}, {} {}, {}", wd, month, D, Y); break;               // tuesday, march 3, 2021
        case 7: s = fmt::format("{:02d}/{:02d}/{}", D, M, Y); break;                    // 09/05/1998
        case 8: s = fmt::format("{:02d}-{:02d}-{}", D, M, Y); break;                    // 09-05-1998
        case 9: s = fmt::format("{}-{:02d}-{:02d}", Y, M, D); break;                    // 1998-05-09
        case 10: s = fmt::format("{} {} {}", D, month, Y); break;                       // 9 may 1998
        case 11: s = fmt::format("{} {}, {}", month, D, Y); break;                      // may 9, 1998
        case 12: s = fmt::format("{} {} {}", mon, D, Y); break;                         // may 9 1998
        case 13: s = fmt::format("{} of {} {}", ordinal(D), month, Y); break;           // 9th of may 1998
        case 14: s = fmt::format("{} {} {} {}", wda, D, mon, Y); break;                 // sat 9 may 1998
        case 15: s = fmt::format("{}, {} {} {}", wda, D, mon, Y); break;                // sat, 9 may 1998
        case 16: s = fmt::format("{}.{}.{:02d}", D, M, YY); break;                      // 9.5.98
        case 17: s = fmt::format("{}{:02d}{:02d}", Y, M, D); break;                     // 19980509
        case 18: s = fmt::format("{} the {} of {}, {}", wd, ordinal(D), month, Y); break;  // saturday the 9th of may, 1998
        case 19: s = fmt::format("{} {} '{:02d}", mon, D, YY); break;                   // may 9 '98
        case 20: s = fmt::format("{} {} {}", month, ordinal(D), Y); break;              // may 9th 1998
        case 21: s = fmt::format("{}-{}-{}", D, mon, Y); break;                         // 9-may-1998
        case 22: s = fmt::format("{:02d} {} {}", D, month, Y); break;                   // 09 may 1998
        case 23: s = fmt::format("{}, {} {} {}", wd, D, month, Y); break;               // saturday, 9 may 1998
        default:
            fail<IndexError>("dates::format_date: format {} is out of range (0..{})", k, kNumFormats - 1);
    }
    if (casing == Casing::Upper)
        for (char& c : s)
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return s;
}

}  // namespace dates

namespace toy {

// Two-digit years are unambiguous because the range is exactly one century: 50..99 -> 19xx,
// 00..49 -> 20xx. Numeric forms are always day-first (or year-first with four digits), never US
// month-first, so every source has one reading.
std::vector<TextPair> generate_dates(std::uint64_t seed, std::size_t n) {
    Rng rng(seed);
    const std::int64_t lo = dates::days_from_civil({1950, 1, 1});
    const std::int64_t hi = dates::days_from_civil({2049, 12, 31});
    return distinct_pairs("dates", n, [&]() -> std::optional<TextPair> {
        const dates::Date d = dates::civil_from_days(lo + static_cast<std::int64_t>(rng.below(hi - lo + 1)));
        const auto k = static_cast<std::size_t>(rng.below(dates::num_formats()));
        const double u = rng.uniform();
        const auto casing = u < 0.6 ? dates::Casing::Lower : u < 0.85 ? dates::Casing::Title : dates::Casing::Upper;
        return TextPair{dates::format_date(d, k, casing), dates::iso(d)};
    });
}

}  // namespace toy

}  // namespace seqgrad::data

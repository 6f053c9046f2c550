// The toy-task generators (dates, enfr, reverse, copy), the table of shipped corpora and data_dir();
// see models/data/toy_tasks.h. Every random choice goes through SplitMix64 in a fixed order, so a seed
// always produces the same file.
#include "models/data/toy_tasks.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <fmt/ranges.h>

#include "core/error.h"
#include "models/data/corpus.h"

namespace seqgrad::data {

namespace {

using Rng = SplitMix64;

template <typename T>
const T& pick(const std::vector<T>& v, Rng& rng) {
    return v[static_cast<std::size_t>(rng.below(v.size()))];
}

bool chance(Rng& rng, double p) { return rng.uniform() < p; }

std::vector<std::string> split_spaces(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

std::string join(const std::vector<std::string>& tokens) { return fmt::format("{}", fmt::join(tokens, " ")); }

// Draws until `n` distinct sources; `draw` returns one (source, target) pair. Gives up with an
// error when the task clearly cannot produce that many (e.g. copy with max_len 1 and n = 100).
template <typename Draw>
std::vector<TextPair> distinct_pairs(const std::string& task, std::size_t n, Draw draw) {
    std::vector<TextPair> out;
    out.reserve(n);
    std::map<std::string, std::string> seen;  // source -> target; also checks the task is a function
    const std::size_t max_attempts = 50 * n + 1000;
    for (std::size_t attempt = 0; out.size() < n; ++attempt) {
        if (attempt == max_attempts)
            fail<Error>("generate_task {}: only {} distinct pairs after {} draws, {} asked (widen the options or "
                        "ask for fewer)",
                        task, out.size(), attempt, n);
        std::optional<TextPair> p = draw();
        if (!p) continue;
        auto [it, inserted] = seen.emplace(p->first, p->second);
        if (!inserted) {
            if (it->second != p->second)
                fail<Error>("generate_task {}: source \"{}\" has two targets \"{}\" and \"{}\" (a grammar bug)", task,
                            p->first, it->second, p->second);
            continue;
        }
        out.push_back(std::move(*p));
    }
    return out;
}

}  // namespace

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

namespace {

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

// ---- reverse / copy -----------------------------------------------------------------------------

std::vector<TextPair> generate_sequences(const std::string& task, std::uint64_t seed, std::size_t n,
                                         const ToyTaskOptions& o) {
    if (o.min_len == 0 || o.min_len > o.max_len)
        fail<Error>("generate_task {}: need 1 <= min_len <= max_len, got min_len {} max_len {}", task, o.min_len,
                    o.max_len);
    if (o.alphabet.empty()) fail<Error>("generate_task {}: the alphabet is empty", task);
    for (char c : o.alphabet)
        if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7F || c == '\'' ||
            std::string_view(".!?,;:\"()").find(c) != std::string_view::npos)
            fail<Error>("generate_task {}: alphabet symbol 0x{:02X} is not a printable ASCII word character", task,
                        static_cast<unsigned char>(c));
    if (std::set<char>(o.alphabet.begin(), o.alphabet.end()).size() != o.alphabet.size())
        fail<Error>("generate_task {}: the alphabet \"{}\" repeats a symbol", task, o.alphabet);
    Rng rng(seed);
    const bool reverse = task == "reverse";
    return distinct_pairs(task, n, [&]() -> std::optional<TextPair> {
        const std::size_t len = o.min_len + static_cast<std::size_t>(rng.below(o.max_len - o.min_len + 1));
        std::vector<std::string> symbols(len);
        for (auto& s : symbols) s = std::string(1, o.alphabet[static_cast<std::size_t>(rng.below(o.alphabet.size()))]);
        std::vector<std::string> target = symbols;
        if (reverse) std::reverse(target.begin(), target.end());
        return TextPair{join(symbols), join(target)};
    });
}

}  // namespace

// ---- enfr -----------------------------------------------------------------------------------------
namespace enfr {

namespace {

// Noun categories (which verbs and adjectives a noun takes) and properties.
enum : unsigned {
    kPerson = 1, kAnimal = 2, kFood = 4, kReadable = 8, kThing = 16,  // categories
    kPortable = 32, kClosable = 64, kRepairable = 128, kWashable = 256, kPlace = 512,
};

struct Noun {
    const char *en, *en_pl, *fr, *fr_pl;
    bool fem;
    unsigned tags;
};

// No French noun starts with a vowel or h, so articles never elide (le/la, ce, mon stay as they are).
const std::vector<Noun> kNouns = {
    {"boy", "boys", "garçon", "garçons", false, kPerson},
    {"girl", "girls", "fille", "filles", true, kPerson},
    {"woman", "women", "femme", "femmes", true, kPerson},
    {"brother", "brothers", "frère", "frères", false, kPerson},
    {"sister", "sisters", "sœur", "sœurs", true, kPerson},
    {"father", "fathers", "père", "pères", false, kPerson},
    {"mother", "mothers", "mère", "mères", true, kPerson},
    {"king", "kings", "roi", "rois", false, kPerson},
    {"queen", "queens", "reine", "reines", true, kPerson},
    {"cat", "cats", "chat", "chats", false, kAnimal},
    {"dog", "dogs", "chien", "chiens", false, kAnimal},
    {"horse", "horses", "cheval", "chevaux", false, kAnimal},
    {"cow", "cows", "vache", "vaches", true, kAnimal},
    {"mouse", "mice", "souris", "souris", true, kAnimal},
    {"duck", "ducks", "canard", "canards", false, kAnimal},
    {"rabbit", "rabbits", "lapin", "lapins", false, kAnimal},
    {"apple", "apples", "pomme", "pommes", true, kFood | kPortable},
    {"pear", "pears", "poire", "poires", true, kFood | kPortable},
    {"banana", "bananas", "banane", "bananes", true, kFood | kPortable},
    {"tomato", "tomatoes", "tomate", "tomates", true, kFood | kPortable},
    {"carrot", "carrots", "carotte", "carottes", true, kFood | kPortable},
    {"pie", "pies", "tarte", "tartes", true, kFood | kPortable},
    {"cake", "cakes", "gâteau", "gâteaux", false, kFood | kPortable},
    {"cookie", "cookies", "biscuit", "biscuits", false, kFood | kPortable},
    {"sandwich", "sandwiches", "sandwich", "sandwichs", false, kFood | kPortable},
    {"lemon", "lemons", "citron", "citrons", false, kFood | kPortable},
    {"book", "books", "livre", "livres", false, kReadable | kPortable | kClosable},
    {"letter", "letters", "lettre", "lettres", true, kReadable | kPortable},
    {"newspaper", "newspapers", "journal", "journaux", false, kReadable | kPortable},
    {"magazine", "magazines", "magazine", "magazines", false, kReadable | kPortable},
    {"map", "maps", "carte", "cartes", true, kReadable | kPortable},
    {"poem", "poems", "poème", "poèmes", false, kReadable | kPortable},
    {"car", "cars", "voiture", "voitures", true, kThing | kRepairable | kWashable},
    {"bike", "bikes", "vélo", "vélos", false, kThing | kRepairable | kWashable | kPortable},
    {"door", "doors", "porte", "portes", true, kThing | kClosable | kRepairable | kWashable},
    {"window", "windows", "fenêtre", "fenêtres", true, kThing | kClosable | kRepairable | kWashable},
    {"box", "boxes", "boîte", "boîtes", true, kThing | kClosable | kPortable},
    {"chair", "chairs", "chaise", "chaises", true, kThing | kRepairable | kPortable | kWashable},
    {"table", "tables", "table", "tables", true, kThing | kRepairable | kWashable},
    {"bag", "bags", "sac", "sacs", false, kThing | kClosable | kPortable},
    {"hat", "hats", "chapeau", "chapeaux", false, kThing | kPortable},
    {"key", "keys", "clé", "clés", true, kThing | kPortable},
    {"phone", "phones", "téléphone", "téléphones", false, kThing | kRepairable | kPortable},
    {"cup", "cups", "tasse", "tasses", true, kThing | kPortable | kWashable},
    {"glass", "glasses", "verre", "verres", false, kThing | kPortable | kWashable},
    {"knife", "knives", "couteau", "couteaux", false, kThing | kPortable | kWashable},
    {"bottle", "bottles", "bouteille", "bouteilles", true, kThing | kClosable | kPortable | kWashable},
    {"kitchen", "kitchens", "cuisine", "cuisines", true, kPlace},
    {"garden", "gardens", "jardin", "jardins", false, kPlace},
    {"park", "parks", "parc", "parcs", false, kPlace},
    {"street", "streets", "rue", "rues", true, kPlace},
    {"bedroom", "bedrooms", "chambre", "chambres", true, kPlace},
    {"office", "offices", "bureau", "bureaux", false, kPlace},
    {"house", "houses", "maison", "maisons", true, kPlace},
    {"forest", "forests", "forêt", "forêts", true, kPlace},
};

struct Adjective {
    const char *en, *ms, *fs, *mp, *fp;
    bool before;    // placed before the noun (petit, grand, jeune); all others follow it
    unsigned tags;  // noun categories it describes
};

const std::vector<Adjective> kAdjectives = {
    {"red", "rouge", "rouge", "rouges", "rouges", false, kFood | kThing | kReadable},
    {"black", "noir", "noire", "noirs", "noires", false, kAnimal | kThing | kReadable},
    {"white", "blanc", "blanche", "blancs", "blanches", false, kAnimal | kThing | kReadable},
    {"green", "vert", "verte", "verts", "vertes", false, kFood | kThing},
    {"blue", "bleu", "bleue", "bleus", "bleues", false, kThing | kReadable},
    {"grey", "gris", "grise", "gris", "grises", false, kAnimal | kThing},
    {"small", "petit", "petite", "petits", "petites", true, kPerson | kAnimal | kFood | kReadable | kThing},
    {"big", "grand", "grande", "grands", "grandes", true, kPerson | kAnimal | kFood | kReadable | kThing},
    {"young", "jeune", "jeune", "jeunes", "jeunes", true, kPerson | kAnimal},
    {"broken", "cassé", "cassée", "cassés", "cassées", false, kThing},
    {"expensive", "cher", "chère", "chers", "chères", false, kThing | kReadable},
    {"delicious", "délicieux", "délicieuse", "délicieux", "délicieuses", false, kFood},
    {"tired", "fatigué", "fatiguée", "fatigués", "fatiguées", false, kPerson | kAnimal},
    {"happy", "content", "contente", "contents", "contentes", false, kPerson | kAnimal},
};

struct Verb {
    const char *en, *en_3sg, *en_pp;  // eat, eats, eaten
    const char *fr_inf, *fr_pp;       // manger, mangé
    std::array<const char*, 6> fr;    // present: je tu il nous vous ils
    unsigned objects;                 // noun tags it takes as object
    bool intransitive;                // may stand without an object ("she eats")
};

// All French verb forms start with a consonant, so only avoir / aller forms elide (j'ai, n'a, n'allons).
const std::vector<Verb> kVerbs = {
    {"eat", "eats", "eaten", "manger", "mangé", {"mange", "manges", "mange", "mangeons", "mangez", "mangent"}, kFood, true},
    {"see", "sees", "seen", "voir", "vu", {"vois", "vois", "voit", "voyons", "voyez", "voient"},
     kPerson | kAnimal | kFood | kReadable | kThing, false},
    {"take", "takes", "taken", "prendre", "pris", {"prends", "prends", "prend", "prenons", "prenez", "prennent"},
     kPortable, false},
    {"read", "reads", "read", "lire", "lu", {"lis", "lis", "lit", "lisons", "lisez", "lisent"}, kReadable, true},
    {"watch", "watches", "watched", "regarder", "regardé",
     {"regarde", "regardes", "regarde", "regardons", "regardez", "regardent"}, kPerson | kAnimal, false},
    {"look for", "looks for", "looked for", "chercher", "cherché",
     {"cherche", "cherches", "cherche", "cherchons", "cherchez", "cherchent"}, kPerson | kAnimal | kPortable, false},
    {"wash", "washes", "washed", "laver", "lavé", {"lave", "laves", "lave", "lavons", "lavez", "lavent"},
     kWashable | kAnimal, false},
    {"find", "finds", "found", "trouver", "trouvé", {"trouve", "trouves", "trouve", "trouvons", "trouvez", "trouvent"},
     kPerson | kAnimal | kFood | kReadable | kThing, false},
    {"sell", "sells", "sold", "vendre", "vendu", {"vends", "vends", "vend", "vendons", "vendez", "vendent"},
     kAnimal | kFood | kReadable | kThing, false},
    {"carry", "carries", "carried", "porter", "porté", {"porte", "portes", "porte", "portons", "portez", "portent"},
     kPortable, false},
    {"draw", "draws", "drawn", "dessiner", "dessiné",
     {"dessine", "dessines", "dessine", "dessinons", "dessinez", "dessinent"}, kPerson | kAnimal | kFood | kThing, true},
    {"repair", "repairs", "repaired", "réparer", "réparé",
     {"répare", "répares", "répare", "réparons", "réparez", "réparent"}, kRepairable, false},
    {"close", "closes", "closed", "fermer", "fermé", {"ferme", "fermes", "ferme", "fermons", "fermez", "ferment"},
     kClosable, false},
};

const std::array<const char*, 6> kAvoir = {"ai", "as", "a", "avons", "avez", "ont"};
const std::array<const char*, 6> kAller = {"vais", "vas", "va", "allons", "allez", "vont"};

struct Pronoun {
    const char *key, *en, *fr;  // key as written in Sentence::pronoun; en as it appears in the corpus
    int person;                 // 0 je, 1 tu, 2 il/elle, 3 nous, 4 vous, 5 ils/elles
};

// English has one "you" and one "they"; the corpus writes "you all" for vous and "they ( f )" for
// elles so that every English sentence has exactly one French translation.
const std::vector<Pronoun> kPronouns = {
    {"i", "i", "je", 0},         {"you", "you", "tu", 1},        {"he", "he", "il", 2},
    {"she", "she", "elle", 2},   {"we", "we", "nous", 3},        {"you all", "you all", "vous", 4},
    {"they", "they", "ils", 5},  {"they (f)", "they ( f )", "elles", 5},
};

struct Time {
    const char *en, *fr;
};
const std::vector<Time> kTimes = {{"every day", "chaque jour"}, {"every morning", "chaque matin"},
                                  {"yesterday", "hier"},         {"today", "aujourd'hui"},
                                  {"tomorrow", "demain"}};

const Noun& find_noun(const std::string& en) {
    for (const auto& n : kNouns)
        if (en == n.en) return n;
    fail<Error>("enfr: unknown noun \"{}\"", en);
}
const Adjective& find_adjective(const std::string& en) {
    for (const auto& a : kAdjectives)
        if (en == a.en) return a;
    fail<Error>("enfr: unknown adjective \"{}\"", en);
}
const Verb& find_verb(const std::string& en) {
    for (const auto& v : kVerbs)
        if (en == v.en) return v;
    fail<Error>("enfr: unknown verb \"{}\"", en);
}

bool starts_with_vowel(const std::string& w) {
    if (w.empty()) return false;
    if (std::string_view("aeiou").find(w[0]) != std::string_view::npos) return true;
    for (const char* v : {"é", "è", "ê", "à", "â", "î", "ô", "û"})
        if (w.starts_with(v)) return true;
    return false;
}

// French elision: je, ne, le, la, de drop their vowel before a vowel ("je ai" -> "j'ai",
// "ne a" -> "n'a"). Written as one token, as the WordTokenizer reads "j'ai".
std::vector<std::string> elide(const std::vector<std::string>& in) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::string& w = in[i];
        const bool elides = (w == "je" || w == "ne" || w == "le" || w == "la" || w == "de");
        if (elides && i + 1 < in.size() && starts_with_vowel(in[i + 1])) {
            out.push_back(w.substr(0, 1) + "'" + in[i + 1]);
            ++i;
        } else {
            out.push_back(w);
        }
    }
    return out;
}

void append_words(std::vector<std::string>& out, const std::string& words) {
    for (auto& w : split_spaces(words)) out.push_back(std::move(w));
}

// English and French tokens of a noun phrase (French before elision).
void noun_phrase(const NounPhrase& np, bool negated_object, std::vector<std::string>& en,
                 std::vector<std::string>& fr) {
    const Noun& noun = find_noun(np.noun);
    const Adjective* adj = np.adjective.empty() ? nullptr : &find_adjective(np.adjective);
    const bool pl = np.plural, fem = noun.fem;
    auto by_form = [&](const char* ms, const char* fs, const char* p) { return pl ? p : fem ? fs : ms; };

    std::string det_en = np.det, det_fr;
    if (np.det == "the") {
        det_fr = by_form("le", "la", "les");
    } else if (np.det == "a") {
        if (pl) fail<Error>("enfr: determiner \"a\" needs a singular noun (use \"some\" for \"{}\")", noun.en_pl);
        // After a negated verb the indefinite article becomes "de": "elle ne mange pas de pomme".
        det_fr = negated_object ? "de" : fem ? "une" : "un";
        const std::string next = adj ? adj->en : noun.en;
        det_en = starts_with_vowel(next) ? "an" : "a";
    } else if (np.det == "some") {
        if (!pl) fail<Error>("enfr: determiner \"some\" needs a plural noun (use \"a\" for \"{}\")", noun.en);
        // des -> de after a negation, and before an adjective that precedes the noun ("de petites pommes").
        det_fr = (negated_object || (adj && adj->before)) ? "de" : "des";
        det_en = negated_object ? "any" : "some";
    } else if (np.det == "my") {
        det_fr = by_form("mon", "ma", "mes");
    } else if (np.det == "his" || np.det == "her") {
        det_fr = by_form("son", "sa", "ses");  // agrees with the thing owned, not the owner
    } else if (np.det == "our") {
        det_fr = pl ? "nos" : "notre";
    } else if (np.det == "their") {
        det_fr = pl ? "leurs" : "leur";
    } else if (np.det == "this") {
        det_fr = by_form("ce", "cette", "ces");
        det_en = pl ? "these" : "this";
    } else {
        fail<Error>("enfr: unknown determiner \"{}\" (the, a, some, my, his, her, our, their, this)", np.det);
    }

    en.push_back(det_en);
    if (adj) en.push_back(adj->en);
    en.push_back(pl ? noun.en_pl : noun.en);

    const char* adj_fr = adj ? (pl ? (fem ? adj->fp : adj->mp) : (fem ? adj->fs : adj->ms)) : nullptr;
    fr.push_back(det_fr);
    if (adj && adj->before) fr.push_back(adj_fr);
    fr.push_back(pl ? noun.fr_pl : noun.fr);
    if (adj && !adj->before) fr.push_back(adj_fr);
}

}  // namespace

TextPair render_noun_phrase(const NounPhrase& np, bool negated_object) {
    std::vector<std::string> en, fr;
    noun_phrase(np, negated_object, en, fr);
    return {join(en), join(elide(fr))};
}

TextPair render(const Sentence& s) {
    std::vector<std::string> en, fr;
    int person = 2;
    if (!s.pronoun.empty()) {
        const Pronoun* p = nullptr;
        for (const auto& q : kPronouns)
            if (s.pronoun == q.key) p = &q;
        if (!p)
            fail<Error>("enfr: unknown pronoun \"{}\" (i, you, he, she, we, you all, they, they (f))", s.pronoun);
        append_words(en, p->en);
        fr.push_back(p->fr);
        person = p->person;
    } else {
        noun_phrase(s.subject, false, en, fr);
        person = s.subject.plural ? 5 : 2;
    }
    const bool third_singular = person == 2;
    const std::size_t pi = static_cast<std::size_t>(person);
    const Verb& v = find_verb(s.verb);

    switch (s.tense) {
        case Tense::Present:
            // she eats / she does not eat  ->  elle mange / elle ne mange pas
            if (s.negated) {
                en.push_back(third_singular ? "does" : "do");
                en.push_back("not");
                append_words(en, v.en);
                fr.insert(fr.end(), {"ne", v.fr[pi], "pas"});
            } else {
                append_words(en, third_singular ? v.en_3sg : v.en);
                fr.push_back(v.fr[pi]);
            }
            break;
        case Tense::PasseCompose:
            // she has (not) eaten  ->  elle a mangé / elle n'a pas mangé
            en.push_back(third_singular ? "has" : "have");
            if (s.negated) en.push_back("not");
            append_words(en, v.en_pp);
            if (s.negated) fr.push_back("ne");
            fr.push_back(kAvoir[pi]);
            if (s.negated) fr.push_back("pas");
            fr.push_back(v.fr_pp);
            break;
        case Tense::NearFuture:
            // she is (not) going to eat  ->  elle va manger / elle ne va pas manger
            en.push_back(person == 0 ? "am" : third_singular ? "is" : "are");
            if (s.negated) en.push_back("not");
            en.insert(en.end(), {"going", "to"});
            append_words(en, v.en);
            if (s.negated) fr.push_back("ne");
            fr.push_back(kAller[pi]);
            if (s.negated) fr.push_back("pas");
            fr.push_back(v.fr_inf);
            break;
    }
    if (s.object) noun_phrase(*s.object, s.negated, en, fr);
    if (s.place) {
        if (s.place->plural || (s.place->det != "the" && s.place->det != "my" && s.place->det != "our" &&
                                s.place->det != "their"))
            fail<Error>("enfr: a place is singular with the, my, our or their, got \"{} {}\"", s.place->det,
                        s.place->noun);
        en.push_back("in");
        fr.push_back("dans");
        noun_phrase(*s.place, false, en, fr);
    }
    if (!s.time.empty()) {
        const Time* t = nullptr;
        for (const auto& q : kTimes)
            if (s.time == q.en) t = &q;
        if (!t) fail<Error>("enfr: unknown time \"{}\"", s.time);
        append_words(en, t->en);
        append_words(fr, t->fr);
    }
    return {join(en), join(elide(fr))};
}

}  // namespace enfr

namespace {

struct Weighted {
    const char* det;
    unsigned weight;
};

const char* weighted_det(const std::vector<Weighted>& table, Rng& rng) {
    unsigned total = 0;
    for (const auto& w : table) total += w.weight;
    auto r = static_cast<unsigned>(rng.below(total));
    for (const auto& w : table) {
        if (r < w.weight) return w.det;
        r -= w.weight;
    }
    return table.back().det;
}

enfr::NounPhrase random_np(unsigned tags, Rng& rng) {
    using namespace enfr;
    std::vector<const Noun*> nouns;
    for (const auto& n : kNouns)
        if (n.tags & tags) nouns.push_back(&n);
    const Noun* noun = pick(nouns, rng);
    NounPhrase np;
    np.noun = noun->en;
    np.plural = chance(rng, 0.35);
    static const std::vector<Weighted> dets = {{"the", 40}, {"a", 18}, {"my", 10}, {"his", 8},
                                               {"her", 8},  {"our", 6}, {"their", 6}, {"this", 4}};
    np.det = weighted_det(dets, rng);
    if (np.det == std::string("a") && np.plural) np.det = "some";
    if (chance(rng, 0.35)) {
        std::vector<const Adjective*> adjs;
        for (const auto& a : kAdjectives)
            if (a.tags & noun->tags) adjs.push_back(&a);
        if (!adjs.empty()) np.adjective = pick(adjs, rng)->en;
    }
    return np;
}

std::size_t count_tokens(const std::string& s) { return split_spaces(s).size(); }

std::vector<TextPair> generate_enfr(std::uint64_t seed, std::size_t n, const ToyTaskOptions& o) {
    using namespace enfr;
    if (o.max_words < 3) fail<Error>("generate_task enfr: max_words must be at least 3, got {}", o.max_words);
    Rng rng(seed);
    return distinct_pairs("enfr", n, [&]() -> std::optional<TextPair> {
        Sentence s;
        if (chance(rng, 0.55))
            s.pronoun = pick(kPronouns, rng).key;
        else
            s.subject = random_np(kPerson | kAnimal, rng);
        const Verb& v = pick(kVerbs, rng);
        s.verb = v.en;
        s.tense = static_cast<Tense>(rng.below(3));
        s.negated = chance(rng, 0.3);
        if (!(v.intransitive && chance(rng, 0.1))) s.object = random_np(v.objects, rng);
        if (chance(rng, 0.15)) {
            static const std::vector<Weighted> place_dets = {{"the", 6}, {"my", 2}, {"our", 1}, {"their", 1}};
            std::vector<const Noun*> places;
            for (const auto& p : kNouns)
                if (p.tags & kPlace) places.push_back(&p);
            NounPhrase place;
            place.det = weighted_det(place_dets, rng);
            place.noun = pick(places, rng)->en;
            s.place = place;
        }
        if (chance(rng, 0.15)) {
            static const std::vector<std::string> present = {"every day", "every morning"};
            static const std::vector<std::string> past = {"yesterday", "today"};
            static const std::vector<std::string> future = {"tomorrow", "today"};
            s.time = pick(s.tense == Tense::Present ? present : s.tense == Tense::PasseCompose ? past : future, rng);
        }
        TextPair p = render(s);
        const std::size_t ne = count_tokens(p.first), nf = count_tokens(p.second);
        if (ne < 3 || nf < 3 || ne > o.max_words || nf > o.max_words) return std::nullopt;
        return p;
    });
}

}  // namespace

// ---- the public entry points -----------------------------------------------------------------------

const std::vector<std::string>& toy_task_names() {
    static const std::vector<std::string> names = {"dates", "enfr", "reverse", "copy"};
    return names;
}

std::vector<TextPair> generate_task(const std::string& name, std::uint64_t seed, std::size_t n,
                                    const ToyTaskOptions& options) {
    if (name == "dates") return generate_dates(seed, n);
    if (name == "enfr") return generate_enfr(seed, n, options);
    if (name == "reverse" || name == "copy") return generate_sequences(name, seed, n, options);
    fail<Error>("generate_task: unknown task \"{}\": valid tasks are {}", name, fmt::join(toy_task_names(), ", "));
}

std::string to_tsv(const std::vector<TextPair>& pairs) {
    std::string out;
    for (const auto& [src, tgt] : pairs) {
        out += src;
        out += '\t';
        out += tgt;
        out += '\n';
    }
    return out;
}

const std::vector<ShippedCorpus>& shipped_corpora() {
    static const std::vector<ShippedCorpus> corpora = {
        {.task = "dates", .file = "dates.tsv", .tokenizer = "char", .seed = 19980509, .n = 20000, .options = {}},
        {.task = "enfr", .file = "enfr.tsv", .tokenizer = "word", .seed = 1789, .n = 12000, .options = {}},
        {.task = "reverse", .file = "reverse.tsv", .tokenizer = "word", .seed = 4242, .n = 18000, .options = {}},
        {.task = "copy", .file = "copy.tsv", .tokenizer = "word", .seed = 2323, .n = 18000, .options = {}},
    };
    return corpora;
}

const ShippedCorpus& shipped_corpus(std::string_view task) {
    for (const auto& c : shipped_corpora())
        if (c.task == task) return c;
    fail<Error>("shipped_corpus: no shipped corpus for task \"{}\": valid tasks are {}", task,
                fmt::join(toy_task_names(), ", "));
}

std::string generate_shipped(const ShippedCorpus& c) { return to_tsv(generate_task(c.task, c.seed, c.n, c.options)); }

std::string data_dir() {
    if (const char* env = std::getenv("SEQGRAD_DATA_DIR"); env && *env) return env;
#ifdef SEQGRAD_INSTALLED_DATA
    // An installed tree, <prefix>/bin/seqgrad beside <prefix>/share/seqgrad/data: found from where
    // the running program is, so the tree still works after it is moved.
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const std::filesystem::path installed = (exe.parent_path() / SEQGRAD_INSTALLED_DATA).lexically_normal();
        if (std::filesystem::is_directory(installed, ec)) return installed.string();
    }
#endif
#ifdef SEQGRAD_DATA_DIR
    return SEQGRAD_DATA_DIR;
#else
    return "data";
#endif
}

std::string data_path(std::string_view file) {
    const std::string dir = data_dir();
    const std::filesystem::path p = std::filesystem::path(dir) / file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec))
        fail<Error>("data_path: {} not found in the data folder {} (set SEQGRAD_DATA_DIR to the folder holding the "
                    "shipped corpora, e.g. <repo>/data)",
                    file, dir);
    return p.string();
}

}  // namespace seqgrad::data

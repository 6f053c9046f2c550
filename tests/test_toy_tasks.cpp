// Toy tasks: the calendar and date formats, the English -> French grammar rule by rule (including
// every example of the issue), reverse/copy, determinism of every generator, and that the corpora
// shipped in data/ are exactly what the generators produce.
//
// The hidden test "[.generate]" rewrites the shipped files:  seqgrad_tests "[.generate]"
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "models/data/corpus.h"
#include "models/data/toy_tasks.h"
#include "models/data/vocab.h"

using namespace seqgrad::data;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

std::string file_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> words(const std::string& s) { return WordTokenizer().tokenize(s); }

enfr::Sentence she_eats(enfr::Tense tense, bool negated) {
    enfr::Sentence s;
    s.pronoun = "she";
    s.verb = "eat";
    s.tense = tense;
    s.negated = negated;
    s.object = enfr::NounPhrase{"the", "", "apple", false};
    return s;
}

}  // namespace

// ---- dates ----------------------------------------------------------------------------------------

TEST_CASE("toy_tasks: the calendar", "[toy][toy_tasks]") {
    using dates::Date;
    CHECK(dates::days_from_civil({1970, 1, 1}) == 0);
    CHECK(dates::days_from_civil({2000, 3, 1}) == 11017);
    CHECK(dates::days_from_civil({1950, 1, 1}) == -7305);
    CHECK(dates::civil_from_days(11017) == Date{2000, 3, 1});
    CHECK(dates::civil_from_days(-1) == Date{1969, 12, 31});
    // Every day of the corpus range converts both ways, with no gaps.
    const auto lo = dates::days_from_civil({1950, 1, 1}), hi = dates::days_from_civil({2049, 12, 31});
    CHECK(hi - lo + 1 == 36525);  // 100 years, 25 leap days (2000 is one, 1900 and 2100 are outside)
    for (auto z = lo; z <= hi; ++z) REQUIRE(dates::days_from_civil(dates::civil_from_days(z)) == z);
    CHECK(dates::civil_from_days(dates::days_from_civil({2000, 2, 29})) == Date{2000, 2, 29});
    // 0 = Monday.
    CHECK(dates::weekday({1998, 5, 9}) == 5);   // a Saturday
    CHECK(dates::weekday({2021, 3, 2}) == 1);   // a Tuesday
    CHECK(dates::weekday({1970, 1, 1}) == 3);   // a Thursday
    CHECK(dates::iso({1998, 5, 9}) == "1998-05-09");
}

TEST_CASE("toy_tasks: the date formats of the issue", "[toy][toy_tasks]") {
    const dates::Date d{1998, 5, 9};
    using dates::Casing;
    CHECK(dates::format_date(d, 0) == "saturday 9 may 1998");
    CHECK(dates::format_date(d, 1) == "9/5/98");
    CHECK(dates::format_date(d, 2, Casing::Title) == "May 9th, 1998");
    CHECK(dates::format_date(d, 3) == "09.05.1998");
    CHECK(dates::format_date(d, 4) == "1998/05/09");
    CHECK(dates::format_date(d, 5) == "9 may 98");
    // The "tuesday, march 3, 2021" has the wrong weekday; March 2 was the Tuesday.
    CHECK(dates::format_date({2021, 3, 2}, 6) == "tuesday, march 2, 2021");
    CHECK(dates::format_date({2021, 3, 3}, 6) == "wednesday, march 3, 2021");
    CHECK(dates::format_date(d, 0, Casing::Upper) == "SATURDAY 9 MAY 1998");
    CHECK(dates::format_date({2001, 1, 2}, 1) == "2/1/01");  // two-digit years keep their zero
    // Ordinal suffixes, the teens included.
    const std::vector<std::pair<int, std::string>> ordinals = {{1, "1st"},   {2, "2nd"},   {3, "3rd"},  {4, "4th"},
                                                               {11, "11th"}, {12, "12th"}, {13, "13th"},
                                                               {21, "21st"}, {22, "22nd"}, {23, "23rd"}, {31, "31st"}};
    for (const auto& [day, text] : ordinals)
        CHECK(dates::format_date({2000, 1, day}, 2) == "january " + text + ", 2000");
    CHECK_THROWS_AS(dates::format_date(d, dates::num_formats()), seqgrad::IndexError);

    // Every format mentions the year and none is ambiguous: distinct dates give distinct strings.
    for (std::size_t k = 0; k < dates::num_formats(); ++k) {
        std::set<std::string> seen;
        for (int day = 1; day <= 12; ++day)
            for (int month = 1; month <= 12; ++month) seen.insert(dates::format_date({1987, month, day}, k));
        INFO("format " << k);
        CHECK(seen.size() == 144);
    }
}

TEST_CASE("toy_tasks: no two dates of the century share a written form", "[toy][toy_tasks]") {
    // Over every day from 1950 to 2049 and every format: a string names exactly one date, so the task
    // has one right answer per source (no 9/5 vs 5/9, no 19xx vs 20xx confusion).
    const auto lo = dates::days_from_civil({1950, 1, 1}), hi = dates::days_from_civil({2049, 12, 31});
    std::unordered_map<std::string, std::int64_t> reading;
    reading.reserve(static_cast<std::size_t>(hi - lo + 1) * dates::num_formats());
    std::size_t clashes = 0;
    for (auto z = lo; z <= hi; ++z) {
        const dates::Date d = dates::civil_from_days(z);
        for (std::size_t k = 0; k < dates::num_formats(); ++k) {
            auto [it, inserted] = reading.emplace(dates::format_date(d, k), z);
            if (!inserted && it->second != z && ++clashes <= 5)
                FAIL_CHECK("\"" << it->first << "\" reads as " << dates::iso(dates::civil_from_days(it->second))
                                 << " and " << dates::iso(d));
        }
    }
    CHECK(clashes == 0);
}

TEST_CASE("toy_tasks: the dates corpus", "[toy][toy_tasks]") {
    const auto pairs = generate_task("dates", 5, 2000);
    REQUIRE(pairs.size() == 2000);
    std::set<std::string> sources;
    for (const auto& [src, tgt] : pairs) {
        sources.insert(src);
        REQUIRE(tgt.size() == 10);
        const int year = std::stoi(tgt.substr(0, 4));
        CHECK((year >= 1950 && year <= 2049));
        CHECK(tgt[4] == '-');
        CHECK(tgt[7] == '-');
    }
    CHECK(sources.size() == 2000);
    // Each source is one of the surface forms of its target date, so its weekday (when it names one)
    // is the real one.
    using dates::Casing;
    for (const auto& [src, tgt] : pairs) {
        const dates::Date d{std::stoi(tgt.substr(0, 4)), std::stoi(tgt.substr(5, 2)), std::stoi(tgt.substr(8, 2))};
        REQUIRE(dates::iso(d) == tgt);
        bool found = false;
        for (std::size_t k = 0; k < dates::num_formats() && !found; ++k)
            for (Casing c : {Casing::Lower, Casing::Title, Casing::Upper}) found = found || dates::format_date(d, k, c) == src;
        if (!found) FAIL_CHECK("\"" << src << "\" is not a way of writing " << tgt);
    }
    CHECK(generate_task("dates", 5, 2000) == pairs);
    CHECK(generate_task("dates", 6, 2000) != pairs);
}

// ---- enfr ---------------------------------------------------------------------------------------

TEST_CASE("toy_tasks: enfr reproduces every example of the issue", "[toy][toy_tasks]") {
    using enfr::Tense;
    CHECK(enfr::render_noun_phrase({"the", "red", "car", false}) == TextPair{"the red car", "la voiture rouge"});
    CHECK(enfr::render(she_eats(Tense::Present, true)) ==
          TextPair{"she does not eat the apple", "elle ne mange pas la pomme"});
    CHECK(enfr::render(she_eats(Tense::Present, false)) == TextPair{"she eats the apple", "elle mange la pomme"});
    CHECK(enfr::render(she_eats(Tense::PasseCompose, false)) ==
          TextPair{"she has eaten the apple", "elle a mangé la pomme"});
    CHECK(enfr::render(she_eats(Tense::NearFuture, false)) ==
          TextPair{"she is going to eat the apple", "elle va manger la pomme"});
    CHECK(enfr::render(she_eats(Tense::PasseCompose, true)) ==
          TextPair{"she has not eaten the apple", "elle n'a pas mangé la pomme"});
    CHECK(enfr::render(she_eats(Tense::NearFuture, true)) ==
          TextPair{"she is not going to eat the apple", "elle ne va pas manger la pomme"});
}

TEST_CASE("toy_tasks: enfr conjugates for every pronoun and elides", "[toy][toy_tasks]") {
    using enfr::Tense;
    const std::vector<std::pair<std::string, std::string>> present = {
        {"i", "je mange"},    {"you", "tu manges"},      {"he", "il mange"},   {"she", "elle mange"},
        {"we", "nous mangeons"}, {"you all", "vous mangez"}, {"they", "ils mangent"}, {"they (f)", "elles mangent"}};
    for (const auto& [pronoun, fr] : present) {
        enfr::Sentence s = she_eats(Tense::Present, false);
        s.pronoun = pronoun;
        CHECK(enfr::render(s).second == fr + " la pomme");
    }
    enfr::Sentence s = she_eats(Tense::PasseCompose, false);
    s.pronoun = "i";
    CHECK(enfr::render(s) == TextPair{"i have eaten the apple", "j'ai mangé la pomme"});
    s.negated = true;
    CHECK(enfr::render(s) == TextPair{"i have not eaten the apple", "je n'ai pas mangé la pomme"});
    s.tense = Tense::NearFuture;
    s.pronoun = "we";
    CHECK(enfr::render(s) == TextPair{"we are not going to eat the apple", "nous n'allons pas manger la pomme"});
    s.pronoun = "i";
    CHECK(enfr::render(s).first == "i am not going to eat the apple");
    s.pronoun = "they (f)";
    s.tense = Tense::Present;
    s.negated = false;
    CHECK(enfr::render(s) == TextPair{"they ( f ) eat the apple", "elles mangent la pomme"});

    // Irregular verbs, a noun subject, a place and a time.
    enfr::Sentence t;
    t.subject = enfr::NounPhrase{"the", "", "boy", true};
    t.verb = "read";
    t.tense = Tense::PasseCompose;
    t.object = enfr::NounPhrase{"a", "", "letter", false};
    t.place = enfr::NounPhrase{"the", "", "kitchen", false};
    t.time = "yesterday";
    CHECK(enfr::render(t) ==
          TextPair{"the boys have read a letter in the kitchen yesterday", "les garçons ont lu une lettre dans la cuisine hier"});
    t.verb = "look for";
    t.tense = Tense::Present;
    t.negated = true;
    t.time = "";
    t.place.reset();
    CHECK(enfr::render(t) == TextPair{"the boys do not look for a letter", "les garçons ne cherchent pas de lettre"});
}

TEST_CASE("toy_tasks: enfr agreement of articles, possessives and adjectives", "[toy][toy_tasks]") {
    auto np = [](const char* det, const char* adj, const char* noun, bool plural = false) {
        return enfr::render_noun_phrase({det, adj, noun, plural});
    };
    CHECK(np("the", "red", "car", true) == TextPair{"the red cars", "les voitures rouges"});
    CHECK(np("the", "white", "horse", true) == TextPair{"the white horses", "les chevaux blancs"});
    CHECK(np("a", "white", "cat") == TextPair{"a white cat", "un chat blanc"});
    CHECK(np("a", "expensive", "car") == TextPair{"an expensive car", "une voiture chère"});
    CHECK(np("a", "small", "apple") == TextPair{"a small apple", "une petite pomme"});     // before the noun
    CHECK(np("the", "big", "cake", true) == TextPair{"the big cakes", "les grands gâteaux"});
    CHECK(np("some", "", "apple", true) == TextPair{"some apples", "des pommes"});
    CHECK(np("some", "small", "apple", true) == TextPair{"some small apples", "de petites pommes"});
    CHECK(np("his", "", "car") == TextPair{"his car", "sa voiture"});   // agrees with the car, not with him
    CHECK(np("her", "", "cake") == TextPair{"her cake", "son gâteau"});
    CHECK(np("my", "", "book", true) == TextPair{"my books", "mes livres"});
    CHECK(np("our", "", "key", true) == TextPair{"our keys", "nos clés"});
    CHECK(np("their", "", "dog") == TextPair{"their dog", "leur chien"});
    CHECK(np("this", "", "door") == TextPair{"this door", "cette porte"});
    CHECK(np("this", "", "horse", true) == TextPair{"these horses", "ces chevaux"});
    CHECK(np("the", "tired", "woman") == TextPair{"the tired woman", "la femme fatiguée"});
    // After a negated verb "a" / "some" become "de".
    CHECK(enfr::render_noun_phrase({"a", "", "apple", false}, true) == TextPair{"an apple", "de pomme"});
    CHECK(enfr::render_noun_phrase({"some", "", "apple", true}, true) == TextPair{"any apples", "de pommes"});

    CHECK_THROWS_WITH(np("the", "", "spaceship"), Contains("unknown noun \"spaceship\""));
    CHECK_THROWS_WITH(np("the", "purple", "car"), Contains("unknown adjective \"purple\""));
    CHECK_THROWS_WITH(np("a", "", "car", true), Contains("needs a singular noun"));
    CHECK_THROWS_WITH(np("some", "", "car"), Contains("needs a plural noun"));
    CHECK_THROWS_WITH(np("every", "", "car"), Contains("unknown determiner"));
    enfr::Sentence s = she_eats(enfr::Tense::Present, false);
    s.verb = "fly";
    CHECK_THROWS_AS(enfr::render(s), seqgrad::Error);
    s = she_eats(enfr::Tense::Present, false);
    s.pronoun = "thou";
    CHECK_THROWS_WITH(enfr::render(s), Contains("unknown pronoun \"thou\""));
}

TEST_CASE("toy_tasks: the enfr corpus stays small and regular", "[toy][toy_tasks]") {
    const auto pairs = generate_task("enfr", 3, 3000);
    REQUIRE(pairs.size() == 3000);
    std::vector<std::vector<std::string>> en, fr;
    for (const auto& [e, f] : pairs) {
        en.push_back(words(e));
        fr.push_back(words(f));
        // Already in the word tokenizer's normal form: tokenize + detokenize gives the line back.
        CHECK(WordTokenizer().detokenize(en.back()) == e);
        CHECK(WordTokenizer().detokenize(fr.back()) == f);
        CHECK((en.back().size() >= 3 && en.back().size() <= 12));
        CHECK((fr.back().size() >= 3 && fr.back().size() <= 12));
    }
    // Word types per side, the four specials aside: small enough to learn in a minute or two.
    const std::size_t en_types = Vocab::build(en).size() - 4, fr_types = Vocab::build(fr).size() - 4;
    CHECK((en_types >= 120 && en_types <= 300));
    CHECK((fr_types >= 150 && fr_types <= 300));
    CHECK(generate_task("enfr", 3, 3000) == pairs);

    ToyTaskOptions shorter;
    shorter.max_words = 6;
    for (const auto& [e, f] : generate_task("enfr", 3, 200, shorter)) {
        CHECK(words(e).size() <= 6);
        CHECK(words(f).size() <= 6);
    }
    shorter.max_words = 2;
    CHECK_THROWS_AS(generate_task("enfr", 3, 10, shorter), seqgrad::Error);
}

// ---- reverse / copy -------------------------------------------------------------------------------

TEST_CASE("toy_tasks: reverse and copy", "[toy][toy_tasks]") {
    const auto rev = generate_task("reverse", 1, 500);
    const auto cpy = generate_task("copy", 1, 500);
    REQUIRE(rev.size() == 500);
    std::set<std::size_t> lengths;
    for (const auto& [src, tgt] : rev) {
        auto s = words(src), t = words(tgt);
        std::reverse(t.begin(), t.end());
        CHECK(s == t);
        CHECK((s.size() >= 1 && s.size() <= 50));
        lengths.insert(s.size());
    }
    CHECK(lengths.size() > 40);  // the lengths cover the range
    for (const auto& [src, tgt] : cpy) CHECK(src == tgt);
    CHECK(generate_task("reverse", 1, 500) == rev);
    CHECK(generate_task("reverse", 2, 500) != rev);

    ToyTaskOptions o;
    o.min_len = 3;
    o.max_len = 5;
    o.alphabet = "ab";
    for (const auto& [src, tgt] : generate_task("copy", 9, 40, o)) {
        const auto s = words(src);
        CHECK((s.size() >= 3 && s.size() <= 5));
        for (const auto& w : s) CHECK((w == "a" || w == "b"));
    }
    // 2^3 + 2^4 + 2^5 = 56 distinct sequences exist; 100 cannot be drawn.
    CHECK_THROWS_WITH(generate_task("copy", 9, 100, o), Contains("only 56 distinct pairs"));
    o.min_len = 0;
    CHECK_THROWS_WITH(generate_task("copy", 9, 1, o), Contains("min_len"));
    o.min_len = 1;
    o.alphabet = "a.";
    CHECK_THROWS_AS(generate_task("copy", 9, 1, o), seqgrad::Error);
    o.alphabet = "aa";
    CHECK_THROWS_WITH(generate_task("copy", 9, 1, o), Contains("repeats"));
    CHECK_THROWS_WITH(generate_task("sort", 1, 1), Contains("unknown task \"sort\"") && Contains("dates, enfr, reverse, copy"));
}

// ---- shipped files ------------------------------------------------------------------------------

TEST_CASE("toy_tasks: the shipped corpora equal what the generators produce", "[toy][toy_tasks][data]") {
    REQUIRE(shipped_corpora().size() == toy_task_names().size());
    for (const auto& c : shipped_corpora()) {
        INFO(c.file << " (regenerate with: seqgrad_tests \"[.generate]\")");
        const std::string path = data_path(c.file);
        const std::string shipped = file_text(path);
        const std::string regenerated = generate_shipped(c);
        CHECK(shipped.size() == regenerated.size());
        if (shipped != regenerated) {
            // Name the first line that differs rather than printing two megabytes.
            std::istringstream a(shipped), b(regenerated);
            std::string la, lb;
            std::size_t line = 0;
            while (true) {
                ++line;
                const bool more_a = static_cast<bool>(std::getline(a, la)), more_b = static_cast<bool>(std::getline(b, lb));
                if (la != lb || more_a != more_b || (!more_a && !more_b)) break;
            }
            FAIL_CHECK(c.file << " differs from its generator at line " << line << ": shipped \"" << la
                              << "\", generated \"" << lb << "\"");
        }
        CHECK(shipped.size() < 2'000'000);  // keeps the repository small
        // And the corpus reader takes it as it is, with the tokenizer it is meant for.
        const auto tok = make_tokenizer(c.tokenizer);
        CorpusOptions strict;
        strict.strict = true;
        const Corpus corpus = read_corpus_file(path, *tok, *tok, strict);
        CHECK(corpus.pairs.size() == c.n);
    }
    CHECK(shipped_corpus("enfr").n == 12000);
    CHECK_THROWS_AS(shipped_corpus("sort"), seqgrad::Error);
}

TEST_CASE("toy_tasks: data_dir honours SEQGRAD_DATA_DIR", "[toy][toy_tasks]") {
    const char* old = std::getenv("SEQGRAD_DATA_DIR");
    const std::string saved = old ? old : "";
    const std::string built_in = [] {
        ::unsetenv("SEQGRAD_DATA_DIR");
        return data_dir();
    }();
    CHECK(fs::exists(fs::path(built_in) / "README.md"));
    ::setenv("SEQGRAD_DATA_DIR", "/nonexistent/seqgrad-data", 1);
    CHECK(data_dir() == "/nonexistent/seqgrad-data");
    CHECK_THROWS_WITH(data_path("dates.tsv"),
                      Contains("dates.tsv not found in the data folder /nonexistent/seqgrad-data") &&
                          Contains("SEQGRAD_DATA_DIR"));
    ::setenv("SEQGRAD_DATA_DIR", "", 1);  // empty counts as unset
    CHECK(data_dir() == built_in);
    if (old)
        ::setenv("SEQGRAD_DATA_DIR", saved.c_str(), 1);
    else
        ::unsetenv("SEQGRAD_DATA_DIR");
}

// Not part of the normal run: writes data/*.tsv from the generators. Run it after changing a
// generator, then commit the files with the change:  seqgrad_tests "[.generate]"
TEST_CASE("toy_tasks: regenerate the shipped corpora", "[.generate]") {
    for (const auto& c : shipped_corpora()) {
        const std::string path = (fs::path(data_dir()) / c.file).string();
        const std::string text = generate_shipped(c);
        write_file_atomic(path, text, "toy corpus");
        REQUIRE(file_text(path) == text);
        WARN("wrote " << path << " (" << text.size() << " bytes)");
    }
}

// BLEU, exact match, token accuracy and perplexity on cases small enough to check by hand.
#include <cmath>

#include "helpers.h"
#include "models/metrics.h"

using namespace seqgrad::metrics;

namespace {
Tokens toks(const std::string& s) {
    Tokens out;
    std::string cur;
    for (char c : s) {
        if (c == ' ') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}
}  // namespace

TEST_CASE("metrics: BLEU of a perfect match is 100", "[metrics]") {
    auto r = corpus_bleu({toks("the cat sat on the mat")}, {toks("the cat sat on the mat")});
    CHECK(r.bleu == Approx(100.0));
    CHECK(r.brevity_penalty == 1.0);
}

TEST_CASE("metrics: BLEU by hand with clipping and brevity penalty", "[metrics]") {
    // hyp: "the the cat sat on mat" (6), ref: "the cat sat on the mat" (6)
    // 1-grams: the x2 (ref has 2) cat sat on mat -> 6/6
    // 2-grams: "the the" x, "the cat" v, "cat sat" v, "sat on" v, "on mat" x -> 3/5
    // 3-grams: "the the cat" x, "the cat sat" v, "cat sat on" v, "sat on mat" x -> 2/4
    // 4-grams: "the the cat sat" x, "the cat sat on" v, "cat sat on mat" x -> 1/3
    // BLEU = (1 * 3/5 * 2/4 * 1/3)^(1/4) = 0.1^(1/4)
    auto r = corpus_bleu({toks("the the cat sat on mat")}, {toks("the cat sat on the mat")});
    CHECK(r.precisions[0] == Approx(1.0));
    CHECK(r.precisions[1] == Approx(0.6));
    CHECK(r.precisions[2] == Approx(0.5));
    CHECK(r.precisions[3] == Approx(1.0 / 3));
    CHECK(r.bleu == Approx(100 * std::pow(0.1, 0.25)));

    // Brevity: hyp 4 tokens, ref 6 -> BP = exp(1 - 6/4)
    auto b = corpus_bleu({toks("the cat sat on")}, {toks("the cat sat on the mat")});
    CHECK(b.brevity_penalty == Approx(std::exp(1.0 - 1.5)));
    CHECK(b.bleu == Approx(100 * std::exp(1.0 - 1.5)));
    // Clipping: "the the the the" vs "the cat": p1 = 1/4 (the clipped to 1)
    auto c = corpus_bleu({toks("the the the the")}, {toks("the cat")});
    CHECK(c.precisions[0] == Approx(0.25));
    CHECK(c.bleu == 0.0);  // no 2-gram matches -> 0 without smoothing
}

TEST_CASE("metrics: corpus BLEU pools counts over sentences", "[metrics]") {
    // sentence 1 perfect (4 tokens), sentence 2 all wrong (4 tokens):
    // p1 = 4/8, p2 = 3/6, p3 = 2/4, p4 = 1/2 -> BLEU = 50
    auto r = corpus_bleu({toks("a b c d"), toks("w x y z")}, {toks("a b c d"), toks("e f g h")});
    CHECK(r.bleu == Approx(50.0));
}

TEST_CASE("metrics: exact match, token accuracy, perplexity", "[metrics]") {
    std::vector<Tokens> h = {toks("a b c"), toks("a b")}, r = {toks("a b c"), toks("a c d")};
    CHECK(exact_match(h, r) == Approx(0.5));
    CHECK(token_accuracy(h, r) == Approx(4.0 / 6));
    CHECK(perplexity(std::log(4.0) * 10, 10) == Approx(4.0));
    CHECK_THROWS_WITH(corpus_bleu(h, {toks("a")}), Catch::Contains("2 hypotheses but 1 references"));
    CHECK_THROWS_AS(perplexity(1.0, 0), std::invalid_argument);
}

// Held-out evaluation of a model folder's translator (see models/trainer.h): BLEU, exact match,
// token accuracy and perplexity on a split of its corpus or on another TSV file.
#include <cmath>

#include "models/trainer.h"

namespace seqgrad::models {

EvalResult evaluate(const Translator& t, const std::string& model_dir, const EvalOptions& o) {
    std::vector<data::SentencePair> pairs;
    if (!o.data_file.empty()) {
        DataSource s = t.data_source();
        s.task.clear();
        s.file = o.data_file;
        pairs = load_corpus(s, false, &t.tokenizers()).pairs;
    } else {
        data::Corpus corpus = load_corpus(t.data_source(), false, &t.tokenizers());
        const ModelFolder folder(model_dir);
        data::Split split = folder.read_split();
        if (split.n != corpus.pairs.size())
            fail<Error>("eval: {} was split over {} pairs but the corpus now has {}; the data changed since training",
                        folder.path("split.json"), split.n, corpus.pairs.size());
        const std::vector<std::size_t>* idx = o.split == "test" ? &split.test
                                            : o.split == "valid" ? &split.valid
                                            : o.split == "train" ? &split.train
                                                                 : nullptr;
        if (!idx) fail("eval: unknown split '{}' (valid: test, valid, train)", o.split);
        for (auto i : *idx) pairs.push_back(corpus.pairs[i]);
    }
    if (o.limit > 0 && pairs.size() > o.limit) pairs.resize(o.limit);
    if (pairs.empty()) fail<Error>("eval: no sentence pairs to evaluate");
    EvalResult r;
    r.n = pairs.size();
    std::vector<std::vector<std::string>> srcs, refs;
    for (auto& p : pairs) {
        srcs.push_back(p.source);
        refs.push_back(p.target);
        r.sources.push_back(p.source_text);
        r.references.push_back(p.target_text);
    }
    std::vector<std::vector<std::string>> hyps;
    std::size_t i = 0;
    for (Hypothesis& h : t.decode_tokens(srcs, {.beam = o.beam, .length_penalty = o.length_penalty,
                                                .layer_attention = o.layer_attention})) {
        Translation tr;
        tr.source_tokens = srcs[i++];
        tr.output_tokens = t.target_vocab().decode(h.ids);
        tr.text = t.target_tokenizer().detokenize(tr.output_tokens);
        tr.attention = std::move(h.attention);
        tr.layer_attention = std::move(h.layer_attention);
        tr.log_prob = h.log_prob;
        tr.score = h.score;
        r.hypotheses.push_back(tr.text);
        hyps.push_back(tr.output_tokens);
        r.translations.push_back(std::move(tr));
    }
    r.reference_tokens = refs;
    // Scored on words for a sentencepiece target (Translator::scoring_tokens), so BLEU is comparable.
    for (auto& h : hyps) h = t.scoring_tokens(h);
    for (auto& ref : refs) ref = t.scoring_tokens(ref);
    r.bleu = metrics::corpus_bleu(hyps, refs).bleu;
    r.exact_match = metrics::exact_match(hyps, refs);
    r.token_accuracy = metrics::token_accuracy(hyps, refs);
    // <unk> rates: the share of the evaluated sentences' tokens outside the model's vocabularies.
    auto unk_rate = [](const std::vector<std::vector<std::string>>& sentences, const data::Vocab& vocab) {
        std::size_t tokens = 0, unknown = 0;
        for (const auto& s : sentences)
            for (const auto& token : s) {
                ++tokens;
                unknown += vocab.contains(token) ? 0 : 1;
            }
        return tokens ? static_cast<double>(unknown) / static_cast<double>(tokens) : 0.0;
    };
    std::vector<std::vector<std::string>> target_tokens;
    for (auto& p : pairs) target_tokens.push_back(p.target);
    r.source_unk_rate = unk_rate(srcs, t.source_vocab());
    r.target_unk_rate = unk_rate(target_tokens, t.target_vocab());
    data::Batcher batches(data::encode_pairs(pairs, t.source_vocab(), t.target_vocab()), {.batch_size = 64, .shuffle = false});
    r.perplexity = std::exp(mean_loss(t.model(), batches));
    return r;
}

}  // namespace seqgrad::models

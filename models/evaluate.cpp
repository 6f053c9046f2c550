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
        pairs = load_corpus(s).pairs;
    } else {
        data::Corpus corpus = load_corpus(t.data_source());
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
    auto hyps = t.translate_tokens(srcs, o.beam);
    for (auto& h : hyps) r.hypotheses.push_back(t.target_tokenizer().detokenize(h));
    r.bleu = metrics::corpus_bleu(hyps, refs).bleu;
    r.exact_match = metrics::exact_match(hyps, refs);
    r.token_accuracy = metrics::token_accuracy(hyps, refs);
    data::Batcher batches(data::encode_pairs(pairs, t.source_vocab(), t.target_vocab()), {.batch_size = 64, .shuffle = false});
    r.perplexity = std::exp(mean_loss(t.model(), batches));
    return r;
}

}  // namespace seqgrad::models

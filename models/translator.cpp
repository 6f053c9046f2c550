// Translator: loading a model folder, and translating text with greedy or beam search.
#include "models/translator.h"

#include <algorithm>
#include <filesystem>

#include "core/autograd.h"
#include "models/data/sentencepiece.h"
#include "models/data/toy_tasks.h"

namespace seqgrad::models {

namespace fs = std::filesystem;

// The bundled tasks are data::toy_task_names(), and each one's file and tokenizer come from its
// entry in data::shipped_corpora() (models/data/toy_tasks.h): one table for every name.
const std::vector<std::string>& task_names() { return data::toy_task_names(); }

std::string task_file(const std::string& task) {
    if (std::find(task_names().begin(), task_names().end(), task) == task_names().end())
        fail("unknown task '{}' (valid: {})", task, fmt::join(task_names(), ", "));
    return (fs::path(data::data_dir()) / data::shipped_corpus(task).file).string();
}

std::pair<std::string, std::string> task_tokenizers(const std::string& task) {
    const auto& tasks = task_names();
    if (std::find(tasks.begin(), tasks.end(), task) == tasks.end()) return {"word", "word"};
    const std::string& tokenizer = data::shipped_corpus(task).tokenizer;
    return {tokenizer, tokenizer};
}

std::pair<std::string, std::string> side_tokenizers(const DataSource& source) {
    if (source.reverse) return {source.target_tokenizer, source.source_tokenizer};
    return {source.source_tokenizer, source.target_tokenizer};
}

SideTokenizers make_side_tokenizers(const DataSource& source, const SideTokenizers* trained) {
    const auto [source_side, target_side] = side_tokenizers(source);
    auto one = [](const std::string& name, const std::shared_ptr<const data::Tokenizer>* model) -> std::shared_ptr<const data::Tokenizer> {
        if (name != "sentencepiece") return data::make_tokenizer(name);
        if (model && *model) return *model;
        return std::make_shared<data::WordTokenizer>();
    };
    return {one(source_side, trained ? &trained->source : nullptr), one(target_side, trained ? &trained->target : nullptr)};
}

void retokenize(data::Corpus& corpus, const DataSource& source, const SideTokenizers& trained) {
    const auto [source_side, target_side] = side_tokenizers(source);
    for (auto& p : corpus.pairs) {
        if (source_side == "sentencepiece") p.source = trained.source->tokenize(p.source_text);
        if (target_side == "sentencepiece") p.target = trained.target->tokenize(p.target_text);
    }
}

data::Corpus load_corpus(const DataSource& source, bool strict, const SideTokenizers* trained) {
    const SideTokenizers readers = make_side_tokenizers(source);  // sentencepiece sides: words, for the filters
    const data::Tokenizer* src_tok = readers.source.get();
    const data::Tokenizer* tgt_tok = readers.target.get();
    data::CorpusOptions opt;
    opt.reverse = source.reverse;
    opt.max_len = source.max_len;
    opt.strict = strict;
    if (source.eng_prefixes) opt.source_prefixes = data::eng_prefixes();
    const std::string path = source.task.empty() ? source.file : task_file(source.task);
    if (path.empty()) fail("no training data: give --task or --data FILE.tsv");
    data::Corpus c = data::read_corpus_file(path, *src_tok, *tgt_tok, opt);  // tokenizers of the sides after reverse
    if (source.max_pairs > 0 && c.pairs.size() > source.max_pairs) c.pairs.resize(source.max_pairs);
    if (trained) retokenize(c, source, *trained);
    return c;
}

Translator::Translator(ModelConfig config, data::Vocab source_vocab, data::Vocab target_vocab, DataSource source,
                       Generator* gen, const SideTokenizers& trained)
    : source_vocab_(std::move(source_vocab)), target_vocab_(std::move(target_vocab)), source_(std::move(source)) {
    config.set_vocab_sizes(static_cast<std::int64_t>(source_vocab_.size()), static_cast<std::int64_t>(target_vocab_.size()));
    model_ = make_model(config, gen);
    tokenizers_ = make_side_tokenizers(source_, &trained);  // the same as load_corpus's
    const auto [source_side, target_side] = side_tokenizers(source_);
    if ((source_side == "sentencepiece" && tokenizers_.source->name() != "sentencepiece") ||
        (target_side == "sentencepiece" && tokenizers_.target->name() != "sentencepiece"))
        fail("Translator: a sentencepiece side needs its trained model (SideTokenizers)");
}

std::vector<std::string> Translator::scoring_tokens(const std::vector<std::string>& target_tokens) const {
    if (tokenizers_.target->name() != "sentencepiece") return target_tokens;
    return data::WordTokenizer().tokenize(tokenizers_.target->detokenize(target_tokens));
}

void Translator::save_definition(const std::string& dir, const std::string& extra_json) const {
    const ModelFolder folder(dir);
    folder.write_definition({.model = model_->model_config(), .data = source_, .training_json = extra_json});
    folder.write_vocabs(source_vocab_, target_vocab_);
}

SideTokenizers read_side_tokenizers(const ModelFolder& folder, const DataSource& source) {
    const auto [source_side, target_side] = side_tokenizers(source);
    SideTokenizers t;
    if (source_side == "sentencepiece")
        t.source = std::make_shared<data::SentencePieceTokenizer>(folder.read_sentencepiece("source"),
                                                                   folder.path(folder.sentencepiece_file("source")));
    if (target_side == "sentencepiece")
        t.target = std::make_shared<data::SentencePieceTokenizer>(folder.read_sentencepiece("target"),
                                                                   folder.path(folder.sentencepiece_file("target")));
    return t;
}

Translator Translator::load(const std::string& dir, const std::string& weights) {
    const ModelFolder folder(dir);
    FolderContents c = folder.read();
    Translator t(c.definition.model, std::move(c.source_vocab), std::move(c.target_vocab), c.definition.data, nullptr,
                 read_side_tokenizers(folder, c.definition.data));
    folder.load_weights(weights, t.model());
    t.model().eval();
    return t;
}

std::int64_t Translator::default_max_len(std::size_t source_len) const {
    return static_cast<std::int64_t>(2 * source_len + 10);
}

Translation Translator::translate(const std::string& sentence, std::int64_t beam, std::int64_t max_len) const {
    return translate_n_best(sentence, {.beam = beam, .max_len = max_len}).front();
}

std::vector<Translation> Translator::translate_n_best(const std::string& sentence, const DecodeOptions& options) const {
    std::vector<std::string> source_tokens = tokenizers_.source->tokenize(sentence);
    if (source_tokens.empty()) fail("translate: the sentence '{}' has no tokens", sentence);
    const std::vector<std::int64_t> ids = source_vocab_.encode(source_tokens);
    DecodeOptions o = options;
    if (o.max_len <= 0) o.max_len = default_max_len(ids.size());
    std::vector<Translation> out;
    for (Hypothesis& h : decode_n_best(*model_, ids, o)) {
        Translation t;
        t.source_tokens = source_tokens;
        t.output_tokens = target_vocab_.decode(h.ids);
        t.output_ids = h.ids;
        t.ended = h.ended;
        t.text = tokenizers_.target->detokenize(t.output_tokens);
        t.attention = std::move(h.attention);
        t.layer_attention = std::move(h.layer_attention);
        t.log_prob = h.log_prob;
        t.score = h.score;
        out.push_back(std::move(t));
    }
    return out;
}

std::vector<AttentionMap> Translator::attention_maps(const Translation& t) const {
    const std::vector<std::int64_t> src = source_vocab_.encode(t.source_tokens);
    // The tokens fed in while decoding: <sos>, then every output token but the last row's prediction.
    std::vector<std::int64_t> tgt_in = {kSos};
    for (std::int64_t id : target_vocab_.encode(t.output_tokens)) tgt_in.push_back(id);
    tgt_in.resize(std::max<std::size_t>(1, t.attention.size()));
    return model_->attention_maps(Tensor::ids(src, {1, static_cast<std::int64_t>(src.size())}),
                                  Tensor::ids(tgt_in, {1, static_cast<std::int64_t>(tgt_in.size())}));
}

std::vector<Hypothesis> Translator::decode_tokens(const std::vector<std::vector<std::string>>& sources,
                                                  const DecodeOptions& options) const {
    std::vector<Hypothesis> out;
    if (options.beam <= 1) {
        // Chunks of 64 sentences of similar length (sorted by length, ties in input order), so a chunk
        // pads little and no sentence waits for a much longer one; results come back in input order.
        std::vector<std::size_t> order(sources.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return sources[a].size() < sources[b].size(); });
        out.resize(sources.size());
        const std::size_t chunk = 64;
        for (std::size_t start = 0; start < order.size(); start += chunk) {
            const std::size_t end = std::min(order.size(), start + chunk);
            std::vector<std::vector<std::int64_t>> ids;
            std::size_t longest = 1;
            for (std::size_t k = start; k < end; ++k) {
                ids.push_back(source_vocab_.encode(sources[order[k]]));
                longest = std::max(longest, sources[order[k]].size());
            }
            auto hyps = greedy_batch(*model_, ids, options.max_len > 0 ? options.max_len : default_max_len(longest),
                                     options.length_penalty, options.layer_attention);
            for (std::size_t k = start; k < end; ++k) out[order[k]] = std::move(hyps[k - start]);
        }
    } else {
        out.reserve(sources.size());
        for (const auto& s : sources) {
            const auto ids = source_vocab_.encode(s);
            DecodeOptions o = options;
            o.n_best = 1;
            if (o.max_len <= 0) o.max_len = default_max_len(ids.size());
            out.push_back(std::move(decode_n_best(*model_, ids, o).front()));
        }
    }
    return out;
}

std::vector<std::vector<std::string>> Translator::translate_tokens(const std::vector<std::vector<std::string>>& sources,
                                                                   const DecodeOptions& options) const {
    std::vector<std::vector<std::string>> out;
    for (const Hypothesis& h : decode_tokens(sources, options)) out.push_back(target_vocab_.decode(h.ids));
    return out;
}

}  // namespace seqgrad::models

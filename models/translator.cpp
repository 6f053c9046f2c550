// Translator: loading a model folder, and translating text with greedy or beam search.
#include "models/translator.h"

#include <algorithm>
#include <filesystem>

#include "core/autograd.h"
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

data::Corpus load_corpus(const DataSource& source, bool strict) {
    const auto [source_side, target_side] = side_tokenizers(source);
    auto src_tok = data::make_tokenizer(source_side);
    auto tgt_tok = data::make_tokenizer(target_side);
    data::CorpusOptions opt;
    opt.reverse = source.reverse;
    opt.max_len = source.max_len;
    opt.strict = strict;
    if (source.eng_prefixes) opt.source_prefixes = data::eng_prefixes();
    const std::string path = source.task.empty() ? source.file : task_file(source.task);
    if (path.empty()) fail("no training data: give --task or --data FILE.tsv");
    data::Corpus c = data::read_corpus_file(path, *src_tok, *tgt_tok, opt);  // tokenizers of the sides after reverse
    if (source.max_pairs > 0 && c.pairs.size() > source.max_pairs) c.pairs.resize(source.max_pairs);
    return c;
}

Translator::Translator(ModelConfig config, data::Vocab source_vocab, data::Vocab target_vocab, DataSource source,
                       Generator* gen)
    : source_vocab_(std::move(source_vocab)), target_vocab_(std::move(target_vocab)), source_(std::move(source)) {
    config.set_vocab_sizes(static_cast<std::int64_t>(source_vocab_.size()), static_cast<std::int64_t>(target_vocab_.size()));
    model_ = make_model(config, gen);
    const auto [source_side, target_side] = side_tokenizers(source_);  // the same as load_corpus's
    source_tokenizer_ = data::make_tokenizer(source_side);
    target_tokenizer_ = data::make_tokenizer(target_side);
}

void Translator::save_definition(const std::string& dir, const std::string& extra_json) const {
    const ModelFolder folder(dir);
    folder.write_definition({.model = model_->model_config(), .data = source_, .training_json = extra_json});
    folder.write_vocabs(source_vocab_, target_vocab_);
}

Translator Translator::load(const std::string& dir, const std::string& weights) {
    const ModelFolder folder(dir);
    FolderContents c = folder.read();
    Translator t(c.definition.model, std::move(c.source_vocab), std::move(c.target_vocab), c.definition.data);
    folder.load_weights(weights, t.model());
    t.model().eval();
    return t;
}

std::int64_t Translator::default_max_len(std::size_t source_len) const {
    return static_cast<std::int64_t>(2 * source_len + 10);
}

Translation Translator::translate(const std::string& sentence, std::int64_t beam, std::int64_t max_len) const {
    Translation out;
    out.source_tokens = source_tokenizer_->tokenize(sentence);
    if (out.source_tokens.empty()) fail("translate: the sentence '{}' has no tokens", sentence);
    std::vector<std::int64_t> ids = source_vocab_.encode(out.source_tokens);
    if (max_len <= 0) max_len = default_max_len(ids.size());
    Hypothesis h = beam <= 1 ? greedy(*model_, ids, max_len) : beam_search(*model_, ids, beam, max_len);
    out.output_tokens = target_vocab_.decode(h.ids);
    out.output_ids = h.ids;
    out.text = target_tokenizer_->detokenize(out.output_tokens);
    out.attention = std::move(h.attention);
    out.log_prob = h.log_prob;
    out.ended = h.ended;
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

std::vector<std::vector<std::string>> Translator::translate_tokens(const std::vector<std::vector<std::string>>& sources,
                                                                   std::int64_t beam, std::int64_t max_len) const {
    std::vector<std::vector<std::string>> out;
    out.reserve(sources.size());
    if (beam <= 1) {
        const std::size_t chunk = 64;
        for (std::size_t start = 0; start < sources.size(); start += chunk) {
            std::vector<std::vector<std::int64_t>> ids;
            std::size_t longest = 1;
            for (std::size_t i = start; i < std::min(sources.size(), start + chunk); ++i) {
                ids.push_back(source_vocab_.encode(sources[i]));
                longest = std::max(longest, sources[i].size());
            }
            for (auto& h : greedy_batch(*model_, ids, max_len > 0 ? max_len : default_max_len(longest)))
                out.push_back(target_vocab_.decode(h.ids));
        }
    } else {
        for (const auto& s : sources) {
            auto ids = source_vocab_.encode(s);
            out.push_back(target_vocab_.decode(
                beam_search(*model_, ids, beam, max_len > 0 ? max_len : default_max_len(ids.size())).ids));
        }
    }
    return out;
}

}  // namespace seqgrad::models

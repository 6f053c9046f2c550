// Translator: loading a model folder, and translating text with greedy or beam search.
#include "models/translator.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "core/safetensors.h"
#include "models/fileio.h"
#include "models/data/toy_tasks.h"

namespace seqgrad::models {

namespace fs = std::filesystem;

const std::vector<std::string>& task_names() {
    static const std::vector<std::string> names = {"dates", "enfr", "reverse", "copy"};
    return names;
}

std::string task_file(const std::string& task) {
    if (std::find(task_names().begin(), task_names().end(), task) == task_names().end())
        fail("unknown task '{}' (valid: {})", task, fmt::join(task_names(), ", "));
    return (fs::path(data::data_dir()) / data::shipped_corpus(task).file).string();
}

std::pair<std::string, std::string> task_tokenizers(const std::string& task) {
    if (task == "dates") return {"char", "char"};
    return {"word", "word"};
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

Translator::Translator(Seq2SeqConfig config, data::Vocab source_vocab, data::Vocab target_vocab, DataSource source,
                       Generator* gen)
    : source_vocab_(std::move(source_vocab)), target_vocab_(std::move(target_vocab)), source_(std::move(source)) {
    config.src_vocab = static_cast<std::int64_t>(source_vocab_.size());
    config.tgt_vocab = static_cast<std::int64_t>(target_vocab_.size());
    model_ = std::make_shared<Seq2Seq>(config, gen);
    const auto [source_side, target_side] = side_tokenizers(source_);  // the same as load_corpus's
    source_tokenizer_ = data::make_tokenizer(source_side);
    target_tokenizer_ = data::make_tokenizer(target_side);
}

namespace {
nlohmann::json source_json(const DataSource& s) {
    return {{"task", s.task},
            {"file", s.file},
            {"reverse", s.reverse},
            {"max_len", s.max_len},
            {"eng_prefixes", s.eng_prefixes},
            {"max_pairs", s.max_pairs},
            {"source_tokenizer", s.source_tokenizer},
            {"target_tokenizer", s.target_tokenizer}};
}
}  // namespace

void Translator::save_definition(const std::string& dir, const std::string& extra_json) const {
    nlohmann::json j = {{"format", "seqgrad-model"},
                        {"version", 1},
                        {"model", nlohmann::json::parse(model_->config().to_json())},
                        {"data", source_json(source_)},
                        {"training", nlohmann::json::parse(extra_json)}};
    write_file_atomic((fs::path(dir) / "config.json").string(), j.dump(2) + "\n");
    source_vocab_.save((fs::path(dir) / "source_vocab.json").string());
    target_vocab_.save((fs::path(dir) / "target_vocab.json").string());
}

Translator Translator::load(const std::string& dir, const std::string& weights) {
    if (!fs::is_directory(dir)) fail<Error>("model folder {} does not exist (train one with: seqgrad train --out {})", dir, dir);
    const std::string config_path = (fs::path(dir) / "config.json").string();
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_file(config_path));
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: not valid JSON: {}", config_path, e.what());
    }
    if (!j.is_object() || j.value("format", nlohmann::json()) != "seqgrad-model" || !j.contains("model") || !j.contains("data"))
        fail<Error>("{}: not a seqgrad model folder config (expected \"format\": \"seqgrad-model\")", config_path);
    Seq2SeqConfig config = Seq2SeqConfig::from_json(j["model"].dump(), config_path);
    DataSource source;
    try {
        const auto& d = j["data"];
        source.task = d.at("task").get<std::string>();
        source.file = d.at("file").get<std::string>();
        source.reverse = d.at("reverse").get<bool>();
        source.max_len = d.at("max_len").get<std::size_t>();
        source.eng_prefixes = d.at("eng_prefixes").get<bool>();
        source.max_pairs = d.value("max_pairs", std::size_t{0});
        source.source_tokenizer = d.at("source_tokenizer").get<std::string>();
        source.target_tokenizer = d.at("target_tokenizer").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: bad \"data\" section: {}", config_path, e.what());
    }
    data::Vocab sv = data::Vocab::load((fs::path(dir) / "source_vocab.json").string());
    data::Vocab tv = data::Vocab::load((fs::path(dir) / "target_vocab.json").string());
    if (static_cast<std::int64_t>(sv.size()) != config.src_vocab || static_cast<std::int64_t>(tv.size()) != config.tgt_vocab)
        fail<Error>("{}: the vocabularies ({} source, {} target tokens) do not match the model config ({} and {}); "
                    "the folder mixes files from different runs",
                    dir, sv.size(), tv.size(), config.src_vocab, config.tgt_vocab);
    Translator t(config, std::move(sv), std::move(tv), source);
    const std::string weights_path = (fs::path(dir) / weights).string();
    SafetensorsFile f = load_safetensors(weights_path);
    auto targets = t.model().state_dict();
    load_into(f, targets, weights_path);
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
    Hypothesis h = beam <= 1 ? model_->greedy(ids, max_len) : model_->beam_search(ids, beam, max_len);
    out.output_tokens = target_vocab_.decode(h.ids);
    out.text = target_tokenizer_->detokenize(out.output_tokens);
    out.attention = std::move(h.attention);
    out.log_prob = h.log_prob;
    return out;
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
            for (auto& h : model_->greedy_batch(ids, max_len > 0 ? max_len : default_max_len(longest)))
                out.push_back(target_vocab_.decode(h.ids));
        }
    } else {
        for (const auto& s : sources) {
            auto ids = source_vocab_.encode(s);
            out.push_back(target_vocab_.decode(
                model_->beam_search(ids, beam, max_len > 0 ? max_len : default_max_len(ids.size())).ids));
        }
    }
    return out;
}

}  // namespace seqgrad::models

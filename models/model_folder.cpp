// The model folder's files and formats (see models/model_folder.h).
#include "models/model_folder.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "models/fileio.h"
#include "models/viz/svg.h"

namespace seqgrad::models {

namespace fs = std::filesystem;

namespace {

nlohmann::json source_json(const DataSource& s) {
    return {{"task", s.task},
            {"file", s.file},
            {"reverse", s.reverse},
            {"max_len", s.max_len},
            {"eng_prefixes", s.eng_prefixes},
            {"max_pairs", s.max_pairs},
            {"source_tokenizer", s.source_tokenizer},
            {"target_tokenizer", s.target_tokenizer},
            {"vocab_size", s.vocab_size},
            {"sp_model", s.sp_model}};
}

// exp(loss), JSON null when it overflows (a diverged run).
nlohmann::json perplexity_json(double loss) {
    const double p = std::exp(loss);
    return std::isfinite(p) ? nlohmann::json(p) : nlohmann::json();
}

nlohmann::json metrics_json(const EpochMetrics& m) {
    return {{"kind", "epoch"},          {"epoch", m.epoch},
            {"train_loss", m.train_loss}, {"train_perplexity", perplexity_json(m.train_loss)},
            {"valid_loss", m.valid_loss}, {"valid_perplexity", perplexity_json(m.valid_loss)},
            {"valid_bleu", m.valid_bleu}, {"valid_exact_match", m.valid_exact}, {"lr", m.lr},
            {"teacher_forcing", m.teacher_forcing}, {"seconds", m.seconds}, {"tokens_per_s", m.tokens_per_s},
            {"grad_norm", m.grad_norm}};
}

std::map<std::string, Tensor> unprefixed(const std::string& prefix, const std::map<std::string, Tensor>& m) {
    std::map<std::string, Tensor> out;
    for (auto& [k, v] : m)
        if (k.rfind(prefix, 0) == 0) out.emplace(k.substr(prefix.size()), v);
    return out;
}

Tensor scalar64(double v) { return Tensor::scalar(v, DType::Float64); }

}  // namespace

std::string ModelFolder::path(const std::string& file) const { return (fs::path(dir_) / file).string(); }

bool ModelFolder::has(const std::string& file) const { return fs::exists(path(file)); }

FolderDefinition ModelFolder::read_definition() const {
    if (!fs::is_directory(dir_)) fail<Error>("model folder {} does not exist (train one with: seqgrad train --out {})", dir_, dir_);
    const std::string config_path = path("config.json");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_file(config_path));
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: not valid JSON: {}", config_path, e.what());
    }
    if (!j.is_object() || j.value("format", nlohmann::json()) != "seqgrad-model" || !j.contains("model") || !j.contains("data"))
        fail<Error>("{}: not a seqgrad model folder config (expected \"format\": \"seqgrad-model\")", config_path);
    FolderDefinition d;
    d.model = ModelConfig::from_json(j["model"].dump(), config_path);
    try {
        const auto& s = j["data"];
        d.data.task = s.at("task").get<std::string>();
        d.data.file = s.at("file").get<std::string>();
        d.data.reverse = s.at("reverse").get<bool>();
        d.data.max_len = s.at("max_len").get<std::size_t>();
        d.data.eng_prefixes = s.at("eng_prefixes").get<bool>();
        d.data.max_pairs = s.value("max_pairs", std::size_t{0});
        d.data.source_tokenizer = s.at("source_tokenizer").get<std::string>();
        d.data.target_tokenizer = s.at("target_tokenizer").get<std::string>();
        d.data.vocab_size = s.value("vocab_size", std::size_t{0});  // folders written before subwords: no cap
        d.data.sp_model = s.value("sp_model", std::string("unigram"));
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: bad \"data\" section: {}", config_path, e.what());
    }
    if (j.contains("training")) d.training_json = j["training"].dump();
    return d;
}

void ModelFolder::write_definition(const FolderDefinition& d) const {
    nlohmann::json j = {{"format", "seqgrad-model"},
                        {"version", 1},
                        {"model", nlohmann::json::parse(d.model.to_json())},
                        {"data", source_json(d.data)},
                        {"training", nlohmann::json::parse(d.training_json)}};
    write_file_atomic(path("config.json"), j.dump(2) + "\n");
}

FolderContents ModelFolder::read() const {
    FolderContents c{.definition = read_definition(), .source_vocab = read_source_vocab(), .target_vocab = read_target_vocab()};
    const ModelConfig& config = c.definition.model;
    if (static_cast<std::int64_t>(c.source_vocab.size()) != config.src_vocab() ||
        static_cast<std::int64_t>(c.target_vocab.size()) != config.tgt_vocab())
        fail<Error>("{}: the vocabularies ({} source, {} target tokens) do not match the model config ({} and {}); "
                    "the folder mixes files from different runs",
                    dir_, c.source_vocab.size(), c.target_vocab.size(), config.src_vocab(), config.tgt_vocab());
    return c;
}

data::Vocab ModelFolder::read_source_vocab() const { return data::Vocab::load(path("source_vocab.json")); }
data::Vocab ModelFolder::read_target_vocab() const { return data::Vocab::load(path("target_vocab.json")); }

void ModelFolder::write_vocabs(const data::Vocab& source, const data::Vocab& target) const {
    source.save(path("source_vocab.json"));
    target.save(path("target_vocab.json"));
}

std::string ModelFolder::read_sentencepiece(const std::string& side) const { return read_file(path(sentencepiece_file(side))); }

void ModelFolder::write_sentencepiece(const std::string& side, const std::string& serialized) const {
    write_file_atomic(path(sentencepiece_file(side)), serialized);
}

data::Split ModelFolder::read_split() const { return data::load_split(path("split.json")); }
void ModelFolder::write_split(const data::Split& split) const { data::save_split(split, path("split.json")); }

void ModelFolder::save_weights(const std::string& file, const nn::Module& model,
                               const std::map<std::string, std::string>& meta) const {
    save_safetensors(path(file), model.state_dict(), meta);
}

void ModelFolder::load_weights(const std::string& file, nn::Module& model) const {
    const std::string p = path(file);
    SafetensorsFile f = load_safetensors(p);
    auto targets = model.state_dict();
    load_into(f, targets, p);
}

void ModelFolder::save_training_state(const std::map<std::string, Tensor>& optimizer,
                                      const std::map<std::string, Tensor>* scheduler, const TrainerState& t) const {
    std::map<std::string, Tensor> state;
    for (auto& [k, v] : optimizer) state.emplace("optimizer." + k, v);
    if (scheduler)
        for (auto& [k, v] : *scheduler) state.emplace("scheduler." + k, v);
    state.emplace("trainer.epoch", scalar64(static_cast<double>(t.epoch)));
    state.emplace("trainer.best_valid_loss", scalar64(t.best_valid_loss));
    state.emplace("trainer.best_epoch", scalar64(static_cast<double>(t.best_epoch)));
    state.emplace("trainer.bad_epochs", scalar64(static_cast<double>(t.bad_epochs)));
    state.emplace("trainer.teacher_forcing", scalar64(t.teacher_forcing));
    save_safetensors(path("optimizer.safetensors"), state);
}

TrainerState ModelFolder::load_training_state(std::map<std::string, Tensor>& optimizer,
                                              std::map<std::string, Tensor>& scheduler) const {
    const std::string state_path = path("optimizer.safetensors");
    SafetensorsFile st = load_safetensors(state_path);
    optimizer = unprefixed("optimizer.", st.tensors);
    scheduler = unprefixed("scheduler.", st.tensors);
    auto get = [&](const char* key) {
        auto it = st.tensors.find(key);
        if (it == st.tensors.end()) fail<Error>("{}: missing '{}'", state_path, key);
        return it->second.item();
    };
    TrainerState t;
    t.epoch = static_cast<std::int64_t>(get("trainer.epoch"));
    t.best_valid_loss = get("trainer.best_valid_loss");
    t.best_epoch = static_cast<std::int64_t>(get("trainer.best_epoch"));
    t.bad_epochs = static_cast<std::int64_t>(get("trainer.bad_epochs"));
    t.teacher_forcing = get("trainer.teacher_forcing");
    return t;
}

void ModelFolder::write_metrics(const std::vector<EpochMetrics>& history, const std::vector<std::string>& extras,
                                const std::vector<std::string>& steps) const {
    std::string lines;
    std::size_t next_step = 0;
    for (std::size_t i = 0; i < history.size(); ++i) {
        for (; next_step < steps.size(); ++next_step) {
            const nlohmann::json step = nlohmann::json::parse(steps[next_step]);
            if (step.value("epoch", std::int64_t{0}) > history[i].epoch) break;
            lines += step.dump() + "\n";
        }
        nlohmann::json j = metrics_json(history[i]);
        if (i < extras.size()) {
            const nlohmann::json extra = nlohmann::json::parse(extras[i]);  // (items() of a temporary would dangle)
            for (auto& [k, v] : extra.items()) j[k] = v;
        }
        lines += j.dump() + "\n";
    }
    write_file_atomic(path("metrics.jsonl"), lines);
    viz::Series train{"train loss", {}, {}}, valid{"validation loss", {}, {}};
    for (auto& m : history) {
        train.x.push_back(static_cast<double>(m.epoch));
        train.y.push_back(m.train_loss);
        valid.x.push_back(static_cast<double>(m.epoch));
        valid.y.push_back(m.valid_loss);
    }
    if (!history.empty())
        write_file_atomic(path("loss.svg"),
                          viz::line_plot_svg({train, valid}, {.title = "Loss by epoch", .x_label = "epoch",
                                                              .y_label = "cross-entropy per token"}));
}

// Best effort: the live line is for `tail -f`; the record is the atomic rewrite at the epoch's end,
// which reports a full disk or an unwritable folder as every checkpoint write does.
void ModelFolder::append_metrics_step(const std::string& record) const {
    std::ofstream out(path("metrics.jsonl"), std::ios::app | std::ios::binary);
    out << record << '\n';
}

std::vector<EpochMetrics> ModelFolder::read_metrics(std::int64_t upto, std::vector<std::string>& extras,
                                                    std::vector<std::string>* steps) const {
    std::vector<EpochMetrics> out;
    std::ifstream in(path("metrics.jsonl"));
    std::string line;
    std::vector<std::string> pending;  // step records of an epoch whose own line is still to come
    while (static_cast<std::int64_t>(out.size()) < upto && std::getline(in, line)) {
        try {
            auto j = nlohmann::json::parse(line);
            if (j.value("kind", std::string("epoch")) == "step") {
                pending.push_back(j.dump());
                continue;
            }
            if (steps) steps->insert(steps->end(), pending.begin(), pending.end());
            pending.clear();
            EpochMetrics m;
            m.epoch = j.at("epoch");
            m.train_loss = j.at("train_loss");
            m.valid_loss = j.at("valid_loss");
            m.valid_bleu = j.at("valid_bleu");
            m.valid_exact = j.value("valid_exact_match", 0.0);
            m.lr = j.at("lr");
            m.teacher_forcing = j.at("teacher_forcing");
            m.seconds = j.at("seconds");
            m.tokens_per_s = j.at("tokens_per_s");
            m.grad_norm = j.value("grad_norm", 0.0);
            out.push_back(m);
            nlohmann::json extra = nlohmann::json::object();
            if (j.contains("grad_norms")) extra["grad_norms"] = j["grad_norms"];
            extras.push_back(extra.dump());
        } catch (const nlohmann::json::exception&) {
            fail<Error>("{}: line {} is not a metrics record; the folder is damaged", path("metrics.jsonl"), out.size() + 1);
        }
    }
    return out;
}

}  // namespace seqgrad::models

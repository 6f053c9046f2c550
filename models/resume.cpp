// Reading a run's options back from its model folder, and the settings that define it (see
// models/resume.h).
#include "models/resume.h"

#include <nlohmann/json.hpp>

#include "models/model_folder.h"

namespace seqgrad::models {

TrainOptions stored_train_options(const std::string& dir) {
    const ModelFolder folder(dir);
    if (!folder.has("config.json"))  // nothing is created or changed: the folder need not exist
        fail<Error>("train: --resume: {} holds no run to resume (no optimizer.safetensors)", dir);
    const FolderDefinition d = folder.read_definition();
    TrainOptions o;
    o.out_dir = dir;
    o.resume = true;
    o.data = d.data;
    o.architecture = d.model.architecture;
    o.model = d.model.rnn;
    o.architecture_options = d.model.options_json;
    try {
        const nlohmann::json t = nlohmann::json::parse(d.training_json);
        o.batch_size = t.value("batch_size", o.batch_size);
        o.epochs = t.value("epochs", o.epochs);
        o.lr = t.value("lr", o.lr);
        o.optimizer = t.value("optimizer", o.optimizer);
        o.schedule = t.value("schedule", o.schedule);
        o.warmup_steps = t.value("warmup_steps", o.warmup_steps);
        o.clip = t.value("clip", o.clip);
        o.teacher_forcing = t.value("teacher_forcing", o.teacher_forcing);
        o.teacher_forcing_decay = t.value("teacher_forcing_decay", o.teacher_forcing_decay);
        o.seed = t.value("seed", o.seed);
        o.min_freq = t.value("min_freq", o.min_freq);
        o.max_pairs = t.value("max_pairs", o.max_pairs);
        o.bleu_examples = t.value("bleu_examples", o.bleu_examples);  // not in folders written before it was recorded
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: bad \"training\" section: {}", folder.path("config.json"), e.what());
    }
    return o;
}

std::map<std::string, std::string> run_settings(const TrainOptions& o) {
    std::map<std::string, std::string> out;
    auto add = [&](const std::string& prefix, const nlohmann::json& j) {
        for (auto& [k, v] : j.items())
            out[prefix + k] = !v.is_string() ? v.dump() : v.get<std::string>().empty() ? "(none)" : v.get<std::string>();
    };
    ModelConfig model = o.model_config();
    nlohmann::json m = nlohmann::json::parse(model.to_json());
    m.erase("src_vocab");  // from the data, not from a flag
    m.erase("tgt_vocab");
    add("model.", m);
    const DataSource& d = o.data;
    add("data.", {{"task", d.task},
                  {"file", d.file},
                  {"reverse", d.reverse},
                  {"max_len", d.max_len},
                  {"eng_prefixes", d.eng_prefixes},
                  {"max_pairs", o.max_pairs > 0 ? o.max_pairs : d.max_pairs},
                  {"source_tokenizer", d.source_tokenizer},
                  {"target_tokenizer", d.target_tokenizer},
                  {"vocab_size", d.vocab_size},
                  {"sp_model", d.sp_model}});
    add("training.", {{"batch_size", o.batch_size}, {"epochs", o.epochs}, {"lr", o.lr}, {"optimizer", o.optimizer},
                      {"schedule", o.schedule}, {"warmup_steps", o.warmup_steps}, {"clip", o.clip},
                      {"teacher_forcing", o.teacher_forcing}, {"teacher_forcing_decay", o.teacher_forcing_decay},
                      {"seed", o.seed}, {"min_freq", o.min_freq}, {"max_pairs", o.max_pairs}});
    return out;
}

}  // namespace seqgrad::models

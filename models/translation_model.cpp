// ModelConfig's JSON, the default nll_sum, attention_maps and teacher_forced_with_embeddings, and the architecture registry behind make_model.
#include "models/translation_model.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "core/error.h"
#include "models/rnn/seq2seq.h"
#include "models/transformer/transformer_model.h"

namespace seqgrad::models {

namespace {
std::map<std::string, ModelFactory>& registry() {
    static std::map<std::string, ModelFactory> r;
    return r;
}
std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}

nlohmann::json parse_object(const std::string& text, const std::string& where) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        fail<Error>("{}: not valid JSON: {}", where, e.what());
    }
    return j;
}
}  // namespace

void ModelConfig::set_vocab_sizes(std::int64_t src, std::int64_t tgt) {
    rnn.src_vocab = src;
    rnn.tgt_vocab = tgt;
    if (architecture != "rnn") {
        nlohmann::json j = parse_object(options_json, "model options");
        if (!j.is_object()) j = nlohmann::json::object();
        j["src_vocab"] = src;
        j["tgt_vocab"] = tgt;
        options_json = j.dump();
    }
}

std::int64_t ModelConfig::src_vocab() const {
    if (architecture == "rnn") return rnn.src_vocab;
    return parse_object(options_json, "model options").value("src_vocab", std::int64_t{0});
}

std::int64_t ModelConfig::tgt_vocab() const {
    if (architecture == "rnn") return rnn.tgt_vocab;
    return parse_object(options_json, "model options").value("tgt_vocab", std::int64_t{0});
}

std::string ModelConfig::to_json() const {
    nlohmann::json j = parse_object(architecture == "rnn" ? rnn.to_json() : options_json, "model options");
    if (!j.is_object()) j = nlohmann::json::object();
    j["architecture"] = architecture;
    return j.dump(2);
}

ModelConfig ModelConfig::from_json(const std::string& text, const std::string& where) {
    const nlohmann::json j = parse_object(text, where);
    ModelConfig c;
    if (j.is_object() && j.contains("architecture")) {
        if (!j["architecture"].is_string())
            fail<Error>("{}: bad model config: \"architecture\" must be a string, got {}", where, j["architecture"].dump());
        c.architecture = j["architecture"].get<std::string>();
    }
    if (c.architecture == "rnn") {
        c.rnn = Seq2SeqConfig::from_json(text, where);
        return c;
    }
    const auto names = architecture_names();
    if (std::find(names.begin(), names.end(), c.architecture) == names.end())
        fail<Error>("{}: unknown architecture '{}' (valid: {})", where, c.architecture, fmt::join(names, ", "));
    nlohmann::json options = j;
    options.erase("architecture");
    c.options_json = options.dump();
    return c;
}

std::pair<double, std::int64_t> TranslationModel::nll_sum(const Tensor& src, const std::vector<std::int64_t>& src_lengths,
                                                          const Tensor& tgt_in, const Tensor& tgt_out) const {
    NoGradGuard no_grad;
    const Tensor l = loss(src, src_lengths, tgt_in, tgt_out, {.teacher_forcing = 1.0});
    std::int64_t tokens = 0;
    for (auto id : tgt_out.to_ids()) tokens += id != kPad;
    return {l.item() * static_cast<double>(tokens), tokens};
}

std::vector<AttentionMap> TranslationModel::attention_maps(const Tensor&, const Tensor&) const { return {}; }

SaliencyPass TranslationModel::teacher_forced_with_embeddings(const Tensor&, const Tensor&) const {
    fail<Error>("saliency: the {} architecture does not expose its source embeddings (it does not implement "
                "TranslationModel::teacher_forced_with_embeddings)",
                model_config().architecture);
}

void register_architecture(const std::string& name, ModelFactory factory) {
    std::lock_guard lock(registry_mutex());
    if (name == "rnn" || name == "transformer" || registry().count(name)) fail("register_architecture: '{}' is already registered", name);
    registry().emplace(name, std::move(factory));
}

std::vector<std::string> architecture_names() {
    std::lock_guard lock(registry_mutex());
    std::vector<std::string> names = {"rnn", "transformer"};  // the built-in ones: explicit cases in make_model
    for (const auto& [name, factory] : registry()) names.push_back(name);
    std::sort(names.begin(), names.end());
    return names;
}

std::shared_ptr<TranslationModel> make_model(const ModelConfig& config, Generator* gen) {
    if (config.architecture == "rnn") return std::make_shared<Seq2Seq>(config.rnn, gen);
    if (config.architecture == "transformer") return make_transformer_model(config, gen);
    ModelFactory factory;
    {
        std::lock_guard lock(registry_mutex());
        auto it = registry().find(config.architecture);
        if (it != registry().end()) factory = it->second;
    }
    if (!factory) fail("make_model: unknown architecture '{}' (valid: {})", config.architecture, fmt::join(architecture_names(), ", "));
    return factory(config, gen);
}

}  // namespace seqgrad::models

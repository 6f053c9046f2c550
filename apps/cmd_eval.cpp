// `seqgrad eval`: BLEU, exact match, token accuracy and perplexity of a model folder on a split of
// its corpus (the same split training used) or on another TSV file.
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/checks.h"
#include "apps/commands.h"
#include "models/fileio.h"
#include "models/trainer.h"
#include "models/translation_json.h"

namespace seqgrad::apps {

void add_eval(CLI::App& app) {
    auto* cmd = app.add_subcommand("eval", "Evaluate a model folder: BLEU, exact match, token accuracy, perplexity");
    struct Opts {
        std::string model, output, json_lines;
        models::EvalOptions eval;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--model", o->model, "Model folder written by seqgrad train")->required();
    cmd->add_option("--data", o->eval.data_file, "Evaluate on this TSV instead of a split")->check(CLI::ExistingFile);
    cmd->add_option("--split", o->eval.split, "test, valid or train")->check(CLI::IsMember({"test", "valid", "train"}));
    cmd->add_option("--beam", o->eval.beam, "Beam size (1 = greedy)")->check(integer_range(1, 64));
    cmd->add_option("--length-penalty", o->eval.length_penalty,
                    "GNMT length penalty alpha of beam search (0 = log p alone)")
        ->check(number_range(0.0, 5.0));
    cmd->add_option("--limit", o->eval.limit, "At most this many sentences (0 = all)")->check(non_negative_integer());
    cmd->add_option("--output", o->output, "Write one hypothesis per line, in the order of the split");
    cmd->add_option("--json-lines", o->json_lines,
                    "Write one JSON object per sentence (source, reference, hypothesis, score, attention) to FILE");
    cmd->add_flag("--json", o->json, "Print exactly one JSON object");
    cmd->callback([o] {
        const models::Translator t = models::Translator::load(o->model);
        o->eval.layer_attention = !o->json_lines.empty();
        models::EvalResult r = models::evaluate(t, o->model, o->eval);
        // A corpus the model mostly cannot read (the wrong direction, another language) still gets
        // scores, all near zero; say why on stderr so stdout (--json) stays one object.
        std::size_t tokens = 0, unknown = 0;
        for (const auto& s : r.sources)
            for (const auto& token : t.source_tokenizer().tokenize(s)) {
                ++tokens;
                unknown += t.source_vocab().contains(token) ? 0 : 1;
            }
        if (tokens > 0 && 2 * unknown > tokens)
            std::cerr << fmt::format("seqgrad eval: note: {:.1f}% of the source tokens are not in the model's source "
                                     "vocabulary (a corpus in the other direction? see --reverse at training)\n",
                                     100.0 * static_cast<double>(unknown) / static_cast<double>(tokens));
        if (!o->output.empty()) {
            std::string lines;
            for (auto& h : r.hypotheses) lines += h + "\n";
            write_file_atomic(o->output, lines);
        }
        if (!o->json_lines.empty()) {
            std::string lines;
            for (std::size_t i = 0; i < r.translations.size(); ++i) {
                const models::JsonReference ref{r.references[i], r.reference_tokens[i]};
                lines += models::translation_json(i, r.sources[i], {r.translations[i]}, &ref) + "\n";
            }
            write_file_atomic(o->json_lines, lines);
        }
        if (o->json) {
            nlohmann::json j = {{"bleu", r.bleu}, {"exact_match", r.exact_match}, {"token_accuracy", r.token_accuracy},
                                {"perplexity", r.perplexity}, {"source_unk_rate", r.source_unk_rate},
                                {"target_unk_rate", r.target_unk_rate}, {"n", r.n}};
            std::cout << j.dump() << "\n";
        } else {
            std::cout << fmt::format("{} sentences ({}): BLEU {:.2f}  exact match {:.2f}%  token accuracy {:.2f}%  "
                                     "perplexity {:.3f}  <unk> {:.2f}% source, {:.2f}% target tokens\n",
                                     r.n, o->eval.data_file.empty() ? o->eval.split + " split" : o->eval.data_file, r.bleu,
                                     100 * r.exact_match, 100 * r.token_accuracy, r.perplexity, 100 * r.source_unk_rate,
                                     100 * r.target_unk_rate);
        }
    });
}

}  // namespace seqgrad::apps

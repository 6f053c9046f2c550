// `seqgrad translate`: translate sentences with a trained model folder, optionally showing the
// attention as a terminal heatmap and writing it as an SVG; --n-best lists the K best hypotheses with
// their scores ("N ||| text ||| score", as Moses and Marian write n-best lists) and --json prints one
// JSON object per sentence (models/translation_json.h); --saliency-svg draws the saliency
// (models/saliency.h) as an SVG.
#include <algorithm>
#include <iostream>

#include <fmt/ranges.h>

#include "apps/checks.h"
#include "apps/commands.h"
#include "apps/views.h"
#include "models/fileio.h"
#include "models/viz/svg.h"
#include "models/viz/terminal.h"
#include "models/trainer.h"
#include "models/translation_json.h"
#include "models/translator.h"

namespace seqgrad::apps {

namespace {
// Tokens the model has never seen are read as <unk>: the translation can look fluent and mean
// nothing, so say which ones on stderr (stdout keeps one line per input).
void note_unknown_tokens(const models::Translator& t, const models::Translation& tr, const std::string& where) {
    std::vector<std::string> unknown;
    for (const auto& token : tr.source_tokens)
        if (!t.source_vocab().contains(token) && std::find(unknown.begin(), unknown.end(), token) == unknown.end())
            unknown.push_back(token);
    if (unknown.empty()) return;
    const std::size_t shown = std::min<std::size_t>(unknown.size(), 10);
    const std::vector<std::string> names(unknown.begin(), unknown.begin() + static_cast<std::ptrdiff_t>(shown));
    std::cerr << fmt::format("seqgrad translate: note: {}: the model does not know {}{} ({} of {} tokens, read as <unk>)\n",
                             where, fmt::join(names, " "), shown < unknown.size() ? " ..." : "", unknown.size(),
                             tr.source_tokens.size());
}
}  // namespace

void add_translate(CLI::App& app) {
    auto* cmd = app.add_subcommand("translate", "Translate sentences (arguments, or one per line on stdin)");
    struct Opts {
        std::string model;
        std::int64_t beam = 1, n_best = 1;
        double length_penalty = models::kDefaultLengthPenalty;
        bool show = false, json = false;
        std::string svg, saliency_svg;
        std::vector<std::string> sentences;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--model", o->model, "Model folder written by seqgrad train")->required();
    cmd->add_option("--beam", o->beam, "Beam size (1 = greedy)")->check(integer_range(1, 64));
    cmd->add_option("--n-best", o->n_best, "Print the K best hypotheses of each sentence: N ||| text ||| score (K <= --beam)")
        ->check(integer_range(1, 64));
    cmd->add_option("--length-penalty", o->length_penalty,
                    "GNMT length penalty alpha: score = log p / ((5 + length) / 6)^alpha (0 = log p alone)")
        ->check(number_range(0.0, 5.0));
    auto* json = cmd->add_flag("--json", o->json,
                               "One JSON object per sentence: tokens, hypotheses, scores, attention (README schema)");
    cmd->add_flag("--show-attention", o->show, "Print the attention of each translation as a heatmap")->excludes(json);
    cmd->add_option("--attention-svg", o->svg, "Write the attention of the (last) translation as an SVG file");
    cmd->add_option("--saliency-svg", o->saliency_svg,
                    "Write the saliency of the (last) translation (‖∂ log p(y_t)/∂e_s‖, gradient × input) beside its "
                    "attention as an SVG file");
    cmd->add_option("sentences", o->sentences, "Sentences to translate; none: read stdin");
    cmd->callback([o] {
        if (o->n_best > o->beam)
            fail("translate: --n-best {} needs a beam at least as wide (--beam {} or more; got --beam {})", o->n_best,
                 o->n_best, o->beam);
        if (!o->svg.empty()) check_output_file(o->svg, "--attention-svg");
        if (!o->saliency_svg.empty()) check_output_file(o->saliency_svg, "--saliency-svg");
        const models::Translator t = models::Translator::load(o->model);
        const models::DecodeOptions decode{.beam = o->beam,
                                           .n_best = o->n_best,
                                           .length_penalty = o->length_penalty,
                                           .layer_attention = o->json};
        std::size_t id = 0;  // 0-based input number of the n-best lines and the JSON objects
        // One output line per input line, always: an empty line gives an empty line, and a line that
        // cannot be translated gives an empty line on stdout, its number and reason on stderr, and
        // exit code 2 once every other line is done.
        // With --n-best, every line carries its input's number, so an empty or failed input prints no line.
        auto run = [&](const std::string& s, const std::string& where) {
            const std::size_t n = id++;
            if (s.find_first_not_of(" \t\r") == std::string::npos && o->sentences.empty()) {
                if (o->json) std::cout << models::translation_json(n, s, {}) << "\n";
                else if (o->n_best == 1) std::cout << "\n";
                return;
            }
            auto failed = [&](const std::exception& e) {
                if (o->sentences.size() == 1) throw;  // one sentence: the usual one-line error and exit code 2
                if (o->json) std::cout << models::translation_error_json(n, s, e.what()) << "\n";
                else if (o->n_best == 1) std::cout << "\n";
                std::cout << std::flush;
                std::cerr << fmt::format("seqgrad translate: {}: {}\n", where, e.what());
                set_exit_code(2);
            };
            // The errors main() reports as misuse (apps/main.cpp); anything else still ends the run.
            try {
                const std::vector<models::Translation> list = t.translate_n_best(s, decode);
                const models::Translation& tr = list.front();
                if (o->json) {
                    std::cout << models::translation_json(n, s, list) << "\n";
                } else if (o->n_best > 1) {
                    for (const auto& h : list) std::cout << fmt::format("{} ||| {} ||| {:.4f}\n", n, h.text, h.score);
                } else {
                    std::cout << tr.text << "\n";
                }
                std::cout << std::flush;
                note_unknown_tokens(t, tr, where);
                if (o->show) print_attention(t, tr, std::cout);
                if (!o->svg.empty()) write_attention_svg(t, tr, o->svg, s);
                if (!o->saliency_svg.empty()) write_saliency_svg(t, tr, o->saliency_svg, s);
            } catch (const std::invalid_argument& e) {
                failed(e);
            } catch (const std::out_of_range& e) {
                failed(e);
            } catch (const Error& e) {
                failed(e);
            }
        };
        if (!o->sentences.empty()) {
            for (std::size_t i = 0; i < o->sentences.size(); ++i) run(o->sentences[i], fmt::format("sentence {}", i + 1));
        } else {
            std::string line;
            for (std::size_t n = 1; std::getline(std::cin, line); ++n) run(line, fmt::format("line {}", n));
        }
    });
}

}  // namespace seqgrad::apps

// `seqgrad demo`: trains the bundled English->French task with additive attention in about two
// minutes, then prints held-out translations beside their references, the held-out BLEU, one
// attention heatmap on the terminal, and writes attention heatmaps as SVG files.
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "apps/views.h"
#include "models/bench.h"
#include "models/viz/terminal.h"
#include "models/trainer.h"
#include "models/translator.h"

namespace seqgrad::apps {

void add_demo(CLI::App& app) {
    auto* cmd = app.add_subcommand("demo", "Train the bundled English->French translator (~2 min) and show what it learned");
    struct Opts {
        std::string out = "seqgrad-demo";
        double minutes = 1.5;
        int threads = 2;
        std::int64_t epochs = 30;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--out", o->out, "Folder for the model and the SVG heatmaps");
    cmd->add_option("--minutes", o->minutes, "Training time budget")->check(CLI::Range(0.05, 600.0));
    cmd->add_option("--epochs", o->epochs, "At most this many epochs")->check(CLI::PositiveNumber);
    cmd->add_option("--threads", o->threads, "Threads")->check(CLI::Range(1, 256));
    cmd->callback([o] {
        namespace fs = std::filesystem;
        models::set_num_threads(o->threads);
        models::TrainOptions t;
        t.data.task = "enfr";
        t.out_dir = (fs::path(o->out) / "model").string();
        t.model.attention = "additive";
        t.model.hidden_size = 128;
        t.model.embed_size = 64;
        t.batch_size = 32;
        t.epochs = o->epochs;
        t.lr = 3e-3;
        t.clip = 1.0;
        t.patience = 3;
        t.bleu_examples = 200;
        t.time_limit_s = o->minutes * 60.0 * 0.95;
        t.interactive = viz::stdout_is_terminal();
        std::cout << "seqgrad demo: training an English->French translator with additive attention on the bundled "
                     "`enfr` corpus\n(about "
                  << o->minutes << " minutes on " << o->threads << " thread(s); Ctrl-C stops early and keeps the model)\n\n";
        if (fs::exists(t.out_dir)) fs::remove_all(t.out_dir);
        models::TrainResult r;
        {
            StopOnCtrlC ctrl_c;  // Ctrl-C ends training early; the demo goes on with the best model so far
            r = models::train(t, std::cout);
        }
        if (r.history.empty() && r.stop_reason == "interrupted") {
            std::cout << "demo: interrupted before the first epoch finished; nothing to show\n";
            set_exit_code(130);
            return;
        }
        if (r.history.empty()) fail<Error>("demo: training stopped before the first epoch finished ({})", r.stop_reason);

        const models::Translator tr = models::Translator::load(t.out_dir);
        models::EvalResult ev = models::evaluate(tr, t.out_dir, {.split = "test"});
        std::cout << "\nHeld-out translations (test split):\n";
        for (std::size_t i = 0; i < std::min<std::size_t>(8, ev.n); ++i)
            std::cout << fmt::format("  {}\n    -> {}\n    ref {}{}\n", ev.sources[i], ev.hypotheses[i], ev.references[i],
                                     ev.hypotheses[i] == ev.references[i] ? "  (exact)" : "");
        std::cout << fmt::format("\nHeld-out BLEU: {:.1f} on {} sentences (exact match {:.1f}%)\n", ev.bleu, ev.n,
                                 100 * ev.exact_match);

        const std::vector<std::pair<std::string, std::string>> examples = {
            {"we do not sell the red car", "adjective_noun_negation"},
            {"she does not eat the delicious pie", "negation"},
            {ev.sources.empty() ? "the red car" : ev.sources[0], "test_sentence"}};
        bool printed = false;
        for (auto& [sentence, name] : examples) {
            models::Translation x;
            try {
                x = tr.translate(sentence);
            } catch (const std::exception& e) {
                continue;  // a word the corpus does not have
            }
            const std::string svg = (fs::path(o->out) / ("attention_" + name + ".svg")).string();
            write_attention_svg(x, svg, sentence + " -> " + x.text);
            if (!printed) {
                std::cout << "\nAttention while translating \"" << sentence << "\" -> \"" << x.text
                          << "\" (rows: output, columns: source):\n";
                print_attention(x, std::cout);
                printed = true;
            }
        }
        std::cout << "\nSVG heatmaps written to " << fs::absolute(o->out).string()
                  << "/attention_*.svg; loss curves in " << fs::absolute(t.out_dir).string() << "/loss.svg\n"
                  << "Try:  ./build/seqgrad translate --model " << t.out_dir << " --show-attention \"the small dogs eat\"\n";
    });
}

}  // namespace seqgrad::apps

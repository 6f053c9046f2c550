// `seqgrad demo`: trains the bundled English->French task with additive attention in about two
// minutes, then prints held-out translations beside their references, the held-out BLEU, one
// attention heatmap on the terminal, and writes attention heatmaps as SVG files.
#include <filesystem>
#include <iostream>

#include "apps/checks.h"
#include "apps/commands.h"
#include "apps/views.h"
#include "models/bench.h"
#include "models/data/toy_tasks.h"
#include "models/output_folder.h"
#include "models/viz/terminal.h"
#include "models/trainer.h"
#include "models/translator.h"

namespace seqgrad::apps {

namespace {
// A demo folder written before the demo marked its folders (seqgrad-output.txt): nothing but the
// model folder and the attention_*.svg heatmaps the demo writes. It is the demo's own output too.
bool unmarked_demo_output(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_regular_file(fs::path(dir) / "model" / "config.json", ec)) return false;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        const bool heatmap = name.starts_with("attention_") && name.ends_with(".svg") && e.is_regular_file();
        if (name != "model" && !heatmap) return false;
    }
    return !ec;
}
}  // namespace

void add_demo(CLI::App& app) {
    auto* cmd = app.add_subcommand("demo", "Train the bundled English->French translator (~2 min) and show what it learned");
    struct Opts {
        std::string out = "seqgrad-demo";
        double minutes = 1.5;
        int threads = 2;
        std::int64_t epochs = 30;
        bool force = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--out", o->out, "Folder for the model and the SVG heatmaps");
    cmd->add_option("--minutes", o->minutes, "Training time budget")->check(number_range(0.05, 600.0));
    cmd->add_option("--epochs", o->epochs, "At most this many epochs")->check(positive_integer());
    cmd->add_option("--threads", o->threads, "Threads")->check(integer_range(1, 256));
    cmd->add_flag("--force", o->force,
                  "Write into --out even if it is not empty and not an earlier demo's folder (other files are kept)");
    cmd->callback([o] {
        namespace fs = std::filesystem;
        // The demo replaces its own earlier output (the folder's seqgrad-output.txt says so), and
        // nothing else unless --force; checked, like the bundled corpus, before anything is written.
        models::check_command_folder(o->out, "demo", o->force || unmarked_demo_output(o->out));
        data::data_path(data::shipped_corpus("enfr").file);
        models::claim_command_folder(o->out, "demo");
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
        t.force = true;  // the folder is the demo's: its earlier model is replaced
        std::cout << "seqgrad demo: training an English->French translator with additive attention on the bundled "
                     "`enfr` corpus\n(about "
                  << o->minutes << " minutes on " << o->threads << " thread(s); Ctrl-C stops early and keeps the model)\n\n";
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

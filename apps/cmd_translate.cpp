// `seqgrad translate`: translate sentences with a trained model folder, optionally showing the
// attention as a terminal heatmap and writing it as an SVG.
#include <iostream>

#include "apps/commands.h"
#include "apps/views.h"
#include "models/fileio.h"
#include "models/viz/svg.h"
#include "models/viz/terminal.h"
#include "models/trainer.h"
#include "models/translator.h"

namespace seqgrad::apps {

void add_translate(CLI::App& app) {
    auto* cmd = app.add_subcommand("translate", "Translate sentences (arguments, or one per line on stdin)");
    struct Opts {
        std::string model;
        std::int64_t beam = 1;
        bool show = false;
        std::string svg;
        std::vector<std::string> sentences;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--model", o->model, "Model folder written by seqgrad train")->required();
    cmd->add_option("--beam", o->beam, "Beam size (1 = greedy)")->check(CLI::Range(1, 64));
    cmd->add_flag("--show-attention", o->show, "Print the attention of each translation as a heatmap");
    cmd->add_option("--attention-svg", o->svg, "Write the attention of the (last) translation as an SVG file");
    cmd->add_option("sentences", o->sentences, "Sentences to translate; none: read stdin");
    cmd->callback([o] {
        const models::Translator t = models::Translator::load(o->model);
        auto run = [&](const std::string& s) {
            models::Translation tr = t.translate(s, o->beam);
            std::cout << tr.text << "\n";
            if (o->show) print_attention(tr, std::cout);
            if (!o->svg.empty()) write_attention_svg(tr, o->svg, s);
        };
        if (!o->sentences.empty()) {
            for (auto& s : o->sentences) run(s);
        } else {
            std::string line;
            while (std::getline(std::cin, line))
                if (!line.empty()) run(line);
        }
    });
}

}  // namespace seqgrad::apps

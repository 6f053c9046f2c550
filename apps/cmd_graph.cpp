// `seqgrad graph`: the autograd graph of one decoder step of a model as Graphviz DOT (and SVG when
// the `dot` program is installed).
#include <cstdlib>
#include <iostream>

#include "apps/commands.h"
#include "core/graph_export.h"
#include "core/ops.h"
#include "models/decoding.h"
#include "models/fileio.h"
#include "models/translator.h"

namespace seqgrad::apps {

void add_graph(CLI::App& app) {
    auto* cmd = app.add_subcommand("graph", "Write the autograd graph of one decoder step as Graphviz DOT");
    struct Opts {
        std::string model, out = "graph.dot", sentence;
        bool norms = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--model", o->model, "Model folder")->required();
    cmd->add_option("--out", o->out, "The .dot file to write (an .svg beside it when graphviz is installed)");
    cmd->add_option("--sentence", o->sentence, "Source sentence (default: the first test sentence)");
    cmd->add_flag("--norms", o->norms, "Label nodes with value and gradient norms");
    cmd->callback([o] {
        models::Translator t = models::Translator::load(o->model);
        std::string sentence = o->sentence;
        if (sentence.empty()) {
            data::Corpus c = models::load_corpus(t.data_source(), false, &t.tokenizers());
            sentence = c.pairs.front().source_text;
        }
        const auto tokens = t.source_tokenizer().tokenize(sentence);
        if (tokens.empty()) fail("graph: the sentence '{}' has no tokens", sentence);
        const auto ids = t.source_vocab().encode(tokens);
        // name the parameters so the graph shows them
        for (auto& [name, p] : t.model().named_parameters()) p.set_name(name);
        const models::TracedStep traced = models::trace_step(t.model(), ids, {}, 0);  // y_0 given <sos>
        const models::DecoderStep& step = traced.step;
        Tensor loss = neg(max(log_softmax(step.logits, 1)));
        if (o->norms) loss.backward({.retain_graph = true});
        write_file_atomic(o->out, to_dot(loss, {.show_norms = o->norms, .title = "one decoder step: " + sentence}));
        std::cout << "wrote " << o->out << "\n";
        if (std::system("command -v dot > /dev/null 2>&1") == 0) {
            const std::string svg = o->out.substr(0, o->out.rfind('.')) + ".svg";
            const std::string cmdline = "dot -Tsvg '" + o->out + "' -o '" + svg + "'";
            if (o->out.find('\'') == std::string::npos && std::system(cmdline.c_str()) == 0) std::cout << "wrote " << svg << "\n";
        } else {
            std::cout << "(install graphviz and run: dot -Tsvg " << o->out << " -o graph.svg)\n";
        }
    });
}

}  // namespace seqgrad::apps

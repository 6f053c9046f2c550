// `seqgrad inspect`: one self-contained HTML page (inline SVG, no scripts, nothing from the network)
// showing one decoder step of one translation with the forward and the backward side by side:
// scores e, weights α and beside them the saliency of the step (implicit attention, models/saliency.h),
// ∂L/∂α, ∂L/∂e, the gradient reaching each encoder state, and a numeric check of the softmax-Jacobian
// identity ∂L/∂e_j = α_j (∂L/∂α_j − Σ_k α_k ∂L/∂α_k).
#include <algorithm>
#include <cmath>
#include <iostream>

#include "apps/checks.h"
#include "apps/commands.h"
#include "models/fileio.h"
#include "models/inspect.h"
#include "models/viz/svg.h"

namespace seqgrad::apps {

namespace {

std::string esc(const std::string& s) { return viz::xml_escape(s); }

std::string row_svg(const std::string& name, const std::vector<double>& values, const std::vector<std::string>& cols,
                    viz::ColourScale scale, const std::string& title) {
    viz::HeatmapOptions o;
    o.title = title;
    o.scale = scale;
    o.cell_size = 40;
    o.show_values = viz::HeatmapOptions::Values::Always;
    if (name == "α" || name == "saliency") {  // shares of 1: a fixed 0..1 scale; gradients scale to their data
        o.vmin = 0.0;
        o.vmax = 1.0;
    }
    return viz::heatmap_svg({values}, cols, {name}, o);
}

std::string figure(const std::string& id, const std::string& caption, const std::string& svg) {
    return "<figure id=\"" + id + "\">\n" + svg + "\n<figcaption>" + caption + "</figcaption>\n</figure>\n";
}

bool identity_holds(double max_error, const std::vector<double>& dscores) {
    double largest = 0;
    for (double d : dscores) largest = std::max(largest, std::abs(d));
    return max_error <= 1e-5 * (1 + largest);
}

// A model with layers and heads: for each decoder layer, each head's forward (e, α) and backward
// (∂L/∂α, ∂L/∂e) side by side, and the identity checked per head.
std::string heads_section(const models::StepInspection& r) {
    using viz::ColourScale;
    const auto& src = r.source_tokens;
    std::string html = "<h2 id=\"heads\">Cross-attention per layer and head</h2>\n<p>Each head has its own softmax "
                       "α = softmax(e) over the source positions, e = q·k<sub>s</sub>/√d; the backward runs through each "
                       "one separately, so the identity holds head by head. Rows: e, α (forward), ∂L/∂α, ∂L/∂e (backward).</p>\n";
    std::int64_t layer = -1;
    for (const auto& h : r.heads) {
        if (h.layer != layer) {
            if (layer >= 0) html += "</div>\n";
            layer = h.layer;
            html += fmt::format("<h3>Decoder layer {}</h3>\n<div class=\"side\">\n", layer + 1);
        }
        const std::string id = fmt::format("head-{}-{}", h.layer + 1, h.head + 1);
        html += fmt::format("<div class=\"col\" id=\"{}\"><h4>head {}</h4>\n", id, h.head + 1);
        html += row_svg("e", h.scores, src, ColourScale::Diverging, "scores e");
        html += row_svg("α", h.weights, src, ColourScale::Sequential, "weights α");
        html += row_svg("∂L/∂α", h.dweights, src, ColourScale::Diverging, "dL/dα");
        html += row_svg("∂L/∂e", h.dscores, src, ColourScale::Diverging, "dL/de");
        html += fmt::format("<p>identity: max<sub>j</sub> |∂L/∂e<sub>j</sub> − α<sub>j</sub>(∂L/∂α<sub>j</sub> − Σ α<sub>k</sub> "
                            "∂L/∂α<sub>k</sub>)| = <span class=\"{}\">{:.3g}</span></p>\n</div>\n",
                            identity_holds(h.identity_max_error, h.dscores) ? "ok" : "bad", h.identity_max_error);
    }
    if (layer >= 0) html += "</div>\n";
    return html;
}

// Implicit attention beside α: the saliency row of the step (models/saliency.h).
std::string saliency_figures(const models::StepInspection& r) {
    using viz::ColourScale;
    if (r.saliency.empty())
        return "<p id=\"saliency-missing\">No saliency: " + esc(r.saliency_note) + "</p>\n";
    std::string html = figure("fig-saliency",
                              "Implicit attention: ‖∂ log p(y<sub>t</sub>)/∂e<sub>s</sub>‖ over the source embeddings, divided by "
                              "its sum so it reads on α's scale. Where α and this row disagree, the weights are not what "
                              "the output depends on.",
                              row_svg("saliency", r.saliency, r.source_tokens, ColourScale::Sequential, "saliency ‖∇e log p‖ (row sums to 1)"));
    html += figure("fig-gradient-x-input",
                   "Gradient × input e<sub>s</sub> · ∂ log p(y<sub>t</sub>)/∂e<sub>s</sub>, divided by the sum of its absolute "
                   "values: how much log p(y<sub>t</sub>) would lose (red) or gain (blue) to first order if e<sub>s</sub> were zero.",
                   row_svg("e·∇", r.gradient_x_input, r.source_tokens, ColourScale::Diverging, "gradient × input"));
    return html;
}

std::string page(const models::StepInspection& r, const std::string& sentence, const std::string& model_dir) {
    using viz::ColourScale;
    const auto& src = r.source_tokens;
    std::string html = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>seqgrad inspect</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
.side { display: flex; gap: 3em; flex-wrap: wrap; align-items: flex-start; }
.col { flex: 1; min-width: 420px; }
figure { margin: 0 0 1.5em 0; }
figcaption { font-size: 0.9em; color: #555; max-width: 40em; }
code, .mono { font-family: monospace; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
.ok { color: #1a7f37; font-weight: bold; } .bad { color: #b42318; font-weight: bold; }
</style></head><body>
)";
    html += "<h1>Backprop through attention, one decoder step</h1>\n";
    html += "<p>Model <span class=\"mono\">" + esc(model_dir) + "</span>. Source: <b>" + esc(sentence) +
            "</b><br>Greedy translation: <b>" + esc(fmt::format("{}", fmt::join(r.output_tokens, " "))) + "</b><br>";
    html += fmt::format("Step t = {} produced <b>{}</b>; the loss is L = −log p(y<sub>t</sub>) = {:.4f}.</p>\n", r.step,
                        esc(r.step_token), r.loss);
    const bool heads = !r.heads.empty();
    if (heads) html += heads_section(r);
    html += "<div class=\"side\">\n<div class=\"col\" id=\"forward\"><h2>Forward</h2>\n";
    if (heads) {
        html += figure("fig-weights", "The last layer's cross-attention averaged over its heads (what translate draws as one heatmap): no softmax produced it, so its gradients are per head above.",
                       row_svg("α", r.weights, src, ColourScale::Sequential, "mean attention weights"));
        html += saliency_figures(r);
    } else {
        html += figure("fig-scores", "Scores e<sub>s</sub> (before the softmax).",
                       row_svg("e", r.scores, src, ColourScale::Diverging, "scores e"));
        html += figure("fig-weights", "Weights α = softmax(e): how much each source token feeds the context c = Σ α<sub>s</sub> h<sub>s</sub>.",
                       row_svg("α", r.weights, src, ColourScale::Sequential, "attention weights α"));
        html += saliency_figures(r);
    }
    html += "</div>\n<div class=\"col\" id=\"backward\"><h2>Backward</h2>\n";
    if (!heads) {
        html += figure("fig-dweights", "∂L/∂α<sub>s</sub> = ∂L/∂c · h<sub>s</sub>: how the loss would change if position s got more weight.",
                       row_svg("∂L/∂α", r.dweights, src, ColourScale::Diverging, "dL/dα"));
        html += figure("fig-dscores", "∂L/∂e = α ⊙ (∂L/∂α − Σ<sub>k</sub> α<sub>k</sub> ∂L/∂α<sub>k</sub>): the softmax Jacobian applied to ∂L/∂α. These sum to zero.",
                       row_svg("∂L/∂e", r.dscores, src, ColourScale::Diverging, "dL/de"));
    }
    html += figure("fig-dencoder-norm", "‖∂L/∂h<sub>s</sub>‖: the size of the gradient reaching each encoder state (through the context, the scores, and earlier steps).",
                   row_svg("‖∂L/∂h‖", r.dencoder_norm, src, ColourScale::Sequential, "gradient norm per encoder state"));
    {
        viz::Matrix m;  // units down, source tokens across
        const std::size_t K = r.dencoder.empty() ? 0 : r.dencoder[0].size();
        std::vector<std::string> rows;
        for (std::size_t k = 0; k < K; ++k) {
            std::vector<double> row;
            for (const auto& s : r.dencoder) row.push_back(s[k]);
            m.push_back(row);
            rows.push_back(fmt::format("h[{}]", k));
        }
        viz::HeatmapOptions o;
        o.title = "dL/dh per encoder state and unit";
        o.scale = ColourScale::Diverging;
        o.cell_size = 12;
        o.font_size = 9;
        o.show_values = viz::HeatmapOptions::Values::Never;
        o.x_label = "source";
        o.y_label = "unit";
        html += figure("fig-dencoder", "∂L/∂h<sub>s</sub>, every unit of every encoder state.", viz::heatmap_svg(m, src, rows, o));
    }
    html += "</div>\n</div>\n";
    if (heads) {
        html += "<p>Derivation: docs/transformer.md and docs/backprop-through-attention.md.</p>\n</body></html>\n";
        return html;
    }
    // the identity check
    html += "<h2 id=\"identity\">Softmax-Jacobian identity, checked numerically</h2>\n";
    if (!r.identity_applies) {
        html += "<p>This model uses local-p attention, whose weights are a softmax multiplied by a Gaussian, so the plain identity does not apply; the table still lists both sides.</p>\n";
    }
    const bool ok = identity_holds(r.identity_max_error, r.dscores);
    html += fmt::format("<p>max<sub>j</sub> |∂L/∂e<sub>j</sub> (autograd) − α<sub>j</sub>(∂L/∂α<sub>j</sub> − Σ α<sub>k</sub> ∂L/∂α<sub>k</sub>)| = "
                        "<span class=\"{}\">{:.3g}</span></p>\n",
                        ok || !r.identity_applies ? "ok" : "bad", r.identity_max_error);
    html += "<table><tr><th>source token</th><th>α</th><th>∂L/∂α</th><th>∂L/∂e (autograd)</th><th>α(∂L/∂α − Σ α∂L/∂α)</th></tr>\n";
    for (std::size_t j = 0; j < src.size(); ++j)
        html += fmt::format("<tr><td>{}</td><td>{:.4f}</td><td>{:.4g}</td><td>{:.4g}</td><td>{:.4g}</td></tr>\n", esc(src[j]),
                            r.weights[j], r.dweights[j], r.dscores[j], r.identity_rhs[j]);
    html += "</table>\n<p>Derivation: docs/backprop-through-attention.md.</p>\n</body></html>\n";
    return html;
}

}  // namespace

void add_inspect(CLI::App& app) {
    auto* cmd = app.add_subcommand("inspect", "HTML page: forward and backward of one decoder step's attention");
    struct Opts {
        std::string model, out = "inspect.html", sentence;
        std::int64_t step = 0;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("--model", o->model, "Model folder")->required();
    cmd->add_option("--step", o->step, "Decoder step t (0-based)")->check(non_negative_integer());
    cmd->add_option("--out", o->out, "The HTML page to write");
    cmd->add_option("sentence", o->sentence, "The source sentence")->required();
    cmd->callback([o] {
        const models::Translator t = models::Translator::load(o->model);
        models::StepInspection r = models::inspect_step(t, o->sentence, o->step);
        write_file_atomic(o->out, page(r, o->sentence, o->model));
        double error = r.identity_max_error;
        if (!r.heads.empty()) {  // the largest over every head: the summary has no softmax of its own
            error = 0;
            for (const auto& h : r.heads) error = std::max(error, h.identity_max_error);
        }
        std::cout << fmt::format("step {} ('{}'): identity error {:.3g}{}; wrote {}\n", r.step, r.step_token, error,
                                 r.heads.empty() ? "" : fmt::format(" (largest of {} heads)", r.heads.size()), o->out);
    });
}

}  // namespace seqgrad::apps

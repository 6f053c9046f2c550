// Attention views shared by the subcommands (see apps/views.h).
#include "apps/views.h"

#include <filesystem>
#include <ostream>

#include <fmt/format.h>

#include "models/fileio.h"
#include "models/saliency.h"
#include "models/viz/terminal.h"

namespace seqgrad::apps {

viz::Matrix attention_matrix(const models::Translation& t) {
    viz::Matrix m;
    for (auto& row : t.attention) m.emplace_back(row.begin(), row.end());
    return m;
}
std::vector<std::string> output_labels(const models::Translation& t) {
    std::vector<std::string> rows = t.output_tokens;
    rows.push_back("<eos>");
    rows.resize(t.attention.size());
    return rows;
}

void print_attention(const models::Translation& t, std::ostream& out) {
    if (t.attention.empty()) {
        out << "(this model has no attention)\n";
        return;
    }
    out << viz::heatmap_terminal(attention_matrix(t), t.source_tokens, output_labels(t),
                                 {.color = viz::stdout_is_terminal(), .vmin = 0.0, .vmax = 1.0});
}

void write_attention_svg(const models::Translation& t, const std::string& path, const std::string& title) {
    if (t.attention.empty()) fail("--attention-svg: this model has no attention to draw");
    write_file_atomic(path, viz::heatmap_svg(attention_matrix(t), t.source_tokens, output_labels(t),
                                             {.title = title, .x_label = "source", .y_label = "output",
                                              .vmin = 0.0, .vmax = 1.0}));
}

namespace {

struct MapLabels {
    std::string heading, x_label, y_label;
    std::vector<std::string> columns, rows;
};

// What a map's rows and columns are, by kind (models/translation_model.h, AttentionMap).
MapLabels map_labels(const std::string& kind, const models::Translation& t) {
    const std::vector<std::string> outputs = output_labels(t);
    if (kind == "cross") return {"cross-attention (decoder → encoder)", "source", "output", t.source_tokens, outputs};
    if (kind == "encoder self")
        return {"encoder self-attention", "source (attended)", "source", t.source_tokens, t.source_tokens};
    std::vector<std::string> fed = {"<sos>"};
    fed.insert(fed.end(), t.output_tokens.begin(), t.output_tokens.end());
    fed.resize(outputs.size());
    return {"decoder self-attention (causal)", "target fed in", "output", fed, outputs};
}

viz::Matrix to_matrix(const std::vector<std::vector<float>>& rows) {
    viz::Matrix m;
    for (const auto& r : rows) m.emplace_back(r.begin(), r.end());
    return m;
}

}  // namespace

void print_attention(const models::Translator& translator, const models::Translation& t, std::ostream& out) {
    const std::vector<models::AttentionMap> maps = translator.attention_maps(t);
    if (maps.empty()) return print_attention(t, out);
    for (const auto& m : maps) {
        const MapLabels l = map_labels(m.kind, t);
        out << fmt::format("{}, layer {}, head {}:\n", l.heading, m.layer + 1, m.head + 1);
        out << viz::heatmap_terminal(to_matrix(m.weights), l.columns, l.rows,
                                     {.color = viz::stdout_is_terminal(), .vmin = 0.0, .vmax = 1.0});
    }
}

void write_attention_svg(const models::Translator& translator, const models::Translation& t, const std::string& path,
                         const std::string& title) {
    const std::vector<models::AttentionMap> maps = translator.attention_maps(t);
    if (maps.empty()) return write_attention_svg(t, path, title);
    std::vector<viz::FigureSection> sections;
    std::string kind;
    for (const auto& m : maps) {
        const MapLabels l = map_labels(m.kind, t);
        if (m.kind != kind) sections.push_back({l.heading, {}});
        kind = m.kind;
        auto& rows = sections.back().rows;
        if (m.head == 0) rows.emplace_back();
        rows.back().push_back(viz::heatmap_svg(to_matrix(m.weights), l.columns, l.rows,
                                               {.title = fmt::format("layer {}, head {}", m.layer + 1, m.head + 1),
                                                .x_label = l.x_label, .y_label = l.y_label, .vmin = 0.0, .vmax = 1.0}));
    }
    write_file_atomic(path, viz::figure_svg(sections, title));
}

void write_saliency_svg(const models::Translator& translator, const models::Translation& t, const std::string& path,
                        const std::string& title) {
    const models::TranslationSaliency s = models::translation_saliency(translator, t);
    std::vector<std::string> pictures;
    if (!t.attention.empty())
        pictures.push_back(viz::heatmap_svg(attention_matrix(t), s.source_tokens, s.output_tokens,
                                            {.title = "explicit: attention α", .x_label = "source", .y_label = "output",
                                             .vmin = 0.0, .vmax = 1.0}));
    pictures.push_back(viz::heatmap_svg(s.saliency, s.source_tokens, s.output_tokens,
                                        {.title = "implicit: ‖∂ log p(y_t)/∂e_s‖, row sums 1", .x_label = "source",
                                         .y_label = "output", .vmin = 0.0, .vmax = 1.0}));
    pictures.push_back(viz::heatmap_svg(s.gradient_x_input, s.source_tokens, s.output_tokens,
                                        {.title = "gradient × input e_s · ∂ log p(y_t)/∂e_s, row |sum| 1",
                                         .x_label = "source", .y_label = "output",
                                         .scale = viz::ColourScale::Diverging}));
    write_file_atomic(path, viz::figure_svg({{"what the output depends on: the Jacobian over the source embeddings", {pictures}}},
                                            title));
}

void check_output_file(const std::string& path, const std::string& flag) {
    namespace fs = std::filesystem;
    const fs::path folder = fs::path(path).parent_path();
    std::error_code ec;
    if (!folder.empty() && !fs::is_directory(folder, ec))
        fail<Error>("{} {}: the folder {} does not exist", flag, path, folder.string());
}

}  // namespace seqgrad::apps

// Attention views shared by the subcommands (see apps/views.h).
#include "apps/views.h"

#include <ostream>

#include "models/fileio.h"
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

}  // namespace seqgrad::apps

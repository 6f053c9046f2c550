// Showing a translation's attention: the terminal heatmap and the SVG file, shared by the
// translate, demo and experiment subcommands; and its implicit attention (saliency) as an SVG.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include "models/viz/svg.h"
#include "models/translator.h"

namespace seqgrad::apps {

viz::Matrix attention_matrix(const models::Translation& t);
// Output tokens plus <eos>, one per attention row.
std::vector<std::string> output_labels(const models::Translation& t);
void print_attention(const models::Translation& t, std::ostream& out);
void write_attention_svg(const models::Translation& t, const std::string& path, const std::string& title);
// The same for any architecture: a model with layers and heads (the Transformer) shows every map of
// translator.attention_maps — cross-attention per layer and head, then the encoder's and the
// decoder's self-attention — one terminal heatmap each, or one SVG figure with a grid per kind
// (rows = layers, columns = heads); a model with one attention shows it as above.
void print_attention(const models::Translator& translator, const models::Translation& t, std::ostream& out);
void write_attention_svg(const models::Translator& translator, const models::Translation& t, const std::string& path,
                         const std::string& title);

// Implicit attention (models/saliency.h) as one SVG figure, rows = output tokens (then <eos> when the
// translation ended), columns = source tokens: the explicit attention α when the model has one (the
// one map per step that decoding reports), then the saliency ‖∂ log p(y_t)/∂e_s‖ divided by its row
// sum (so both read on one 0..1 scale), then gradient × input divided by its row's sum of |values|.
void write_saliency_svg(const models::Translator& translator, const models::Translation& t, const std::string& path,
                        const std::string& title);

// The check a file flag makes before anything runs: the folder `path` is written into exists
// (`flag` names the option in the message).
void check_output_file(const std::string& path, const std::string& flag);

}  // namespace seqgrad::apps

// `seqgrad gradcheck [LAYER ...]`: the double-precision gradient check on every built-in layer (or
// the named ones), over the input and all parameters, printed as a table.
#include <functional>
#include <map>

#include "apps/commands.h"
#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/attention.h"
#include "layers/embedding.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/multihead_attention.h"
#include "layers/rnn.h"
#include "layers/rnn_cell.h"

namespace seqgrad::apps {

namespace {

struct Check {
    std::int64_t parameters = 0;
    GradcheckResult result;
};

Tensor input(const Shape& shape, Generator& gen) {
    return uniform(shape, -1, 1, {.dtype = DType::Float64, .requires_grad = true}, &gen);
}

// Runs gradcheck over `inputs` plus every parameter of `m`.
Check run(const nn::Module& m, std::vector<Tensor> inputs, const GradcheckFn& f) {
    for (auto& p : m.parameters()) inputs.push_back(p);
    return {m.num_parameters(), gradcheck(f, inputs)};
}

using Maker = std::function<Check()>;

// GCC 12 sees the vector's first emplace_back grow a zero-length buffer and warns that the pair is
// written out of bounds (a false positive of its -Warray-bounds in inlined libstdc++ code, GCC bug
// 105329); the registry is plain emplace_back calls.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
std::vector<std::pair<std::string, Maker>> registry() {
    std::vector<std::pair<std::string, Maker>> r;
    const auto f64 = DType::Float64;
    r.emplace_back("Linear", [=] {
        Generator g(1);
        nn::Linear m({.in_features = 3, .out_features = 4, .dtype = f64, .generator = &g});
        return run(m, {input({2, 3}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0]); });
    });
    r.emplace_back("Embedding", [=] {
        Generator g(2);
        nn::Embedding m({.num_embeddings = 5, .embedding_dim = 3, .dtype = f64, .generator = &g});
        const Tensor ids = Tensor::ids({1, 4, 4, 2}, {2, 2});
        return run(m, {}, [&](const std::vector<Tensor>&) { return m(ids); });
    });
    r.emplace_back("LayerNorm", [=] {
        Generator g(3);
        nn::LayerNorm m({.normalized_size = 4, .dtype = f64});
        return run(m, {input({2, 4}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0]); });
    });
    r.emplace_back("RNNCell", [=] {
        Generator g(4);
        nn::RNNCell m({.input_size = 3, .hidden_size = 2, .dtype = f64, .generator = &g});
        return run(m, {input({2, 3}, g), input({2, 2}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0], x[1]); });
    });
    r.emplace_back("GRUCell", [=] {
        Generator g(5);
        nn::GRUCell m({.input_size = 3, .hidden_size = 2, .dtype = f64, .generator = &g});
        return run(m, {input({2, 3}, g), input({2, 2}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0], x[1]); });
    });
    r.emplace_back("LSTMCell", [=] {
        Generator g(6);
        nn::LSTMCell m({.input_size = 3, .hidden_size = 2, .dtype = f64, .generator = &g});
        return run(m, {input({2, 3}, g), input({2, 2}, g), input({2, 2}, g)}, [&](const std::vector<Tensor>& x) {
            nn::LSTMState s = m(x[0], {x[1], x[2]});
            return cat({s.h, s.c}, 1);
        });
    });
    r.emplace_back("GRU", [=] {
        Generator g(7);
        nn::GRU m({.input_size = 3, .hidden_size = 2, .num_layers = 2, .bidirectional = true, .dtype = f64, .generator = &g});
        return run(m, {input({2, 3, 3}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0], Tensor(), {3, 2}).output; });
    });
    r.emplace_back("LSTM", [=] {
        Generator g(8);
        nn::LSTM m({.input_size = 3, .hidden_size = 2, .num_layers = 2, .bidirectional = true, .dtype = f64, .generator = &g});
        return run(m, {input({2, 3, 3}, g)}, [&](const std::vector<Tensor>& x) { return m(x[0], {}, {3, 2}).output; });
    });
    for (const std::string& kind : nn::attention_kind_names()) {
        r.emplace_back("Attention(" + kind + ")", [=] {
            Generator g(9);
            auto m = nn::make_attention({.kind = nn::parse_attention_kind(kind), .query_size = 3, .key_size = 3,
                                         .attention_size = 3, .window = 1, .max_source_len = 4, .dtype = f64,
                                         .generator = &g});
            const Tensor mask = Tensor::from({1, 1, 1, 1, 1, 1, 1, 0}, {2, 4}, {.dtype = f64});
            return run(*m, {input({2, 3}, g), input({2, 4, 3}, g)}, [&, m](const std::vector<Tensor>& x) {
                nn::AttentionOutput o = m->attend(x[0], x[1], x[1], mask, {.target_position = 1});
                return cat({o.context, o.weights}, 1);
            });
        });
    }
    r.emplace_back("MultiHeadAttention", [=] {
        Generator g(10);
        nn::MultiHeadAttention m({.embed_dim = 4, .num_heads = 2, .dtype = f64, .generator = &g});
        return run(m, {input({2, 3, 4}, g), input({2, 2, 4}, g)}, [&](const std::vector<Tensor>& x) {
            return m.forward(x[0], x[1], x[1]).output;
        });
    });
    return r;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic pop
#endif

}  // namespace

void add_gradcheck(CLI::App& app) {
    auto* cmd = app.add_subcommand("gradcheck", "Double-precision gradient check of every built-in layer (or the named ones)");
    auto layers = std::make_shared<std::vector<std::string>>();
    cmd->add_option("layers", *layers, "Layer names, e.g. GRU LSTMCell 'Attention(additive)'; none = all");
    cmd->callback([layers] {
        auto all = registry();
        std::vector<std::pair<std::string, Maker>> chosen;
        if (layers->empty()) chosen = all;
        for (const auto& name : *layers) {
            auto it = std::find_if(all.begin(), all.end(), [&](const auto& p) { return p.first == name; });
            if (it == all.end()) {
                std::vector<std::string> names;
                for (auto& p : all) names.push_back(p.first);
                fail("gradcheck: unknown layer '{}' (known: {})", name, fmt::join(names, ", "));
            }
            chosen.push_back(*it);
        }
        fmt::print("{:<24} {:>10} {:>14} {:>14}  {}\n", "layer", "params", "max abs err", "max rel err", "result");
        bool all_ok = true;
        for (auto& [name, make] : chosen) {
            Check c = make();
            all_ok = all_ok && c.result.ok;
            fmt::print("{:<24} {:>10} {:>14.3g} {:>14.3g}  {}\n", name, c.parameters, c.result.max_abs_error,
                       c.result.max_rel_error, c.result.ok ? "pass" : "FAIL");
            if (!c.result.ok) fmt::print("    {}\n", c.result.message);
        }
        if (!all_ok) set_exit_code(1);
    });
}

}  // namespace seqgrad::apps

// One test for every error of docs/errors.md that no other test reached: each call is made to fail on
// purpose and the exact exception type and a fragment of its message are checked. Grouped by module
// in the order of docs/errors.md; errors the other test files already cover are not repeated here.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/fused_ops.h"
#include "core/safetensors.h"
#include "helpers.h"
#include "model_helpers.h"
#include "layers/attention.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/hard_attention.h"
#include "layers/init.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/multihead_attention.h"
#include "layers/positional_encoding.h"
#include "layers/rnn.h"
#include "layers/rnn_cell.h"
#include "models/data/batching.h"
#include "models/bench.h"
#include "models/data/corpus.h"
#include "models/fileio.h"
#include "models/inspect.h"
#include "models/metrics.h"
#include "models/decoding.h"
#include "models/rnn/seq2seq.h"
#include "models/viz/svg.h"
#include "models/viz/terminal.h"
#include "models/data/toy_tasks.h"
#include "models/resume.h"
#include "models/trainer.h"
#include "models/translator.h"
#include "models/data/utf8.h"
#include "models/data/vocab.h"
#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/optimizer.h"
#include "optim/rmsprop.h"
#include "optim/scheduler.h"
#include "optim/sgd.h"

using namespace seqgrad;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using seqgrad::testing::TempDir;
using seqgrad::testing::train_quietly;

std::string write_corpus(const TempDir& dir, std::size_t n, const std::string& name = "corpus.tsv") {
    return seqgrad::testing::write_digit_corpus(dir / name, n, 3, 2, 4);
}

models::TrainOptions tiny(const std::string& data, const std::string& out) {
    return seqgrad::testing::small_run(data, out, 8, 8, 1, 5);
}

// Runs f with the file-size limit set to `bytes` (write() then fails with EFBIG, as on a full disk).
template <typename F>
void with_file_size_limit(rlim_t bytes, F f) {
    struct rlimit old {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old;
    small.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    try {
        f();
    } catch (...) {
        ::setrlimit(RLIMIT_FSIZE, &old);
        std::signal(SIGXFSZ, old_handler);
        throw;
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
}

// A module that registers what it is given, to reach Module's own checks.
struct Probe : nn::Module {
    std::string type_name() const override { return "Probe"; }
    void add(const std::string& name, const Tensor& t) { register_parameter(name, t); }
};

}  // namespace

// ---- core -------------------------------------------------------------------------------------------

TEST_CASE("errors: core tensor, autograd and indexing misuse", "[errors]") {
    CHECK_THROWS_MATCHES(ones({2}).register_hook([](const Tensor& g) { return g; }), Error,
                         Catch::Matchers::Message("register_hook: the tensor does not require grad"));

    Tensor x = ones({2, 3}, {.requires_grad = true});
    x.register_hook([](const Tensor&) { return ones({3}); });
    CHECK_THROWS_MATCHES(sum(mul(x, x)).backward(), ShapeError,
                         Catch::Matchers::Message("backward: a hook returned a gradient of shape [3] float32 for a "
                                                  "tensor of shape [2, 3] float32"));

    const Tensor s = Tensor::scalar(1.0);
    CHECK_THROWS_MATCHES(index_select(s, 0, Tensor::ids({0}, {1})), ShapeError,
                         Catch::Matchers::Message("index_select: cannot index a 0-d tensor (shape [])"));
    CHECK_THROWS_MATCHES(gather(s, 0, Tensor::ids({0}, {1})), ShapeError,
                         Catch::Matchers::Message("gather: cannot gather from a 0-d tensor (shape [])"));
    CHECK_THROWS_MATCHES(chunk(s, 2, 0), ShapeError, Catch::Matchers::Message("chunk: cannot chunk a 0-d tensor (shape [])"));
}

TEST_CASE("errors: fused cells and fused cross-entropy check their shapes", "[errors]") {
    const Tensor gx = zeros({2, 9}), h = zeros({2, 3}), w = zeros({9, 3}), b = zeros({9});
    CHECK_THROWS_WITH(gru_cell_fused(gx, zeros({2, 3, 1}), w, b), "gru_cell: h must be [B, H], got [2, 3, 1]");
    CHECK_THROWS_WITH(gru_cell_fused(gx, h, zeros({9, 4}), b), "gru_cell: weight_hh [9, 4] must be [9, 3]");
    CHECK_THROWS_WITH(gru_cell_fused(gx, h, w, zeros({8})), "gru_cell: bias_hh [8] must be [9]");
    CHECK_THROWS_AS(lstm_cell_fused(zeros({2, 12}), h, h, zeros({12, 3}), zeros({11})), ShapeError);

    const Tensor logits = zeros({4, 5});
    CHECK_THROWS_WITH(cross_entropy_fused(zeros({5}), Tensor::ids({1}, {1})),
                      "cross_entropy: logits must be [N, C], got [5]");
    CHECK_THROWS_WITH(cross_entropy_fused(logits, zeros({4})), "cross_entropy: target must be int64 class ids, got float32");
    CHECK_THROWS_AS(cross_entropy_fused(logits, Tensor::ids({1, 2}, {2})), ShapeError);
    CHECK_THROWS_WITH(cross_entropy_fused(logits, Tensor::ids({1, 2}, {2})),
                      "cross_entropy: target [2] must be [N] with N = 4 (logits [4, 5])");
}

TEST_CASE("errors: an allocation the system refuses is std::bad_alloc (the command line's internal error)", "[errors]") {
#if defined(__SANITIZE_ADDRESS__)
    SUCCEED("skipped under AddressSanitizer: its allocator aborts on an impossible size instead of returning null");
#else
    CHECK_THROWS_AS(Tensor::empty({std::int64_t{1} << 50}), std::bad_alloc);  // 4 PiB of float32
#endif
}

TEST_CASE("errors: a read error (EIO) is reported, not taken for an empty or short file", "[errors]") {
    // Reading /proc/self/mem at offset 0 fails with EIO: page 0 is never mapped.
    const std::string mem = "/proc/self/mem";
    REQUIRE(fs::exists(mem));
    CHECK_THROWS_MATCHES(data::read_file(mem, "vocab"), Error,
                         Catch::Matchers::Message("vocab: cannot read /proc/self/mem: Input/output error"));
    CHECK_THROWS_WITH(data::Vocab::load(mem), "vocab: cannot read /proc/self/mem: Input/output error");
    CHECK_THROWS_WITH(data::read_corpus_file(mem, data::WordTokenizer(), data::WordTokenizer()),
                      "corpus: cannot read /proc/self/mem: Input/output error");
    CHECK_THROWS_MATCHES(load_safetensors(mem), Error,
                         Catch::Matchers::Message("/proc/self/mem: read failed: Input/output error"));
    CHECK_THROWS_WITH(read_file(mem), "cannot read /proc/self/mem: Input/output error");
}

TEST_CASE("errors: core ops on 0-d tensors, scalar division and gradients reduced to a larger rank", "[errors]") {
    const Tensor s = Tensor::scalar(1.0);
    CHECK_THROWS_MATCHES(narrow(s, 0, 0, 1), ShapeError, Catch::Matchers::Message("narrow: cannot narrow a 0-d tensor (shape [])"));
    CHECK_THROWS_MATCHES(select(s, 0, 0), ShapeError, Catch::Matchers::Message("select: cannot select from a 0-d tensor (shape [])"));
    CHECK_THROWS_MATCHES(split(s, 1, 0), ShapeError, Catch::Matchers::Message("split: cannot split a 0-d tensor (shape [])"));
    CHECK_THROWS_MATCHES(cat({s, s}, 0), ShapeError,
                         Catch::Matchers::Message("cat: tensor 0 is 0-d (shape []) and has no dim to join along; use stack"));
    CHECK_THROWS_MATCHES(div(ones({2}), 0.0), ShapeError, Catch::Matchers::Message("div: division by the scalar 0"));
    CHECK_THROWS_MATCHES(sum_to(ones({3}), {2, 3}), ShapeError,
                         Catch::Matchers::Message("sum_to: cannot reduce [3] to the larger rank [2, 3]"));
}

TEST_CASE("errors: undefined tensors, backward from a non-scalar and in-place dtype changes", "[errors]") {
    CHECK_THROWS_MATCHES(Tensor().backward(), Error,
                         Catch::Matchers::Message("backward: the tensor is undefined (default-constructed or moved from)"));
    Tensor x = ones({2, 3}, {.requires_grad = true});
    CHECK_THROWS_MATCHES(mul(x, x).backward(), ShapeError,
                         Catch::Matchers::Message("backward: called without a gradient on a tensor of shape [2, 3]; only a "
                                                  "one-element tensor (a loss) can start backward on its own, pass "
                                                  "backward(grad) otherwise"));
    Tensor y = mul(x, x);
    CHECK_THROWS_MATCHES(y.convert_(DType::Float64), Error,
                         Catch::Matchers::Message("convert_: only leaf tensors can change dtype in place (this one comes "
                                                  "from 'mul')"));
    CHECK_THROWS_MATCHES(x.convert_(DType::Int64), ShapeError,
                         Catch::Matchers::Message("convert_: a tensor that requires grad must stay floating-point, not int64"));
}

TEST_CASE("errors: fused cells and fused cross-entropy, the remaining checks", "[errors]") {
    const Tensor h = zeros({2, 3});
    CHECK_THROWS_MATCHES(gru_cell_fused(zeros({2, 8}), h, zeros({9, 3}), zeros({9})), ShapeError,
                         Catch::Matchers::Message("gru_cell: gx [2, 8] must be [2, 9] for h [2, 3]"));
    CHECK_THROWS_MATCHES(lstm_cell_fused(zeros({2, 12}), h, zeros({2, 4}), zeros({12, 3}), zeros({12})), ShapeError,
                         Catch::Matchers::Message("lstm_cell: c [2, 4] must match h [2, 3]"));
    CHECK_THROWS_MATCHES(cross_entropy_fused(zeros({2, 5}), Tensor::ids({1, 5}, {2})), IndexError,
                         Catch::Matchers::Message("cross_entropy: target 5 at row 1 is out of range for 5 classes (logits [2, 5])"));
    CHECK_THROWS_MATCHES(masked_softmax_fused(Tensor::scalar(1.0), Tensor::scalar(1.0)), ShapeError,
                         Catch::Matchers::Message("masked_softmax: scores must have at least one dim, got a 0-d tensor"));
    CHECK_THROWS_MATCHES(attention_context_fused(zeros({2, 3}), zeros({2, 4, 5})), ShapeError,
                         Catch::Matchers::Message("attention_context: expects weights [B, S] and values [B, S, H]; got "
                                                  "weights [2, 3], values [2, 4, 5]"));
}

TEST_CASE("errors: checkpoint files that cannot be written name the file", "[errors]") {
    TempDir dir("checkpoint_write");
    const std::string missing_dir = dir / "no/such/folder/model.safetensors";
    CHECK_THROWS_AS(save_safetensors(missing_dir, {{"w", ones({2})}}), Error);
    CHECK_THROWS_WITH(save_safetensors(missing_dir, {{"w", ones({2})}}),
                      Catch::StartsWith("cannot write " + missing_dir + ": cannot create a temporary file in " +
                                        (dir / "no/such/folder")) &&
                          Contains(": No such file or directory"));
    const std::string path = dir / "model.safetensors";
    CHECK_THROWS_MATCHES(save_safetensors(path, {{"w", Tensor()}}), Error,
                         Catch::Matchers::Message(path + ": cannot save tensor 'w': it is undefined"));
    // A write the file-size limit stops (as a full disk would).
    std::string message;
    with_file_size_limit(64, [&] {
        try {
            save_safetensors(path, {{"w", zeros({1000})}});
        } catch (const Error& e) {
            message = e.what();
        }
    });
    CHECK(message == "cannot write " + path + ": write failed: File too large");
    CHECK_FALSE(fs::exists(path));  // nothing half-written is left in place
}

// ---- layers -----------------------------------------------------------------------------------------

TEST_CASE("errors: layer options are checked when the layer is built", "[errors]") {
    using nn::AttentionKind;
    CHECK_THROWS_WITH(nn::attention_kind_name(static_cast<AttentionKind>(99)), "attention: invalid AttentionKind value 99");
    CHECK_THROWS_WITH(nn::make_attention({.kind = static_cast<AttentionKind>(99), .query_size = 2, .key_size = 2}),
                      "make_attention: invalid AttentionKind value 99");
    CHECK_THROWS_WITH(nn::make_attention({.kind = AttentionKind::Dot, .query_size = 0, .key_size = 4}),
                      "dot attention: query_size and key_size must be positive, got query_size=0, key_size=4");
    CHECK_THROWS_WITH(nn::make_attention({.kind = AttentionKind::LocalP, .query_size = 4, .key_size = 4,
                                          .attention_size = 0, .window = 2}),
                      Contains("attention_size (the width of W_p) must be positive, got 0"));
    CHECK_THROWS_WITH(nn::make_attention({.kind = AttentionKind::Cosine, .query_size = 4, .key_size = 4, .temperature = 0}),
                      "cosine attention: temperature must be positive, got 0");

    CHECK_THROWS_MATCHES(nn::Embedding({.num_embeddings = 0, .embedding_dim = 4}), ShapeError,
                         Catch::Matchers::Message("Embedding: num_embeddings and embedding_dim must be positive, got 0 and 4"));
    CHECK_THROWS_MATCHES(nn::Embedding({.num_embeddings = 3, .embedding_dim = 4, .padding_idx = 3}), IndexError,
                         Catch::Matchers::Message("Embedding: padding_idx 3 out of range for 3 embeddings"));
    CHECK_THROWS_WITH(nn::LayerNorm({.normalized_size = 0}), "LayerNorm: normalized_size must be positive, got 0");
    CHECK_THROWS_WITH(nn::MultiHeadAttention({.embed_dim = 0, .num_heads = 2}),
                      "MultiHeadAttention: embed_dim and num_heads must be positive, got embed_dim=0, num_heads=2");
    CHECK_THROWS_WITH(nn::MultiHeadAttention({.embed_dim = 4, .num_heads = 2, .dropout = 1.0}),
                      "MultiHeadAttention: dropout must be in [0, 1), got 1");
    CHECK_THROWS_WITH(nn::PositionalEncoding({.d_model = 0}),
                      "PositionalEncoding: d_model and max_len must be positive, got d_model=0, max_len=5000");
    CHECK_THROWS_WITH(nn::PositionalEncoding({.d_model = 4, .dropout = -0.5}),
                      "PositionalEncoding: dropout must be in [0, 1), got -0.5");
    CHECK_THROWS_WITH(nn::GRUCell({.input_size = 2, .hidden_size = 3, .dtype = DType::Int64}),
                      "GRUCell: dtype must be float32 or float64, got int64");

    Tensor flat = zeros({4});
    CHECK_THROWS_WITH(nn::init::xavier_uniform_(flat), "xavier_uniform_: expects a 2-D weight [out, in], got [4]");

    Probe probe;
    CHECK_THROWS_WITH(probe.add("a.b", zeros({1})), "Probe: invalid name 'a.b' (names are non-empty and contain no '.')");
    CHECK_THROWS_WITH(probe.add("", zeros({1})), Contains("invalid name ''"));
    Tensor leaf = ones({2}, {.requires_grad = true});
    CHECK_THROWS_WITH(probe.add("w", mul(leaf, leaf)), "Probe: parameter 'w' must be a leaf tensor");
}

TEST_CASE("errors: attention inputs with bad values, no source positions or bad prepared keys", "[errors]") {
    auto att = nn::make_attention({.kind = nn::AttentionKind::Dot, .query_size = 3, .key_size = 3});
    const Tensor q = zeros({2, 3}), k = zeros({2, 4, 3});
    CHECK_THROWS_WITH(att->attend(q, k, zeros({2, 4}), Tensor()),
                      "dot attention: values must be [B, S, Hv], got values [2, 4] (keys [2, 4, 3])");
    CHECK_THROWS_WITH(att->attend(q, zeros({2, 0, 3}), zeros({2, 0, 3}), Tensor()),
                      "dot attention: no source positions: keys [2, 0, 3]");
    CHECK_THROWS_WITH(att->prepare(zeros({2, 4, 5})),
                      "dot attention: prepare: keys must be [B, S, Hk] = [B, S, 3], got [2, 4, 5]");
    CHECK_THROWS_WITH(nn::sampled_log_prob(zeros({2, 3}), ones({2, 3}), zeros({2})),
                      "sampled_log_prob: positions must be int64 [B] = [2] to match scores [2, 3], got float32 [2]");
}

TEST_CASE("errors: recurrent states with the wrong dtype name the state and both dtypes", "[errors]") {
    nn::GRUCell cell({.input_size = 2, .hidden_size = 3});
    CHECK_THROWS_WITH(cell.step(zeros({1, 2}), zeros({1, 3}, {.dtype = DType::Float64})),
                      "GRUCell: h is float64 but the parameters are float32");
    nn::GRU gru({.input_size = 2, .hidden_size = 3});
    CHECK_THROWS_WITH(gru.forward(zeros({1, 4, 2}), zeros({1, 1, 3}, {.dtype = DType::Float64})),
                      "GRU: initial h0 is float64 but the parameters are float32");
}

TEST_CASE("errors: Linear, LayerNorm, Embedding and Dropout options and inputs", "[errors]") {
    CHECK_THROWS_MATCHES(nn::Linear({.in_features = 0, .out_features = 3}), ShapeError,
                         Catch::Matchers::Message("Linear: in_features and out_features must be positive, got "
                                                  "in_features=0, out_features=3"));
    nn::Linear linear({.in_features = 4, .out_features = 3});
    CHECK_THROWS_MATCHES(linear.forward(zeros({2, 5})), ShapeError,
                         Catch::Matchers::Message("Linear: input [2, 5] must end in in_features = 4 (weight [3, 4])"));
    nn::LayerNorm norm({.normalized_size = 4});
    CHECK_THROWS_MATCHES(norm.forward(zeros({2, 5})), ShapeError,
                         Catch::Matchers::Message("LayerNorm: input [2, 5] must end in normalized_size = 4"));
    nn::Embedding emb({.num_embeddings = 5, .embedding_dim = 2});
    CHECK_THROWS_MATCHES(emb.forward(zeros({3})), ShapeError,
                         Catch::Matchers::Message("Embedding: ids must be int64 token ids, got float32 of shape [3]"));
    CHECK_THROWS_MATCHES(nn::Dropout({.p = 1.0}), ShapeError, Catch::Matchers::Message("Dropout: p must be in [0, 1), got 1"));
}

TEST_CASE("errors: recurrent layer options, states and lengths", "[errors]") {
    CHECK_THROWS_MATCHES(nn::GRUCell({.input_size = 0, .hidden_size = 3}), ShapeError,
                         Catch::Matchers::Message("GRUCell: input_size and hidden_size must be positive, got input_size=0, "
                                                  "hidden_size=3"));
    CHECK_THROWS_MATCHES(nn::LSTM({.input_size = 2, .hidden_size = 3, .num_layers = 0}), ShapeError,
                         Catch::Matchers::Message("LSTM: input_size, hidden_size and num_layers must be positive, got "
                                                  "input_size=2, hidden_size=3, num_layers=0"));
    CHECK_THROWS_MATCHES(nn::GRU({.input_size = 2, .hidden_size = 3, .dropout = 1.0}), ShapeError,
                         Catch::Matchers::Message("GRU: dropout must be in [0, 1), got 1"));

    nn::GRUCell cell({.input_size = 2, .hidden_size = 3});
    CHECK_THROWS_MATCHES(cell.step(zeros({1, 2}, {.dtype = DType::Float64}), zeros({1, 3})), ShapeError,
                         Catch::Matchers::Message("GRUCell: input is float64 but the parameters are float32 (convert with to())"));
    CHECK_THROWS_MATCHES(cell.step(zeros({2, 2}), zeros({1, 3})), ShapeError,
                         Catch::Matchers::Message("GRUCell: h must be [B, hidden_size] = [2, 3] for input [2, 2], got [1, 3]"));

    nn::GRU gru({.input_size = 2, .hidden_size = 3});
    CHECK_THROWS_MATCHES(gru.cell(1, 0), IndexError,
                         Catch::Matchers::Message("GRU: no cell for layer 1, direction 0 (num_layers = 1, num_directions = 1)"));
    CHECK_THROWS_MATCHES(gru.forward(zeros({2, 4, 2}), zeros({1, 3, 3})), ShapeError,
                         Catch::Matchers::Message("GRU: initial h0 must be [num_layers * num_directions, B, hidden_size] = "
                                                  "[1, 2, 3] for input [2, 4, 2], got [1, 3, 3]"));
    CHECK_THROWS_MATCHES(gru.forward(zeros({2, 4, 2}), Tensor(), {4}), ShapeError,
                         Catch::Matchers::Message("GRU: lengths has 1 entries but the batch has B = 2 sequences (input [2, 4, 2])"));
}

TEST_CASE("errors: attention inputs of the wrong shape, dtype or prepared keys, and local options", "[errors]") {
    auto att = nn::make_attention({.kind = nn::AttentionKind::General, .query_size = 3, .key_size = 4});
    const Tensor q = zeros({2, 3}), k = zeros({2, 5, 4});
    CHECK_THROWS_MATCHES(att->attend(zeros({2, 2}), k, k, Tensor()), ShapeError,
                         Catch::Matchers::Message("general attention: query must be [B, Hq] = [B, 3], got query [2, 2] (keys [2, 5, 4])"));
    CHECK_THROWS_MATCHES(att->attend(q, zeros({2, 5, 3}), k, Tensor()), ShapeError,
                         Catch::Matchers::Message("general attention: keys must be [B, S, Hk] = [B, S, 4], got keys [2, 5, 3] (query [2, 3])"));
    CHECK_THROWS_MATCHES(att->attend(zeros({3, 3}), k, k, Tensor()), ShapeError,
                         Catch::Matchers::Message("general attention: batch sizes differ: query [3, 3] vs keys [2, 5, 4] (3 != 2)"));
    CHECK_THROWS_MATCHES(att->attend(q, k, zeros({2, 4, 4}), Tensor()), ShapeError,
                         Catch::Matchers::Message("general attention: keys [2, 5, 4] and values [2, 4, 4] must agree in batch size and source length"));
    CHECK_THROWS_MATCHES(att->attend(q, k, k, ones({2, 4})), ShapeError,
                         Catch::Matchers::Message("general attention: mask must be [B, S] = [2, 5] to match keys [2, 5, 4], got mask [2, 4]"));
    const Tensor q64 = zeros({2, 3}, {.dtype = DType::Float64}), k64 = zeros({2, 5, 4}, {.dtype = DType::Float64});
    CHECK_THROWS_MATCHES(att->attend(q64, k64, k64, Tensor()), ShapeError,
                         Catch::Matchers::Message("general attention: the inputs are float64 but the parameters are float32 "
                                                  "(convert the layer with to())"));
    const nn::PreparedKeys prepared = att->prepare(k);
    const Tensor other = zeros({2, 5, 4});
    CHECK_THROWS_MATCHES(att->attend(q, other, other, Tensor(), {.prepared = &prepared}), ShapeError,
                         Catch::Matchers::Message("general attention: the prepared keys were made from other keys ([2, 5, 4]) "
                                                  "than the keys given ([2, 5, 4])"));

    CHECK_THROWS_MATCHES(nn::make_attention({.kind = nn::AttentionKind::LocalM, .query_size = 4, .key_size = 4, .window = 0}),
                         ShapeError, Catch::Matchers::Message("local-m attention: window (D) must be at least 1, got 0"));
    CHECK_THROWS_MATCHES(nn::make_attention({.kind = nn::AttentionKind::LocalM, .query_size = 4, .key_size = 4, .window = 2,
                                             .local_score = nn::AttentionKind::LocalP}),
                         ShapeError,
                         Catch::Matchers::Message("local-m attention: local_score must be a plain score (additive, dot, general, "
                                                  "...), got local-p"));
    CHECK_THROWS_MATCHES(nn::parse_attention_kind("bahdanau"), ShapeError,
                         Catch::Matchers::Message("attention: unknown attention kind 'bahdanau'; valid kinds: " +
                                                  fmt::format("{}", fmt::join(nn::attention_kind_names(), ", "))));
    CHECK(fmt::format("{}", fmt::join(nn::attention_kind_names(), ", ")).starts_with(
        "additive, dot, general, concat, location, scaled-dot, cosine, local-m, local-p"));
}

TEST_CASE("errors: multi-head attention inputs", "[errors]") {
    nn::MultiHeadAttention mha({.embed_dim = 4, .num_heads = 2});
    const Tensor q = zeros({2, 3, 4}), kv = zeros({2, 5, 4});
    CHECK_THROWS_MATCHES(mha.forward(q, zeros({2, 5, 3}), kv), ShapeError,
                         Catch::Matchers::Message("MultiHeadAttention: expects query [B, T, E], key and value [B, S, E] with "
                                                  "E = 4; got query [2, 3, 4], key [2, 5, 3], value [2, 5, 4]"));
    CHECK_THROWS_MATCHES(mha.forward(q, kv, zeros({2, 6, 4})), ShapeError,
                         Catch::Matchers::Message("MultiHeadAttention: query [2, 3, 4], key [2, 5, 4] and value [2, 6, 4] must "
                                                  "share the batch size, and key and value the length"));
}

TEST_CASE("errors: hard attention options, sampled positions and the REINFORCE surrogate", "[errors]") {
    const nn::AttentionOptions dot{.kind = nn::AttentionKind::Dot, .query_size = 3, .key_size = 3};
    nn::AttentionOptions local = dot;
    local.kind = nn::AttentionKind::LocalM;
    local.window = 1;
    CHECK_THROWS_MATCHES(nn::HardAttention({.score = local}), ShapeError,
                         Catch::Matchers::Message("hard attention (local-m score): the wrapped score must be a plain score (additive, "
                                                  "dot, general, concat, location, scaled-dot, cosine), got local-m"));
    CHECK_THROWS_MATCHES(nn::HardAttention({.score = dot, .baseline_decay = 1.0}), ShapeError,
                         Catch::Matchers::Message("hard attention (dot score): baseline_decay must be in [0, 1), got 1"));

    const Tensor scores = zeros({2, 3}), keep = Tensor::from({1, 1, 1, 1, 1, 0}, {2, 3});
    CHECK_THROWS_MATCHES(nn::sampled_log_prob(scores, zeros({2, 2}), Tensor::ids({0, 0}, {2})), ShapeError,
                         Catch::Matchers::Message("sampled_log_prob: scores and keep must both be [B, S], got scores [2, 3] vs keep [2, 2]"));
    CHECK_THROWS_MATCHES(nn::sampled_log_prob(scores, keep, Tensor::ids({0, 3}, {2})), IndexError,
                         Catch::Matchers::Message("sampled_log_prob: row 1 picks position 3 outside [0, 3) (scores [2, 3])"));
    CHECK_THROWS_MATCHES(nn::sampled_log_prob(scores, keep, Tensor::ids({0, 2}, {2})), IndexError,
                         Catch::Matchers::Message("sampled_log_prob: row 1 picks position 2, which is padding (keep is 0 there)"));

    nn::HardAttention hard({.score = dot, .seed = 1});
    CHECK_THROWS_MATCHES(hard.reinforce_surrogate(zeros({2})), Error,
                         Catch::Matchers::Message("hard attention (dot score): reinforce_surrogate: no sampled steps are recorded; "
                                                  "call attend() in training mode with grad mode on first (eval mode and "
                                                  "NoGradGuard record nothing)"));
    hard.train(true);
    hard.attend(zeros({2, 3}), zeros({2, 4, 3}), zeros({2, 4, 3}), Tensor());
    CHECK_THROWS_MATCHES(hard.reinforce_surrogate(zeros({2}), {.step_mask = ones({2, 2})}), ShapeError,
                         Catch::Matchers::Message("hard attention (dot score): reinforce_surrogate: step_mask must be [B, T] = [2, 1] "
                                                  "(the recorded steps), got [2, 2]"));
}

// ---- optim ------------------------------------------------------------------------------------------

TEST_CASE("errors: optimizer groups, group indices and state dicts", "[errors]") {
    Tensor p = ones({2}, {.requires_grad = true});
    CHECK_THROWS_WITH(optim::Adam(std::vector<optim::ParamGroup>{}), "Adam: got no parameter groups");
    CHECK_THROWS_WITH(optim::Adam(std::vector<optim::ParamGroup>{{.params = {p}, .weight_decay = -1.0}}),
                      "Adam: param group 0: weight_decay must be >= 0, got -1");
    optim::Adam adam({p});
    CHECK_THROWS_MATCHES(adam.set_lr(3, 0.1), IndexError, Catch::Matchers::Message("Adam: set_lr: group 3 out of range (1 groups)"));
    CHECK_THROWS_MATCHES(adam.weight_decay(2), IndexError,
                         Catch::Matchers::Message("Adam: weight_decay: group 2 out of range (1 groups)"));

    sum(mul(p, p)).backward();
    adam.step();
    const auto good = adam.state_dict();
    auto with = [&](const std::string& key, double v) {
        auto s = good;
        s[key] = Tensor::scalar(v, DType::Float64);
        return s;
    };
    CHECK_THROWS_WITH(adam.load_state_dict(with("state.0.step", 0)),
                      "Adam: load_state_dict: 'state.0.step' is 0 but the parameter has state");
    CHECK_THROWS_WITH(adam.load_state_dict(with("group.0.lr", -1)), "Adam: load_state_dict: 'group.0.lr' must be >= 0, got -1");
    CHECK_THROWS_WITH(adam.load_state_dict(with("group.0.weight_decay", -2)),
                      "Adam: load_state_dict: 'group.0.weight_decay' must be >= 0, got -2");
    // Nothing was applied by the failed loads.
    CHECK(adam.state_dict().at("group.0.lr").item() == good.at("group.0.lr").item());

    CHECK_THROWS_WITH(optim::scalar_of(good, "nope"), "state dict: missing entry 'nope'");
    CHECK_THROWS_WITH(optim::scalar_of({{"v", zeros({2})}}, "v"), "state dict: entry 'v' should hold one number, got [2]");
}

TEST_CASE("errors: scheduler state dicts and a NaN metric", "[errors]") {
    Tensor p = ones({2}, {.requires_grad = true});
    optim::Adam adam({p});
    optim::StepLR step_lr(adam, {.step_size = 2, .gamma = 0.5});
    auto state = step_lr.state_dict();
    state["base_lrs.0"] = Tensor::scalar(-1.0, DType::Float64);
    CHECK_THROWS_WITH(step_lr.load_state_dict(state),
                      Contains("load_state_dict: group 0 learning rates must be >= 0, got base -1 and last"));

    optim::ReduceLROnPlateau plateau(adam);
    CHECK_THROWS_MATCHES(plateau.step(kNaN), Error, Catch::Matchers::Message("ReduceLROnPlateau: step(metric) got NaN"));
    auto ps = plateau.state_dict();
    ps["best"] = Tensor::scalar(kNaN, DType::Float64);
    CHECK_THROWS_WITH(plateau.load_state_dict(ps), "ReduceLROnPlateau: load_state_dict: 'best' is NaN");
}

TEST_CASE("errors: optimizer options out of range name the optimizer, the option and the value", "[errors]") {
    Tensor p = ones({2}, {.requires_grad = true});
    using Catch::Matchers::Message;
    CHECK_THROWS_MATCHES(optim::SGD({p}, {.lr = -1.0}), ShapeError, Message("SGD: lr must be >= 0, got -1"));
    CHECK_THROWS_MATCHES(optim::SGD({p}, {.momentum = -0.5}), ShapeError, Message("SGD: momentum must be >= 0, got -0.5"));
    CHECK_THROWS_MATCHES(optim::SGD({p}, {.dampening = -0.5}), ShapeError, Message("SGD: dampening must be >= 0, got -0.5"));
    CHECK_THROWS_MATCHES(optim::SGD({p}, {.nesterov = true}), ShapeError,
                         Message("SGD: momentum must be > 0 with nesterov, got 0"));
    CHECK_THROWS_MATCHES(optim::SGD({p}, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}), ShapeError,
                         Message("SGD: dampening must be 0 with nesterov, got 0.1"));
    CHECK_THROWS_MATCHES(optim::Adam({p}, {.betas = {1.0, 0.999}}), ShapeError, Message("Adam: betas[0] must be in [0, 1), got 1"));
    CHECK_THROWS_MATCHES(optim::Adam({p}, {.betas = {0.9, -0.1}}), ShapeError, Message("Adam: betas[1] must be in [0, 1), got -0.1"));
    CHECK_THROWS_MATCHES(optim::Adam({p}, {.eps = -1.0}), ShapeError, Message("Adam: eps must be >= 0, got -1"));
    CHECK_THROWS_MATCHES(optim::RMSprop({p}, {.alpha = 2.0}), ShapeError, Message("RMSprop: alpha must be in [0, 1], got 2"));
    CHECK_THROWS_MATCHES(optim::RMSprop({p}, {.momentum = -1.0}), ShapeError, Message("RMSprop: momentum must be >= 0, got -1"));
    CHECK_THROWS_MATCHES(optim::Adagrad({p}, {.lr_decay = -1.0}), ShapeError, Message("Adagrad: lr_decay must be >= 0, got -1"));

    CHECK_THROWS_MATCHES(optim::Adam(std::vector<optim::ParamGroup>{{.params = {}}}), ShapeError,
                         Message("Adam: got an empty parameter list"));
    CHECK_THROWS_MATCHES(optim::Adam(std::vector<optim::ParamGroup>{{.params = {p}, .lr = -0.5}}), ShapeError,
                         Message("Adam: param group 0: lr must be >= 0, got -0.5"));
    CHECK_THROWS_MATCHES(optim::Adam({Tensor::ids({1, 2}, {2})}), ShapeError,
                         Message("Adam: param group 0: parameter 0 [2] is int64, expected float32 or float64"));
    Tensor leaf = ones({2}, {.requires_grad = true});
    CHECK_THROWS_MATCHES(optim::Adam({mul(leaf, leaf)}), ShapeError,
                         Message("Adam: param group 0: parameter 0 [2] is not a leaf (it comes from 'mul'); optimize the "
                                 "tensor it was computed from"));

    optim::Adam adam({p});
    auto state = adam.state_dict();
    state["step"] = Tensor::scalar(1.5, DType::Float64);
    CHECK_THROWS_MATCHES(adam.load_state_dict(state), ShapeError,
                         Message("Adam: load_state_dict: 'step' must be a non-negative whole number, got 1.5"));
}

TEST_CASE("errors: scheduler options out of range name the scheduler, the option and the value", "[errors]") {
    Tensor p = ones({2}, {.requires_grad = true});
    optim::SGD sgd({p}, {.lr = 0.1});
    using Catch::Matchers::Message;
    CHECK_THROWS_MATCHES(optim::StepLR(sgd, {.step_size = 0}), ShapeError, Message("StepLR: step_size must be >= 1, got 0"));
    CHECK_THROWS_MATCHES(optim::ExponentialLR(sgd, {.gamma = 0.0}), ShapeError, Message("ExponentialLR: gamma must be > 0, got 0"));
    CHECK_THROWS_MATCHES(optim::CosineAnnealingLR(sgd, {.T_max = 0}), ShapeError,
                         Message("CosineAnnealingLR: T_max must be >= 1, got 0"));
    CHECK_THROWS_MATCHES(optim::CosineAnnealingLR(sgd, {.T_max = 5, .eta_min = -1.0}), ShapeError,
                         Message("CosineAnnealingLR: eta_min must be >= 0, got -1"));
    CHECK_THROWS_MATCHES(optim::NoamLR(sgd, {.d_model = 0}), ShapeError, Message("NoamLR: d_model must be >= 1, got 0"));
    CHECK_THROWS_MATCHES(optim::NoamLR(sgd, {.factor = 0.0}), ShapeError, Message("NoamLR: factor must be > 0, got 0"));
    auto plateau = [&](auto change) {
        optim::ReduceLROnPlateauOptions o;
        change(o);
        return optim::ReduceLROnPlateau(sgd, o);
    };
    CHECK_THROWS_MATCHES(plateau([](auto& o) { o.factor = 1.0; }), ShapeError,
                         Message("ReduceLROnPlateau: factor must be in (0, 1), got 1"));
    CHECK_THROWS_MATCHES(plateau([](auto& o) { o.patience = -1; }), ShapeError,
                         Message("ReduceLROnPlateau: patience must be >= 0, got -1"));
    CHECK_THROWS_MATCHES(plateau([](auto& o) { o.threshold = -1.0; }), ShapeError,
                         Message("ReduceLROnPlateau: threshold must be >= 0, got -1"));
    CHECK_THROWS_MATCHES(plateau([](auto& o) { o.cooldown = -1; }), ShapeError,
                         Message("ReduceLROnPlateau: cooldown must be >= 0, got -1"));
    CHECK_THROWS_MATCHES(plateau([](auto& o) { o.min_lr = -1.0; }), ShapeError,
                         Message("ReduceLROnPlateau: min_lr must be >= 0, got -1"));
    CHECK_THROWS_MATCHES(plateau([](auto& o) { o.eps = -1.0; }), ShapeError, Message("ReduceLROnPlateau: eps must be >= 0, got -1"));
}

// ---- models: text, files, pictures --------------------------------------------------------------------

TEST_CASE("errors: corpus streams, split files, UTF-8 decoding and toy tasks", "[errors]") {
    std::istream broken(nullptr);  // no buffer: the stream is bad from the start
    CHECK_THROWS_MATCHES(data::read_corpus_stream(broken, data::WordTokenizer(), data::WordTokenizer(), {}, "pipe"), Error,
                         Catch::Matchers::Message("pipe: read error while reading the corpus stream"));

    auto split = nlohmann::json::parse(data::split_to_json(data::split_corpus(4, 1)));
    auto with = [&](const char* key, nlohmann::json v) {
        auto j = split;
        j[key] = v;
        return j.dump();
    };
    CHECK_THROWS_WITH(data::split_from_json(with("seed", -3), "s.json"),
                      "split s.json: \"seed\" must be a non-negative integer, got -3");
    CHECK_THROWS_WITH(data::split_from_json(with("valid_fraction", "a tenth"), "s.json"),
                      "split s.json: \"valid_fraction\" must be a number");

    std::size_t pos = 3;
    CHECK_THROWS_MATCHES(data::utf8::decode_next("abc", pos), IndexError,
                         Catch::Matchers::Message("utf8::decode_next: offset 3 is at or past the end (3 bytes)"));

    data::ToyTaskOptions no_alphabet;
    no_alphabet.alphabet = "";
    CHECK_THROWS_MATCHES(data::generate_task("copy", 1, 5, no_alphabet), Error,
                         Catch::Matchers::Message("generate_task copy: the alphabet is empty"));
}

TEST_CASE("errors: file writes that cannot happen name the path and the reason", "[errors]") {
    TempDir dir("files");
    CHECK_THROWS_MATCHES(write_file_atomic("", "x"), Error, Catch::Matchers::Message("cannot write an empty path"));
    CHECK_THROWS_MATCHES(write_file_atomic(dir / "sub/", "x"), Error,
                         Catch::Matchers::Message("cannot write " + (dir / "sub/") + ": Is a directory"));

    // data::write_file_atomic (vocabularies, splits): a failing write and a failing rename.
    const std::string vocab_path = dir / "vocab.json";
    data::Vocab().save(vocab_path);
    const std::string before = read_file(vocab_path);
    std::vector<std::vector<std::string>> many(1, std::vector<std::string>());
    for (int i = 0; i < 200; ++i) many[0].push_back(fmt::format("token{}", i));
    const data::Vocab big = data::Vocab::build(many);
    std::string message;
    with_file_size_limit(64, [&] {
        try {
            big.save(vocab_path);
        } catch (const Error& e) {
            message = e.what();
        }
    });
    CHECK_THAT(message, Catch::StartsWith("vocab: cannot write " + vocab_path + ": write failed: File too large"));
    CHECK(read_file(vocab_path) == before);  // the old file is untouched
    fs::create_directories(dir / "a_directory/inside");
    CHECK_THROWS_WITH(big.save(dir / "a_directory"),
                      Catch::StartsWith("vocab: cannot write " + (dir / "a_directory") + ": rename failed: Is a directory"));
}

TEST_CASE("errors: SVG pictures with unusable ranges, sizes or points", "[errors]") {
    const viz::Matrix m = {{0.0, 1.0}, {2.0, 3.0}};
    const std::vector<std::string> cols = {"a", "b"}, rows = {"x", "y"};
    CHECK_THROWS_WITH(viz::heatmap_svg(m, cols, rows, {.title = {}, .x_label = {}, .y_label = {}, .vmin = -kInf, .vmax = 1.0}), "heatmap_svg: vmin and vmax must be finite");
    CHECK_THROWS_WITH(viz::heatmap_svg(m, cols, rows, {.title = {}, .x_label = {}, .y_label = {}, .cell_size = 0}),
                      "heatmap_svg: cell_size and font_size must be positive, got 0 and 12");
    CHECK_THROWS_WITH(viz::nice_ticks(kNaN, 1.0), "nice_ticks: range must be finite, got [nan, 1]");
    viz::SvgWriter w(10, 10);
    w.close();  // the <svg> element the constructor opened
    CHECK_THROWS_MATCHES(w.close(), Error, Catch::Matchers::Message("SvgWriter::close: no open element"));

    const viz::Series s{"loss", {0.0, 1.0}, {1.0, 2.0}};
    CHECK_THROWS_WITH(viz::line_plot_svg({s}, {.title = {}, .x_label = {}, .y_label = {}, .log_x = true}),
                      "line_plot_svg: log-scale x needs values > 0; series 'loss' has x[0] = 0");
    CHECK_THROWS_WITH(viz::line_plot_svg({s}, {.title = {}, .x_label = {}, .y_label = {}, .x_min = kInf}), "line_plot_svg: x_min = inf is not usable");
    CHECK_THROWS_WITH(viz::line_plot_svg({{"nan", {kNaN}, {1.0}}}),
                      "line_plot_svg: no finite (x, y) point in 1 series; nothing to scale the axes to");
}

TEST_CASE("errors: batching, splitting, metrics and progress bars refuse empty or impossible input", "[errors]") {
    using Catch::Matchers::Message;
    const std::vector<data::EncodedPair> pairs = {{{4, 5}, {6}}, {{}, {6}}};
    CHECK_THROWS_MATCHES(data::make_batch(pairs, {}), ShapeError,
                         Message("make_batch: no indices (a batch needs at least one pair)"));
    CHECK_THROWS_MATCHES(data::make_batch(pairs, {1}), ShapeError, Message("batching: pair 1 has an empty source"));
    CHECK_THROWS_MATCHES(data::Batcher({}, {}), ShapeError, Message("Batcher: no pairs to batch"));
    const std::vector<data::EncodedPair> good = {pairs[0]};
    CHECK_THROWS_MATCHES(data::Batcher(good, {.batch_size = 0}), ShapeError, Message("Batcher: batch_size must be positive"));
    CHECK_THROWS_MATCHES(data::Batcher(good, {.bucket = true, .bucket_chunk = 0}), ShapeError,
                         Message("Batcher: bucket_chunk must be positive when bucketing"));

    data::SplitMix64 rng(1);
    CHECK_THROWS_MATCHES(rng.below(0), ShapeError, Message("SplitMix64::below: n must be positive"));
    CHECK_THROWS_MATCHES(data::split_corpus(10, 1, 0.9, 0.2), ShapeError,
                         Message("split_corpus: fractions must lie in [0, 1] with train + valid <= 1, got train 0.9 valid 0.2"));
    auto split = nlohmann::json::parse(data::split_to_json(data::split_corpus(4, 1)));
    auto without_n = split;
    without_n.erase("n");
    CHECK_THROWS_MATCHES(data::split_from_json(without_n.dump(), "s.json"), Error, Message("split s.json: missing \"n\""));
    auto negative = split;
    negative["test"] = nlohmann::json::array({-1});
    CHECK_THROWS_MATCHES(data::split_from_json(negative.dump(), "s.json"), Error,
                         Message("split s.json: test[0] is -1, expected a non-negative integer"));

    CHECK_THROWS_MATCHES(metrics::perplexity(1.0, 0), ShapeError, Message("perplexity: needs at least one token, got 0"));
    std::ostringstream sink;
    CHECK_THROWS_MATCHES(viz::ProgressBar(0, "epoch", sink), ShapeError, Message("ProgressBar: total steps must be positive, got 0"));
}

TEST_CASE("errors: toy task options, date formats, shipped corpora, code points and vocabularies", "[errors]") {
    using Catch::Matchers::Message;
    data::ToyTaskOptions o;
    o.min_len = 5;
    o.max_len = 3;
    CHECK_THROWS_MATCHES(data::generate_task("reverse", 1, 5, o), Error,
                         Message("generate_task reverse: need 1 <= min_len <= max_len, got min_len 5 max_len 3"));
    data::ToyTaskOptions tab;
    tab.alphabet = "ab\t";
    CHECK_THROWS_MATCHES(data::generate_task("copy", 1, 5, tab), Error,
                         Message("generate_task copy: alphabet symbol 0x09 is not a printable ASCII word character"));
    data::ToyTaskOptions twice;
    twice.alphabet = "abca";
    CHECK_THROWS_MATCHES(data::generate_task("copy", 1, 5, twice), Error,
                         Message("generate_task copy: the alphabet \"abca\" repeats a symbol"));
    data::ToyTaskOptions short_enfr;
    short_enfr.max_words = 2;
    CHECK_THROWS_MATCHES(data::generate_task("enfr", 1, 5, short_enfr), Error,
                         Message("generate_task enfr: max_words must be at least 3, got 2"));
    CHECK_THROWS_MATCHES(data::dates::format_date({1998, 5, 9}, data::dates::num_formats()), IndexError,
                         Message(fmt::format("dates::format_date: format {} is out of range (0..{})", data::dates::num_formats(),
                                             data::dates::num_formats() - 1)));
    CHECK_THROWS_MATCHES(data::shipped_corpus("nope"), Error,
                         Message("shipped_corpus: no shipped corpus for task \"nope\": valid tasks are dates, enfr, reverse, copy"));

    CHECK_THROWS_MATCHES(data::utf8::encode(0xD800), Error, Message("utf8::encode: UTF-16 surrogate U+D800 cannot be encoded"));
    CHECK_THROWS_MATCHES(data::Vocab({"<pad>", "<sos>"}, "v.json"), Error,
                         Message("vocab v.json: only 2 tokens, but the four specials \"<pad>\", \"<sos>\", \"<eos>\", \"<unk>\" "
                                 "come first"));
    CHECK_THROWS_MATCHES(data::Vocab::build({{"a"}}, {.max_size = 3}), ShapeError,
                         Message("Vocab::build: max_size 3 leaves no room for the 4 specials (use 0 for no limit)"));
}

TEST_CASE("errors: heatmaps with a ragged matrix or an empty colour range", "[errors]") {
    using Catch::Matchers::Message;
    const std::vector<std::string> cols = {"a", "b"}, rows = {"x", "y"};
    CHECK_THROWS_MATCHES(viz::heatmap_svg({{0.0, 1.0}, {2.0}}, cols, rows), ShapeError,
                         Message("heatmap_svg: ragged matrix: row 1 has 1 values but row 0 has 2"));
    CHECK_THROWS_MATCHES(viz::heatmap_svg({{0.0, 1.0}, {2.0, 3.0}}, cols, rows, {.title = {}, .x_label = {}, .y_label = {}, .vmin = 1.0, .vmax = 1.0}), ShapeError,
                         Message("heatmap_svg: vmin must be below vmax, got vmin 1 and vmax 1"));
}

// ---- models: the translator, training, evaluation --------------------------------------------------

TEST_CASE("errors: model configs and Seq2Seq inputs", "[errors]") {
    CHECK_THROWS_WITH(models::parse_cell_kind("rnn"), "unknown cell 'rnn' (valid: gru, lstm)");
    models::Seq2SeqConfig c;
    c.src_vocab = 10;
    c.tgt_vocab = 10;
    c.embed_size = 4;
    c.hidden_size = 4;
    auto invalid = [&](auto change) {
        models::Seq2SeqConfig d = c;
        change(d);
        return d;
    };
    CHECK_THROWS_WITH(invalid([](auto& d) { d.num_layers = 0; }).validate(), "Seq2Seq config: num_layers must be positive, got 0");
    CHECK_THROWS_WITH(invalid([](auto& d) { d.attention_size = -1; }).validate(),
                      "Seq2Seq config: attention_size must be >= 0, got -1");
    CHECK_THROWS_WITH(invalid([](auto& d) { d.dropout = 1.0; }).validate(), "Seq2Seq config: dropout must be in [0, 1), got 1");
    CHECK_THROWS_WITH(invalid([](auto& d) { d.attention = "none"; d.input_feeding = true; }).validate(),
                      "Seq2Seq config: input_feeding needs an attention (attention is none)");

    // from_json wraps each kind of problem into one seqgrad::Error naming the file.
    nlohmann::json j = nlohmann::json::parse(c.to_json());
    auto from = [&](const char* key, nlohmann::json v) {
        auto k = j;
        k[key] = v;
        return models::Seq2SeqConfig::from_json(k.dump(), "m.json");
    };
    CHECK_THROWS_AS(models::Seq2SeqConfig::from_json("{", "m.json"), Error);
    CHECK_THROWS_WITH(models::Seq2SeqConfig::from_json("{", "m.json"), Catch::StartsWith("m.json: not valid JSON"));
    CHECK_THROWS_AS(from("bidirectional", "yes"), Error);
    CHECK_THROWS_WITH(from("bidirectional", "yes"), Catch::StartsWith("m.json: bad model config: [json.exception.type_error"));
    CHECK_THROWS_MATCHES(from("cell", "rnn"), Error, Catch::Matchers::Message("m.json: bad model config: unknown cell 'rnn' (valid: gru, lstm)"));
    CHECK_THROWS_MATCHES(from("hidden_size", 0), Error,
                         Catch::Matchers::Message("m.json: Seq2Seq config: hidden_size must be positive, got 0"));

    Generator gen(1);
    models::Seq2Seq model(c, &gen);
    CHECK_THROWS_WITH(model.encoder->forward(Tensor::ids({4, 5}, {2}), {2}), "Encoder: src must be [B, S] token ids, got [2]");
    const Tensor src = Tensor::ids({4, 5, 6, 7}, {2, 2}), tgt = Tensor::ids({1, 4, 1, 5}, {2, 2});
    CHECK_THROWS_WITH(model.loss(zeros({2, 2}), {2, 2}, tgt, tgt), "Seq2Seq: src must be int64 [B, S], got float32 [2, 2]");
    CHECK_THROWS_WITH(model.loss(src, {2, 2}, tgt, Tensor::ids({4, 2}, {1, 2})),
                      "Seq2Seq: tgt_in [2, 2] and tgt_out [1, 2] must both be [B, T] with B = 2 (src [2, 2])");
    CHECK_THROWS_WITH(model.loss(src, {2}, tgt, tgt), "Seq2Seq: 1 source lengths for a batch of 2");
    CHECK_THROWS_WITH(model.loss(src, {2, 3}, tgt, tgt), "Seq2Seq: source length 3 out of range 1..2 (src [2, 2])");
    CHECK_THROWS_WITH(models::greedy_batch(model, {{4, 5}, {}}, 5), "greedy: source sentence 1 is empty");
    CHECK_THROWS_WITH(models::beam_search(model, {4, 5}, 0, 5), "beam_search: beam size must be at least 1, got 0");
    CHECK_THROWS_WITH(models::beam_search(model, {}, 2, 5), "beam_search: the source sentence is empty");
}

TEST_CASE("errors: training options and data that cannot train", "[errors]") {
    TempDir dir("train");
    const std::string data = write_corpus(dir, 60);
    auto with = [&](auto change) {
        auto o = tiny(data, dir / "out");
        change(o);
        return o;
    };
    CHECK_THROWS_WITH(train_quietly(with([](auto& o) { o.out_dir.clear(); })), "train: --out DIR is required");
    CHECK_THROWS_WITH(train_quietly(with([](auto& o) { o.batch_size = 0; })), "train: --batch must be at least 1, got 0");
    CHECK_THROWS_WITH(train_quietly(with([](auto& o) { o.epochs = 0; })), "train: --epochs must be at least 1, got 0");
    CHECK_THROWS_WITH(train_quietly(with([](auto& o) { o.lr = 0; })), "train: --lr must be positive, got 0");
    CHECK_THROWS_WITH(train_quietly(with([](auto& o) { o.teacher_forcing = 1.5; })),
                      "train: --teacher-forcing must be in [0, 1], got 1.5");
    CHECK_THROWS_WITH(train_quietly(with([](auto& o) { o.clip = -1; })), "train: --clip must be >= 0, got -1");
    CHECK_THROWS_WITH(train_quietly(with([](auto& o) { o.optimizer = "lion"; })),
                      "unknown optimizer 'lion' (valid: adam, adamw, sgd, rmsprop, adagrad)");
    CHECK_THROWS_WITH(train_quietly(with([](auto& o) { o.schedule = "triangle"; })),
                      "unknown schedule 'triangle' (valid: none, step, exponential, cosine, plateau, noam)");
    CHECK_THROWS_WITH(train_quietly(with([](auto& o) { o.schedule = "plateau"; o.warmup_steps = 5; })),
                      "--warmup cannot be combined with --schedule plateau");
    CHECK_THROWS_MATCHES(train_quietly(with([](auto& o) { o.max_pairs = 2; })), Error,
                         Catch::Matchers::Message("train: " + data +
                                                  " has only 2 usable sentence pairs; at least 3 are needed for "
                                                  "train/valid/test"));
    CHECK_THROWS_MATCHES(train_quietly(with([](auto& o) { o.max_pairs = 4; })), Error,
                         Catch::Matchers::Message("train: the validation split of 4 sentence pairs is empty (10% of "
                                                  "them rounds to none); use a corpus of at least 5 pairs (a larger "
                                                  "--max-pairs or --max-len)"));
}

TEST_CASE("errors: resuming a damaged or changed run", "[errors]") {
    TempDir dir("resume");
    const std::string data = write_corpus(dir, 60);
    const std::string out = dir / "run";
    train_quietly(tiny(data, out));
    auto resume = tiny(data, out);
    resume.resume = true;
    resume.epochs = 2;

    // Another corpus than the run was split over.
    auto other = resume;
    other.data.file = write_corpus(dir, 50, "other.tsv");
    CHECK_THROWS_MATCHES(train_quietly(other), Error,
                         Catch::Matchers::Message("train: --resume: the corpus now has 50 pairs but the run was split "
                                                  "over 60; resume with the same data and filters"));
    // A damaged metrics.jsonl.
    const std::string metrics = read_file(out + "/metrics.jsonl");
    write_file_atomic(out + "/metrics.jsonl", "not json\n");
    CHECK_THROWS_MATCHES(train_quietly(resume), Error,
                         Catch::Matchers::Message(out + "/metrics.jsonl: line 1 is not a metrics record; the folder is damaged"));
    write_file_atomic(out + "/metrics.jsonl", metrics);
    // optimizer.safetensors without the trainer's counters.
    SafetensorsFile state = load_safetensors(out + "/optimizer.safetensors");
    state.tensors.erase("trainer.epoch");
    save_safetensors(out + "/optimizer.safetensors", state.tensors);
    CHECK_THROWS_MATCHES(train_quietly(resume), Error,
                         Catch::Matchers::Message(out + "/optimizer.safetensors: missing 'trainer.epoch'"));
}

TEST_CASE("errors: translator folders, tasks, sentences and evaluation", "[errors]") {
    CHECK_THROWS_WITH(models::task_file("nope"), "unknown task 'nope' (valid: dates, enfr, reverse, copy)");
    CHECK_THROWS_WITH(models::load_corpus(models::DataSource{}), "no training data: give --task or --data FILE.tsv");

    TempDir dir("translator");
    const std::string data = write_corpus(dir, 60);
    const std::string out = dir / "model";
    train_quietly(tiny(data, out));
    const models::Translator t = models::Translator::load(out);
    CHECK_THROWS_WITH(t.translate("   "), "translate: the sentence '   ' has no tokens");
    CHECK_THROWS_WITH(models::inspect_step(t, "1 2", 99), Contains("inspect: --step 99 is out of range: the translation has"));
    CHECK_THROWS_WITH(models::evaluate(t, out, {.split = "holdout", .data_file = {}}), "eval: unknown split 'holdout' (valid: test, valid, train)");

    // A folder trained without attention cannot be inspected.
    auto plain = tiny(data, dir / "plain");
    plain.model.attention = "none";
    train_quietly(plain);
    CHECK_THROWS_MATCHES(models::inspect_step(models::Translator::load(dir / "plain"), "1 2", 0), Error,
                         Catch::Matchers::Message("inspect: this model has no attention (trained with --attention none)"));

    // The corpus changed after training: the split no longer fits.
    write_corpus(dir, 40);
    CHECK_THROWS_MATCHES(models::evaluate(t, out, {}), Error,
                         Catch::Matchers::Message("eval: " + out + "/split.json was split over 60 pairs but the corpus "
                                                  "now has 40; the data changed since training"));
    // Five pairs leave the test split empty (4 train, 1 valid).
    auto five = tiny(write_corpus(dir, 5, "five.tsv"), dir / "five");
    train_quietly(five);
    CHECK_THROWS_MATCHES(models::evaluate(models::Translator::load(dir / "five"), dir / "five", {}), Error,
                         Catch::Matchers::Message("eval: no sentence pairs to evaluate"));

    // config.json that is JSON but not a model config, or whose data section is incomplete.
    const std::string config = read_file(out + "/config.json");
    write_file_atomic(out + "/config.json", R"({"format": "something-else"})");
    CHECK_THROWS_MATCHES(models::Translator::load(out), Error,
                         Catch::Matchers::Message(out + "/config.json: not a seqgrad model folder config (expected "
                                                  "\"format\": \"seqgrad-model\")"));
    auto j = nlohmann::json::parse(config);
    j["data"].erase("source_tokenizer");
    write_file_atomic(out + "/config.json", j.dump());
    CHECK_THROWS_WITH(models::Translator::load(out), Catch::StartsWith(out + "/config.json: bad \"data\" section: "));
}

TEST_CASE("errors: the benchmark and thread settings", "[errors]") {
    CHECK_THROWS_WITH(models::set_num_threads(0), "threads must be at least 1, got 0");
    CHECK_THROWS_WITH(models::run_seq2seq_bench({.hidden = 0}),
                      "bench seq2seq: hidden, batch, len and steps must be positive and vocabularies at least 5");
}

TEST_CASE("errors: the benchmark sweep with no points or an unwritable folder", "[errors]") {
    CHECK_THROWS_MATCHES(models::sweep_svg({}), ShapeError, Catch::Matchers::Message("bench sweep: no points to plot"));
    CHECK_THROWS_MATCHES(models::sweep_axis_svg({}, "hidden"), ShapeError,
                         Catch::Matchers::Message("bench sweep: no points for axis 'hidden'"));
    TempDir dir("sweep");
    fs::create_directories(dir / "sweep.md");  // a folder where the table should go
    CHECK_THROWS_MATCHES(models::write_bench_sweep({}, dir.path.string()), Error,
                         Catch::Matchers::Message("bench sweep: cannot write " + (dir / "sweep.md")));
}

TEST_CASE("errors: a resumed run reads its options from the folder", "[errors]") {
    TempDir dir("resume_options");
    const std::string out = dir / "model";
    auto o = tiny(write_corpus(dir, 200), out);
    o.lr = 0.005;
    o.model.attention = "dot";
    train_quietly(o);
    // Everything that defines the run comes back from config.json.
    const models::TrainOptions stored = models::stored_train_options(out);
    CHECK(stored.resume);
    CHECK(stored.out_dir == out);
    CHECK(stored.data.file == o.data.file);
    CHECK(stored.lr == o.lr);
    CHECK(stored.model.attention == "dot");
    CHECK(stored.model.hidden_size == 8);
    CHECK(models::run_settings(stored) == models::run_settings(o));
    o.model.hidden_size = 9;
    CHECK(models::run_settings(stored) != models::run_settings(o));
    CHECK_THROWS_WITH(models::stored_train_options(dir / "nothing"),
                      "train: --resume: " + dir / "nothing" + " holds no run to resume (no optimizer.safetensors)");
    // A damaged "training" section is one error naming the file.
    auto config = nlohmann::json::parse(read_file(out + "/config.json"));
    config["training"]["lr"] = "fast";
    write_file_atomic(out + "/config.json", config.dump());
    CHECK_THROWS_MATCHES(models::stored_train_options(out), Error,
                         Catch::Matchers::Message(out + "/config.json: bad \"training\" section: [json.exception.type_error.302] "
                                                        "type must be number, but is string"));
}

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
#include "layers/attention.h"
#include "layers/embedding.h"
#include "layers/hard_attention.h"
#include "layers/init.h"
#include "layers/layer_norm.h"
#include "layers/multihead_attention.h"
#include "layers/positional_encoding.h"
#include "layers/rnn.h"
#include "layers/rnn_cell.h"
#include "models/bench.h"
#include "models/corpus.h"
#include "models/fileio.h"
#include "models/inspect.h"
#include "models/seq2seq.h"
#include "models/svg.h"
#include "models/toy_tasks.h"
#include "models/trainer.h"
#include "models/translator.h"
#include "models/utf8.h"
#include "models/vocab.h"
#include "optim/adam.h"
#include "optim/optimizer.h"
#include "optim/scheduler.h"

using namespace seqgrad;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name) {
        static int counter = 0;
        path = fs::temp_directory_path() / fmt::format("seqgrad_errors_{}_{}_{}", name, ::getpid(), counter++);
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string write_corpus(const TempDir& dir, std::size_t n, const std::string& name = "corpus.tsv") {
    data::ToyTaskOptions opt;
    opt.min_len = 2;
    opt.max_len = 4;
    opt.alphabet = "0123456789";
    const std::string path = dir / name;
    write_file_atomic(path, data::to_tsv(data::generate_task("reverse", 3, n, opt)));
    return path;
}

models::TrainOptions tiny(const std::string& data, const std::string& out) {
    models::TrainOptions o;
    o.data.file = data;
    o.out_dir = out;
    o.model.hidden_size = 8;
    o.model.embed_size = 8;
    o.epochs = 1;
    o.bleu_examples = 5;
    o.quiet = true;
    return o;
}

models::TrainResult train_quietly(const models::TrainOptions& o) {
    std::ostringstream log;
    return models::train(o, log);
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
                         Catch::Matchers::Message("vocab /proc/self/mem: read error: Input/output error"));
    CHECK_THROWS_WITH(data::Vocab::load(mem), "vocab /proc/self/mem: read error: Input/output error");
    CHECK_THROWS_WITH(data::read_corpus_file(mem, data::WordTokenizer(), data::WordTokenizer()),
                      "corpus /proc/self/mem: read error: Input/output error");
    CHECK_THROWS_MATCHES(load_safetensors(mem), Error,
                         Catch::Matchers::Message("/proc/self/mem: read failed: Input/output error"));
    CHECK_THROWS_WITH(read_file(mem), "cannot read /proc/self/mem: Input/output error");
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
    CHECK_THAT(message, Catch::StartsWith("vocab " + vocab_path + ": writing failed: File too large"));
    CHECK(read_file(vocab_path) == before);  // the old file is untouched
    fs::create_directories(dir / "a_directory/inside");
    CHECK_THROWS_WITH(big.save(dir / "a_directory"),
                      Catch::StartsWith("vocab " + (dir / "a_directory") + ": cannot rename the temporary file into place"));
}

TEST_CASE("errors: SVG pictures with unusable ranges, sizes or points", "[errors]") {
    const viz::Matrix m = {{0.0, 1.0}, {2.0, 3.0}};
    const std::vector<std::string> cols = {"a", "b"}, rows = {"x", "y"};
    CHECK_THROWS_WITH(viz::heatmap_svg(m, cols, rows, {.vmin = -kInf, .vmax = 1.0}), "heatmap_svg: vmin and vmax must be finite");
    CHECK_THROWS_WITH(viz::heatmap_svg(m, cols, rows, {.cell_size = 0}),
                      "heatmap_svg: cell_size and font_size must be positive, got 0 and 12");
    CHECK_THROWS_WITH(viz::nice_ticks(kNaN, 1.0), "nice_ticks: range must be finite, got [nan, 1]");
    viz::SvgWriter w(10, 10);
    w.close();  // the <svg> element the constructor opened
    CHECK_THROWS_MATCHES(w.close(), Error, Catch::Matchers::Message("SvgWriter::close: no open element"));

    const viz::Series s{"loss", {0.0, 1.0}, {1.0, 2.0}};
    CHECK_THROWS_WITH(viz::line_plot_svg({s}, {.log_x = true}),
                      "line_plot_svg: log-scale x needs values > 0; series 'loss' has x[0] = 0");
    CHECK_THROWS_WITH(viz::line_plot_svg({s}, {.x_min = kInf}), "line_plot_svg: x_min = inf is not usable");
    CHECK_THROWS_WITH(viz::line_plot_svg({{"nan", {kNaN}, {1.0}}}),
                      "line_plot_svg: no finite (x, y) point in 1 series; nothing to scale the axes to");
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
    CHECK_THROWS_WITH(model.greedy_batch({{4, 5}, {}}, 5), "greedy: source sentence 1 is empty");
    CHECK_THROWS_WITH(model.beam_search({4, 5}, 0, 5), "beam_search: beam size must be at least 1, got 0");
    CHECK_THROWS_WITH(model.beam_search({}, 2, 5), "beam_search: the source sentence is empty");
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
                         Catch::Matchers::Message("train: the validation split is empty; use a larger corpus or "
                                                  "--valid-fraction"));
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
    CHECK_THROWS_WITH(models::evaluate(t, out, {.split = "holdout"}), "eval: unknown split 'holdout' (valid: test, valid, train)");

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

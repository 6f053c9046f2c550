// The benchmark helpers behind `seqgrad bench seq2seq`, `bench transformer` and `bench sweep`, on tiny sizes
// (a smoke test of the plumbing and the files written; speed itself is never asserted in tests).
#include <filesystem>
#include <optional>
#include <fstream>
#include <sstream>

#include "helpers.h"
#include "models/bench.h"
#include "models/bench_epoch.h"
#include "models/fileio.h"
#include <nlohmann/json.hpp>
#include <cstdlib>

using namespace seqgrad;

TEST_CASE("bench: a tiny sweep varies one size at a time and writes table, CSV and SVG plots", "[bench]") {
    models::SweepOptions o;
    o.hidden = {8, 16};
    o.batch = {1, 2};
    o.len = {3};
    o.steps = 1;
    o.warmup = 0;
    std::ostringstream progress;
    const auto points = models::run_bench_sweep(o, &progress);
    REQUIRE(points.size() == 5);
    CHECK(points[0].axis == "hidden");
    CHECK(points[0].options.hidden == 8);
    CHECK(points[0].options.batch == 32);  // the others stay at the reference
    CHECK(points[2].axis == "batch");
    CHECK(points[2].options.batch == 1);
    CHECK(points[2].options.hidden == 128);
    CHECK(points[4].options.len == 3);
    for (const auto& p : points) CHECK(p.result.cpu_ms_per_step > 0);

    const std::string dir = (std::filesystem::temp_directory_path() / "seqgrad_test_bench_sweep").string();
    std::filesystem::remove_all(dir);
    models::write_bench_sweep(points, dir);
    for (const char* name : {"sweep.md", "sweep.csv", "sweep.svg", "sweep_hidden.svg", "sweep_batch.svg", "sweep_len.svg"})
        CHECK(std::filesystem::exists(std::filesystem::path(dir) / name));
    std::ifstream csv(std::filesystem::path(dir) / "sweep.csv");
    std::string header;
    std::getline(csv, header);
    CHECK(header == "varied,hidden,batch,len,ms_per_step,cpu_ms_per_step,pairs_per_s,gflop_per_step,gflops,peak_rss_mb");
    std::ifstream svg(std::filesystem::path(dir) / "sweep.svg");
    std::stringstream text;
    text << svg.rdbuf();
    CHECK(text.str().find("<svg") != std::string::npos);
    CHECK(text.str().find("hidden (reference 128)") != std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST_CASE("bench: the Transformer step runs, counts its FLOPs as derived by hand, and starts near ln V", "[bench]") {
    // D 8, F 16, B 2, S = T 3, V 20, one layer each side:
    //   per block 2(4·64 + 2·8·16) = 1024; encoder 6·(1024 + 4·3·8) = 6720;
    //   decoder 6·(1024 + 96 + 2·2·64 + 96) + 6·2·2·64 = 10368; generator 6·2·8·20 = 1920.
    const models::TransformerBenchOptions o{.d_model = 8, .heads = 2, .layers = 1, .ff = 16, .dropout = 0.0, .batch = 2,
                                            .len = 3, .src_vocab = 20, .tgt_vocab = 20, .steps = 2, .warmup = 0};
    CHECK(models::transformer_forward_flop(o) == 6720 + 10368 + 1920);
    const models::BenchResult r = models::run_transformer_bench(o);
    CHECK(r.gflop_per_step == Approx(3 * 19008 / 1e9));
    CHECK(r.cpu_ms_per_step > 0);
    CHECK(r.ms_per_step > 0);
    CHECK(r.pairs_per_s == Approx(2 / (r.ms_per_step / 1e3)));
    CHECK(r.peak_rss_mb > 0);
    // Random targets among 16 usable ids of 20: the untrained model's cross-entropy is about ln 20 ≈ 3.0.
    CHECK(r.final_loss > 2.0);
    CHECK(r.final_loss < 4.5);
    CHECK_THROWS_WITH(models::run_transformer_bench({.heads = 0}),
                      "bench transformer: d_model, heads, layers, ff, batch, len and steps must be positive and vocabularies at least 5");
}

namespace {
// Sets an environment variable for one scope.
struct EnvVar {
    std::string name;
    std::optional<std::string> before;
    EnvVar(std::string n, const std::string& value) : name(std::move(n)) {
        if (const char* v = std::getenv(name.c_str())) before = v;
        ::setenv(name.c_str(), value.c_str(), 1);
    }
    ~EnvVar() {
        if (before) ::setenv(name.c_str(), before->c_str(), 1);
        else ::unsetenv(name.c_str());
    }
};
}  // namespace

TEST_CASE("bench: the epoch benchmark times a real run's parts, exports its batches and leaves nothing behind",
          "[bench][epoch]") {
    testing::TempDir tmp("bench_epoch");
    EnvVar tmpdir("TMPDIR", tmp.path.string());
    models::EpochBenchOptions o;
    o.train.data.task = "copy";
    o.train.data.max_pairs = 200;
    o.train.data.source_tokenizer = o.train.data.target_tokenizer = "word";
    o.train.model.hidden_size = o.train.model.embed_size = 16;
    o.train.epochs = 2;
    o.train.bleu_examples = 10;
    o.train.out_dir = "ignored";
    const std::string export_file = (tmp.path / "batches.json").string();
    o.export_file = export_file;
    const models::EpochBenchResult r = models::run_epoch_bench(o);

    // 200 pairs split 80/10/10, batches of 32.
    CHECK(r.train_pairs == 160);
    CHECK(r.valid_pairs == 20);
    CHECK(r.bleu_sentences == 10);
    CHECK(r.batches == 5);
    CHECK(r.target_tokens > static_cast<std::int64_t>(r.train_pairs));  // every target has its <eos>
    CHECK(r.padded_positions >= r.source_tokens + r.target_tokens);
    CHECK(r.parameters > 0);
    REQUIRE(r.run.timings.size() == 2);
    CHECK(r.run.setup_seconds > 0);
    for (const auto& t : r.run.timings) {
        CHECK(t.forward > 0);
        CHECK(t.backward > 0);
        CHECK(t.update > 0);
        CHECK(t.valid_loss > 0);
        CHECK(t.decode > 0);
        CHECK(t.checkpoint > 0);
        CHECK(t.batches + t.forward + t.backward + t.update <= t.train);
        CHECK(t.total() == Approx(t.train + t.valid_loss + t.decode + t.checkpoint));
    }
    const std::string text = models::epoch_bench_text(r);
    CHECK(text.find("160 train pairs (5 batches") != std::string::npos);
    CHECK(text.find("  mean ") != std::string::npos);

    // The export holds the first epoch's batches: as many as were trained, the same tokens.
    const nlohmann::json j = nlohmann::json::parse(read_file(export_file));
    CHECK(j.at("hidden") == 16);
    CHECK(j.at("src_vocab") == r.src_vocab);
    REQUIRE(j.at("batches").size() == 5);
    std::int64_t tokens = 0, rows = 0;
    for (const auto& b : j.at("batches")) {
        rows += b.at("rows").get<std::int64_t>();
        CHECK(b.at("src").size() == b.at("rows").get<std::size_t>() * b.at("src_len").get<std::size_t>());
        for (auto id : b.at("tgt_out")) tokens += id.get<std::int64_t>() != 0;
    }
    CHECK(rows == 160);
    CHECK(tokens == r.target_tokens);

    // The run's folder is gone: only the export is left in TMPDIR.
    std::vector<std::string> left;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path)) left.push_back(e.path().filename().string());
    CHECK(left == std::vector<std::string>{"batches.json"});

    // An export that exists is never replaced, and nothing is trained.
    const std::string before = read_file(export_file);
    CHECK_THROWS_WITH(models::run_epoch_bench(o),
                      "bench epoch: --export " + export_file + " already exists; give the name of a new file");
    CHECK(read_file(export_file) == before);
    o.export_file = (tmp.path / "missing" / "b.json").string();
    CHECK_THROWS_WITH(models::run_epoch_bench(o), "bench epoch: --export " + o.export_file + ": the folder " +
                                                      (tmp.path / "missing").string() + " does not exist");
    o.export_file.clear();
    EnvVar bad("TMPDIR", (tmp.path / "missing").string());
    CHECK_THROWS_WITH(models::run_epoch_bench(o), Catch::Contains("bench epoch: cannot create a temporary folder in " +
                                                                  (tmp.path / "missing").string() + ": "));
}

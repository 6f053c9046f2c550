// The benchmark helpers behind `seqgrad bench seq2seq`, `bench transformer` and `bench sweep`, on tiny sizes
// (a smoke test of the plumbing and the files written; speed itself is never asserted in tests).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "helpers.h"
#include "models/bench.h"

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

// The benchmark helpers behind `seqgrad bench seq2seq` and `seqgrad bench sweep`, on tiny sizes
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

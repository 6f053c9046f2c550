// soak: does memory stay flat over a long training run?
//
// Trains the demo-sized translator (`seqgrad demo`: enfr task, GRU, additive attention, hidden 128,
// embedding 64, batch 32, Adam lr 3e-3, clip 1.0) for N optimizer steps, cycling through epochs, and
// every --every steps prints the resident set size (VmRSS), the live-tensor count
// (TensorImpl::live_count()) and the caching allocator's figures. After a warm-up (by default the
// first 1,000 steps: every batch shape has been seen and the allocator's free lists are full) the RSS
// must stay within +-2% of its value at the end of the warm-up; the live-tensor count must be the same
// after every step and return to its starting value once the model and optimizer are destroyed.
// Exit code 0 when all of that holds, 1 otherwise.
//
//   soak [--steps 10000] [--every 500] [--warmup 1000] [--threads 1] [--tolerance 2]
//
// Results are recorded in bench/RESULTS.md, section "Memory soak".
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "seqgrad.h"
#include "models/data/batching.h"
#include "models/bench.h"
#include "models/rnn/seq2seq.h"
#include "models/translator.h"
#include "optim/adam.h"
#include "optim/clip.h"

using namespace seqgrad;

namespace {

// Resident set size of this process in MB, from /proc/self/status (VmRSS).
double rss_mb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
    return 0;
}

struct Options {
    std::int64_t steps = 10000;
    std::int64_t every = 500;
    std::int64_t warmup = 1000;
    int threads = 1;
    double tolerance = 2.0;  // percent
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) fail<Error>("soak: {} needs a value", a);
            return argv[++i];
        };
        if (a == "--steps") o.steps = std::atoll(value());
        else if (a == "--every") o.every = std::atoll(value());
        else if (a == "--warmup") o.warmup = std::atoll(value());
        else if (a == "--threads") o.threads = std::atoi(value());
        else if (a == "--tolerance") o.tolerance = std::atof(value());
        else fail<Error>("soak: unknown option {} (options: --steps --every --warmup --threads --tolerance)", a);
    }
    if (o.steps < 1 || o.every < 1 || o.warmup < 0 || o.warmup >= o.steps || o.threads < 1 || !(o.tolerance > 0))
        fail<Error>("soak: need steps >= 1, every >= 1, 0 <= warmup < steps, threads >= 1, tolerance > 0");
    return o;
}

int run(const Options& o) {
    models::set_num_threads(o.threads);
    const std::int64_t live_at_start = TensorImpl::live_count();

    models::DataSource source;
    source.task = "enfr";
    std::tie(source.source_tokenizer, source.target_tokenizer) = models::task_tokenizers("enfr");
    const data::Corpus corpus = models::load_corpus(source);
    std::vector<std::vector<std::string>> src_tokens, tgt_tokens;
    for (const auto& p : corpus.pairs) {
        src_tokens.push_back(p.source);
        tgt_tokens.push_back(p.target);
    }
    const data::Vocab sv = data::Vocab::build(src_tokens), tv = data::Vocab::build(tgt_tokens);
    const data::Batcher batcher(data::encode_pairs(corpus.pairs, sv, tv),
                                {.batch_size = 32, .shuffle = true, .bucket = true, .seed = 1});

    models::Seq2SeqConfig config;
    config.src_vocab = static_cast<std::int64_t>(sv.size());
    config.tgt_vocab = static_cast<std::int64_t>(tv.size());
    config.hidden_size = 128;
    config.embed_size = 64;
    config.attention = "additive";
    fmt::print("soak: {} pairs, vocab {} / {}, hidden {}, embed {}, batch 32, {} batches per epoch, {} steps, "
               "{} thread(s)\n",
               batcher.size(), sv.size(), tv.size(), config.hidden_size, config.embed_size, batcher.num_batches(),
               o.steps, o.threads);
    fmt::print("live tensors at start (before the model): {}\n", live_at_start);

    bool ok = true;
    std::int64_t live_after_first = 0, live_changes = 0;
    double rss_ref = 0, rss_min = 1e300, rss_max = 0;
    std::size_t sysalloc_ref = 0;
    {
        Generator gen(1);
        models::Seq2Seq model(config, &gen);
        optim::Adam adam(model.parameters(), {.lr = 3e-3});
        const auto params = model.parameters();
        fmt::print("live tensors with the model built: {}\n", TensorImpl::live_count());
        fmt::print("{:>7} {:>9} {:>8} {:>13} {:>12} {:>12} {:>8}\n", "step", "RSS MB", "live", "in use MB",
                   "cached MB", "sys allocs", "loss");
        const auto t0 = std::chrono::steady_clock::now();
        std::int64_t step = 0;
        double loss_sum = 0;
        std::int64_t loss_n = 0;
        for (std::uint64_t epoch = 1; step < o.steps; ++epoch) {
            for (const auto& idx : batcher.plan(epoch)) {
                if (step >= o.steps) break;
                const data::Batch b = batcher.make(idx);
                adam.zero_grad();
                Tensor loss = model.loss(Tensor::ids(b.src, {b.batch, b.src_len}), b.src_lengths,
                                         Tensor::ids(b.tgt_in, {b.batch, b.tgt_len}),
                                         Tensor::ids(b.tgt_out, {b.batch, b.tgt_len}));
                loss.backward();
                optim::clip_grad_norm(params, 1.0);
                adam.step();
                loss_sum += loss.item();
                ++loss_n;
                ++step;
                loss = Tensor();
                const std::int64_t live = TensorImpl::live_count();
                if (step == 1) live_after_first = live;
                else if (live != live_after_first) ++live_changes;
                if (step == o.warmup || (o.warmup == 0 && step == 1)) {
                    rss_ref = rss_mb();
                    sysalloc_ref = memory::stats().system_allocations;
                }
                const bool report = step % o.every == 0 || step == o.steps || step == 1;
                if (!report) continue;
                const double rss = rss_mb();
                if (step >= o.warmup && rss_ref > 0) {
                    rss_min = std::min(rss_min, rss);
                    rss_max = std::max(rss_max, rss);
                }
                const memory::Stats m = memory::stats();
                fmt::print("{:>7} {:>9.1f} {:>8} {:>13.1f} {:>12.1f} {:>12} {:>8.3f}\n", step, rss, live,
                           m.bytes_in_use / 1048576.0, m.bytes_cached / 1048576.0, m.system_allocations,
                           loss_sum / static_cast<double>(loss_n));
                loss_sum = 0;
                loss_n = 0;
            }
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const std::size_t sysalloc_end = memory::stats().system_allocations;
        fmt::print("{} steps in {:.1f} s ({:.1f} ms/step)\n", step, secs, 1000 * secs / static_cast<double>(step));
        fmt::print("live tensors after step 1: {}, at the end: {}; steps whose count differed: {}\n", live_after_first,
                   TensorImpl::live_count(), live_changes);
        fmt::print("system allocations: {} at the end of warm-up (step {}), {} at the end\n", sysalloc_ref, o.warmup,
                   sysalloc_end);
        if (live_changes != 0 || TensorImpl::live_count() != live_after_first) ok = false;
        if (sysalloc_end != sysalloc_ref) {
            fmt::print("note: the allocator went to the system {} more times after warm-up\n", sysalloc_end - sysalloc_ref);
        }
    }
    const std::int64_t live_at_end = TensorImpl::live_count();
    fmt::print("live tensors after destroying the model and optimizer: {} (start {})\n", live_at_end, live_at_start);
    if (live_at_end != live_at_start) ok = false;

    const double lo = 100 * (rss_min - rss_ref) / rss_ref, hi = 100 * (rss_max - rss_ref) / rss_ref;
    const bool rss_ok = lo >= -o.tolerance && hi <= o.tolerance;
    fmt::print("RSS after warm-up: reference {:.1f} MB at step {}; min {:.1f} MB ({:+.2f}%), max {:.1f} MB ({:+.2f}%): "
               "{} +-{}%\n",
               rss_ref, std::max<std::int64_t>(o.warmup, 1), rss_min, lo, rss_max, hi, rss_ok ? "within" : "OUTSIDE",
               o.tolerance);
    ok = ok && rss_ok;
    fmt::print("soak: {}\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "soak: error: %s\n", e.what());
        return 2;
    }
}

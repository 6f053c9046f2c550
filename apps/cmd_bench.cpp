// `seqgrad bench seq2seq|transformer|epoch|sweep|translate`: training-step speed on the PyTorch tutorial's
// configuration and on torch.nn.Transformer's (bench/side_by_side_transformer.py), step time against
// size, the per-epoch split of a real training run (models/bench_epoch.h), and greedy translation latency. Under mpirun, seq2seq and transformer run data-parallel
// (models/bench.h) and rank 0 alone prints.
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/checks.h"
#include "apps/commands.h"
#include "apps/options.h"
#include "core/blas.h"
#include "core/distributed.h"
#include "core/error.h"
#include "models/bench.h"
#include "models/bench_epoch.h"
#include "models/bench_scaling.h"
#include "models/translator.h"

#include <chrono>

namespace seqgrad::apps {

namespace {

nlohmann::json result_json(const models::BenchResult& r) {
    return {{"pairs_per_s", r.pairs_per_s}, {"ms_per_step", r.ms_per_step}, {"cpu_ms_per_step", r.cpu_ms_per_step},
            {"gflops", r.gflops},           {"gflop_per_step", r.gflop_per_step}, {"peak_rss_mb", r.peak_rss_mb},
            {"final_loss", r.final_loss},   {"processes", r.processes}, {"comm_ms_per_step", r.comm_ms_per_step},
            {"parameters", r.parameters}};
}

// Under mpirun: the processes and the share of the step spent in the all-reduce.
std::string processes_note(const models::BenchResult& r) {
    if (r.processes == 1) return "";
    return fmt::format("   {} processes: all-reduce {:.2f} ms/step ({:.1f}% of the step)", r.processes, r.comm_ms_per_step,
                       100 * r.comm_ms_per_step / r.ms_per_step);
}

void print_result(const models::BenchResult& r) {
    std::cout << fmt::format("  {:.0f} pairs/s   {:.2f} ms/step (CPU {:.2f} ms/step)   {:.2f} GFLOP/step   {:.1f} GFLOP/s   "
                             "peak RSS {:.0f} MB   loss {:.4f}{}\n",
                             r.pairs_per_s, r.ms_per_step, r.cpu_ms_per_step, r.gflop_per_step, r.gflops, r.peak_rss_mb,
                             r.final_loss, processes_note(r));
}

// --precision of the benches (and train): the products in bf16 with fp32 accumulation (core/blas.h).
const char* const kPrecisionHelp =
    "fp32, or bf16: matrix products on bf16 inputs with fp32 accumulation, the rest fp32 (needs oneDNN and avx512_bf16)";

void add_bench_transformer(CLI::App& bench) {
    auto* cmd = bench.add_subcommand(
        "transformer", "Pairs per second of a Transformer training step (forward + backward + Adam), torch.nn.Transformer's configuration");
    auto o = std::make_shared<models::TransformerBenchOptions>();
    auto json = std::make_shared<bool>(false);
    auto plain = std::make_shared<bool>(false);
    auto precision = std::make_shared<std::string>("fp32");
    cmd->add_option("--d-model", o->d_model, "Model width")->check(positive_integer());
    cmd->add_option("--heads", o->heads, "Attention heads (d_model must be a multiple)")->check(positive_integer());
    cmd->add_option("--layers", o->layers, "Encoder layers = decoder layers")->check(positive_integer());
    cmd->add_option("--ff", o->ff, "Feed-forward width")->check(positive_integer());
    cmd->add_option("--dropout", o->dropout, "Dropout")->check(number_range(0.0, 0.95));
    cmd->add_option("--batch", o->batch, "Batch size")->check(positive_integer());
    cmd->add_option("--len", o->len, "Source and target length")->check(positive_integer());
    cmd->add_option("--src-vocab", o->src_vocab, "Source vocabulary size")->check(integer_range(5, 10000000));
    cmd->add_option("--tgt-vocab", o->tgt_vocab, "Target vocabulary size")->check(integer_range(5, 10000000));
    cmd->add_option("--threads", o->threads, "Threads")->check(integer_range(1, 256));
    cmd->add_option("--steps", o->steps, "Timed steps")->check(positive_integer());
    cmd->add_option("--warmup", o->warmup, "Untimed steps first")->check(non_negative_integer());
    cmd->add_option("--precision", *precision, kPrecisionHelp)->check(CLI::IsMember({"fp32", "bf16"}));
    cmd->add_flag("--plain", *plain, "Switch the fused fast paths off (the composite path)");
    cmd->add_flag("--json", *json, "Print exactly one JSON object");
    auto gemm = std::make_shared<std::string>();
    cmd->add_option("--gemm", *gemm, "Matrix-product backend: " + blas::built_backends_str() + " (default: the first)");
    cmd->callback([o, json, plain, precision, gemm] {
        if (!gemm->empty()) blas::set_backend(blas::parse_backend(*gemm));
        blas::set_precision(blas::parse_precision(*precision));
        o->fast_paths = !*plain;
        const models::BenchResult r = models::run_transformer_bench(*o);
        if (dist::rank() != 0) return;
        if (*json) {
            nlohmann::json j = result_json(r);
            j.update({{"d_model", o->d_model}, {"heads", o->heads}, {"layers", o->layers}, {"ff", o->ff},
                      {"dropout", o->dropout}, {"batch", o->batch}, {"len", o->len}, {"src_vocab", o->src_vocab},
                      {"tgt_vocab", o->tgt_vocab}, {"threads", o->threads}, {"precision", *precision},
                      {"fast_paths", o->fast_paths}, {"gemm", blas::backend_name(blas::backend())},
                      {"thread_wait", blas::thread_wait()}});
            std::cout << j.dump() << "\n";
        } else {
            std::cout << fmt::format("transformer d_model {}, {} heads, {}+{} layers, ff {}, dropout {}, batch {}, length {}, "
                                     "vocab {}/{}, {} thread(s), {}{}\n",
                                     o->d_model, o->heads, o->layers, o->layers, o->ff, o->dropout, o->batch, o->len,
                                     o->src_vocab, o->tgt_vocab, o->threads, *precision, o->fast_paths ? "" : ", plain path");
            print_result(r);
        }
    });
}

}  // namespace

void add_bench(CLI::App& app) {
    auto* bench = app.add_subcommand("bench", "Benchmarks");
    bench->require_subcommand(1);
    auto* cmd = bench->add_subcommand("seq2seq", "Pairs per second of a seq2seq training step (forward + backward + Adam)");
    auto o = std::make_shared<models::BenchOptions>();
    auto json = std::make_shared<bool>(false);
    auto plain = std::make_shared<bool>(false);
    cmd->add_option("--hidden", o->hidden, "Hidden size")->check(positive_integer());
    cmd->add_option("--batch", o->batch, "Batch size")->check(positive_integer());
    cmd->add_option("--len", o->len, "Source and target length")->check(positive_integer());
    cmd->add_option("--src-vocab", o->src_vocab, "Source vocabulary size")->check(integer_range(5, 10000000));
    cmd->add_option("--tgt-vocab", o->tgt_vocab, "Target vocabulary size")->check(integer_range(5, 10000000));
    cmd->add_option("--cell", o->cell, "gru or lstm")->check(CLI::IsMember({"gru", "lstm"}));
    cmd->add_option("--attention", o->attention, "Attention: " + listed(attention_choices()))
        ->check(CLI::IsMember(attention_choices()));
    cmd->add_option("--threads", o->threads, "Threads")->check(integer_range(1, 256));
    cmd->add_option("--steps", o->steps, "Timed steps")->check(positive_integer());
    cmd->add_option("--warmup", o->warmup, "Untimed steps first")->check(non_negative_integer());
    cmd->add_flag("--plain", *plain, "Switch the fused fast paths off (the composite path)");
    cmd->add_flag("--json", *json, "Print exactly one JSON object");
    auto gemm = std::make_shared<std::string>();
    cmd->add_option("--gemm", *gemm, "Matrix-product backend: " + blas::built_backends_str() + " (default: the first)");
    auto precision = std::make_shared<std::string>("fp32");
    cmd->add_option("--precision", *precision, kPrecisionHelp)->check(CLI::IsMember({"fp32", "bf16"}));
    cmd->callback([o, json, plain, gemm, precision] {
        if (!gemm->empty()) blas::set_backend(blas::parse_backend(*gemm));
        blas::set_precision(blas::parse_precision(*precision));
        o->fast_paths = !*plain;
        models::BenchResult r = models::run_seq2seq_bench(*o);
        if (dist::rank() != 0) return;
        if (*json) {
            nlohmann::json j = result_json(r);
            j.update({{"hidden", o->hidden}, {"batch", o->batch}, {"len", o->len}, {"threads", o->threads},
                      {"cell", o->cell}, {"attention", o->attention}, {"fast_paths", o->fast_paths},
                      {"gemm", blas::backend_name(blas::backend())}, {"thread_wait", blas::thread_wait()},
                      {"precision", *precision}});
            std::cout << j.dump() << "\n";
        } else {
            std::cout << fmt::format("seq2seq {} + {} attention, hidden {}, batch {}, length {}, vocab {}/{}, {} thread(s), "
                                     "gemm {}, {}{}\n",
                                     o->cell, o->attention, o->hidden, o->batch, o->len, o->src_vocab, o->tgt_vocab,
                                     o->threads, blas::backend_name(blas::backend()), *precision,
                                     o->fast_paths ? "" : ", plain path");
            print_result(r);
        }
    });

    add_bench_transformer(*bench);

    auto* ep = bench->add_subcommand(
        "epoch", "Seconds per epoch of a real training run, split into batching, forward, backward, update, validation and saving");
    auto eo = std::make_shared<models::EpochBenchOptions>();
    eo->train.epochs = 3;
    auto ep_threads = std::make_shared<int>(1);
    auto ep_json = std::make_shared<bool>(false);
    auto ep_gemm = std::make_shared<std::string>();
    auto ep_precision = std::make_shared<std::string>("fp32");
    add_train_options(*ep, eo->train, *ep_threads);
    ep->add_option("--export", eo->export_file,
                   "Also write the first epoch's training batches as JSON (a new file) for bench/side_by_side_epoch.py");
    ep->add_flag("--json", *ep_json, "Print exactly one JSON object");
    ep->add_option("--gemm", *ep_gemm, "Matrix-product backend: " + blas::built_backends_str() + " (default: the first)");
    ep->add_option("--precision", *ep_precision, kPrecisionHelp)->check(CLI::IsMember({"fp32", "bf16"}));
    ep->callback([ep, eo, ep_threads, ep_json, ep_gemm, ep_precision] {
        if (!ep_gemm->empty()) blas::set_backend(blas::parse_backend(*ep_gemm));
        blas::set_precision(blas::parse_precision(*ep_precision));
        prepare_new_run(*ep, eo->train);
        models::set_num_threads(*ep_threads);
        const models::EpochBenchResult r = models::run_epoch_bench(*eo);
        if (dist::rank() != 0) return;
        if (*ep_json) {
            nlohmann::json epochs = nlohmann::json::array();
            for (const auto& t : r.run.timings)
                epochs.push_back({{"total", t.total()}, {"train", t.train}, {"batches", t.batches}, {"forward", t.forward},
                                  {"backward", t.backward}, {"update", t.update}, {"valid_loss", t.valid_loss},
                                  {"decode", t.decode}, {"checkpoint", t.checkpoint}});
            const nlohmann::json j = {{"setup_seconds", r.run.setup_seconds}, {"epochs", epochs},
                                      {"train_pairs", r.train_pairs},         {"valid_pairs", r.valid_pairs},
                                      {"bleu_sentences", r.bleu_sentences},   {"batches", r.batches},
                                      {"source_tokens", r.source_tokens},     {"target_tokens", r.target_tokens},
                                      {"padded_positions", r.padded_positions}, {"src_vocab", r.src_vocab},
                                      {"tgt_vocab", r.tgt_vocab},             {"parameters", r.parameters},
                                      {"architecture", eo->train.architecture}, {"threads", *ep_threads},
                                      {"gemm", blas::backend_name(blas::backend())},
                                      {"thread_wait", blas::thread_wait()},   {"precision", *ep_precision}};
            std::cout << j.dump() << "\n";
        } else {
            std::cout << fmt::format("bench epoch: {} model, {} thread(s), gemm {}, {}\n", eo->train.architecture, *ep_threads,
                                     blas::backend_name(blas::backend()), *ep_precision)
                      << models::epoch_bench_text(r);
            if (!eo->export_file.empty()) std::cout << fmt::format("wrote {}\n", eo->export_file);
        }
    });

    auto* sc = bench->add_subcommand(
        "scaling", "Predicted data-parallel efficiency for 4-64 processes over 10/25/100 Gbit/s from this machine's step and all-reduce");
    auto so_ = std::make_shared<models::ScalingOptions>();
    auto sc_out = std::make_shared<std::string>();
    sc->add_option("--model", so_->model, "The step: seq2seq or transformer (their default configurations)")
        ->check(CLI::IsMember({"seq2seq", "transformer"}));
    sc->add_option("--hidden", so_->seq2seq.hidden, "seq2seq: hidden size")->check(positive_integer());
    sc->add_option_function<std::int64_t>(
           "--batch", [so_](std::int64_t v) { so_->seq2seq.batch = so_->transformer.batch = v; },
           "Global batch (split over the processes under mpirun)")
        ->check(positive_integer())
        ->default_str("128 (seq2seq), 64 (transformer)");
    sc->add_option_function<std::int64_t>(
           "--steps", [so_](std::int64_t v) { so_->seq2seq.steps = so_->transformer.steps = v; }, "Timed steps")
        ->check(positive_integer())
        ->default_str("50 (seq2seq), 10 (transformer)");
    sc->add_option("--processes", so_->processes, "Process counts to predict")->delimiter(',');
    sc->add_option("--gbits", so_->gbit_per_s, "Network line rates, Gbit/s")->delimiter(',');
    sc->add_option("--link-efficiency", so_->link_efficiency, "Share of the line rate an all-reduce reaches")
        ->check(number_range(0.01, 1.0));
    sc->add_option("--latency-us", so_->latency_us, "Latency per message step, microseconds")->check(non_negative_number());
    sc->add_option("--out", *sc_out, "Also write scaling.md and scaling.svg into this folder");
    sc->callback([so_, sc_out] {
        for (int n : so_->processes)
            if (n < 2) fail("bench scaling: --processes must be at least 2 each, got {}", n);
        for (double g : so_->gbit_per_s)
            if (!(g > 0)) fail("bench scaling: --gbits must be positive, got {}", g);
        const models::ScalingResult r = models::run_scaling(*so_);
        if (dist::rank() != 0) return;
        std::cout << models::scaling_markdown(r, *so_);
        if (!sc_out->empty()) {
            models::write_scaling(r, *so_, *sc_out);
            std::cout << fmt::format("wrote {0}/scaling.md and {0}/scaling.svg\n", *sc_out);
        }
    });

    auto* sw = bench->add_subcommand("sweep", "Step time against hidden size, batch and length: table, CSV and SVG plots");
    auto so = std::make_shared<models::SweepOptions>();
    auto out_dir = std::make_shared<std::string>();
    auto sweep_plain = std::make_shared<bool>(false);
    sw->add_option("--out", *out_dir, "Folder for sweep.md, sweep.csv, sweep.svg and sweep_<axis>.svg")->required();
    sw->add_option("--hidden", so->hidden, "Hidden sizes (batch 32, length 10)")->delimiter(',');
    sw->add_option("--batch", so->batch, "Batch sizes (hidden 128, length 10)")->delimiter(',');
    sw->add_option("--len", so->len, "Lengths (hidden 128, batch 32)")->delimiter(',');
    sw->add_option("--steps", so->steps, "Timed steps per point")->check(positive_integer());
    sw->add_option("--warmup", so->warmup, "Untimed steps first")->check(non_negative_integer());
    sw->add_option("--threads", so->threads, "Threads")->check(integer_range(1, 256));
    sw->add_flag("--plain", *sweep_plain, "Switch the fused fast paths off (the composite path)");
    sw->callback([so, out_dir, sweep_plain] {
        so->fast_paths = !*sweep_plain;
        for (const auto* axis : {&so->hidden, &so->batch, &so->len})
            for (auto v : *axis)
                if (v < 1) fail("bench sweep: every size must be positive, got {}", v);
        const auto points = models::run_bench_sweep(*so, &std::cout);
        models::write_bench_sweep(points, *out_dir);
        std::cout << fmt::format("wrote {0}/sweep.md, {0}/sweep.csv, {0}/sweep.svg and {0}/sweep_<axis>.svg\n", *out_dir);
    });

    auto* tr = bench->add_subcommand("translate", "Latency of greedy translation of one sentence with a model folder");
    auto model = std::make_shared<std::string>();
    auto sentence = std::make_shared<std::string>("we do not sell the red car");
    auto reps = std::make_shared<int>(200);
    tr->add_option("--model", *model, "Model folder")->required();
    tr->add_option("--sentence", *sentence, "The sentence to translate");
    tr->add_option("--repeat", *reps, "Timed translations")->check(positive_integer());
    tr->callback([model, sentence, reps] {
        models::set_num_threads(1);
        const models::Translator t = models::Translator::load(*model);
        models::Translation first = t.translate(*sentence);
        std::vector<double> us;
        for (int i = 0; i < *reps; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            models::Translation x = t.translate(*sentence);
            us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(us.begin(), us.end());
        std::cout << fmt::format("greedy translation of \"{}\" ({} source tokens) -> \"{}\": median {:.0f} us, "
                                 "best {:.0f} us over {} runs (1 thread)\n",
                                 *sentence, first.source_tokens.size(), first.text, us[us.size() / 2], us.front(), us.size());
    });
}

}  // namespace seqgrad::apps

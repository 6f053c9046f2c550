// What the `seqgrad experiment ...` subcommands share (apps/cmd_experiment.cpp,
// apps/cmd_hard_vs_soft.cpp, apps/cmd_implicit_vs_explicit.cpp): their common options, the start of
// a run (the --out folder checked and claimed, the threads set), the toy data they generate, and the
// training options of one run of a variant.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "models/trainer.h"

namespace seqgrad::apps {

// --force, the same for every experiment.
void add_force_flag(CLI::App& cmd, bool& force);
// --threads, the same for every experiment.
void add_threads_option(CLI::App& cmd, int& threads);

// The Transformer side of an experiment that trains one: its size and its peak learning rate.
struct TransformerRunOptions {
    std::int64_t d_model = 32, heads = 4, layers = 2, ff = 64;
    double lr = 2e-3;
    double dropout = 0.1, label_smoothing = 0.1;
};
// --d-model, --heads, --layers, --ff and --transformer-lr.
void add_transformer_options(CLI::App& cmd, TransformerRunOptions& o);

// Checks --out for the experiment `who` ("experiment bottleneck"; models/output_folder.h), claims
// it and sets the number of threads.
void start_experiment(const std::string& out, const std::string& who, bool force, int threads);

// Writes n generated pairs of the toy task (reverse, copy) over the digits, lengths in [lo, hi], to path.
void write_digit_task(const std::string& path, const std::string& task, std::uint64_t seed, std::size_t n,
                      std::size_t lo, std::size_t hi);

// The training options every run of an experiment starts from: into out_dir, quiet, BLEU on
// bleu_examples validation sentences, and --force (a run folder of this experiment's earlier output).
models::TrainOptions experiment_run(const std::string& out_dir, std::int64_t epochs, std::int64_t batch,
                                    std::size_t bleu_examples);
// Makes t a Transformer run of size o (its dropout and label smoothing, positions up to max_len),
// Adam with the Noam schedule up to o.lr.
void use_transformer(models::TrainOptions& t, const TransformerRunOptions& o, std::size_t max_len);

}  // namespace seqgrad::apps

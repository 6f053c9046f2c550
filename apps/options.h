// Shared option groups of the subcommands.
#pragma once
#include <CLI/CLI.hpp>

#include "models/trainer.h"

namespace seqgrad::apps {

// The model and training flags of `seqgrad train` (also used by the experiments).
void add_train_options(CLI::App& cmd, models::TrainOptions& options, int& threads);
// Checks --task / --data; fills in what add_train_options left open: each tokenizer the flags did
// not name (the task's, or word for --data) and the embedding size (--hidden unless --embed).
void prepare_train_options(models::TrainOptions& options);
// A flag of one architecture given for the other (--d-model with --arch rnn, ...) is an error naming it.
void check_architecture_flags(const CLI::App& cmd, const models::TrainOptions& options);
// A new run from the parsed flags of `cmd` (train, bench epoch): the Transformer's Noam schedule unless
// --schedule is given, check_architecture_flags, then prepare_train_options.
void prepare_new_run(const CLI::App& cmd, models::TrainOptions& options);

// Every value --attention accepts, in the order the help lists them: none, the score functions of
// layers/attention.h, hard (layers/hard_attention.h).
const std::vector<std::string>& attention_choices();
// "a, b, c": a list of choices for a flag's help.
std::string listed(const std::vector<std::string>& names);

}  // namespace seqgrad::apps

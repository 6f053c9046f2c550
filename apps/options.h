// Shared option groups of the subcommands.
#pragma once
#include <CLI/CLI.hpp>

#include "models/trainer.h"

namespace seqgrad::apps {

// The model and training flags of `seqgrad train` (also used by the experiments).
void add_train_options(CLI::App& cmd, models::TrainOptions& options, int& threads);
// Checks --task / --data and sets the task's tokenizers.
void prepare_train_options(models::TrainOptions& options);

}  // namespace seqgrad::apps

// --resume reads the run from its folder: the data source, the model, the optimizer and the schedule
// are those config.json recorded, so `seqgrad train --out DIR --resume` alone continues the run. A
// flag given with --resume must agree with the stored run (the command line compares run_settings
// before and after applying it); --epochs beyond the stored count extends the run.
#pragma once
#include <map>
#include <string>

#include "models/trainer.h"

namespace seqgrad::models {

// The options of the run stored in DIR/config.json, with resume = true and out_dir = dir. Options
// that config.json does not record (patience, time limit, anomaly detection, ...) keep their defaults.
TrainOptions stored_train_options(const std::string& dir);

// The settings that define a run, flattened to text ("model.hidden_size" -> "16", "training.lr" ->
// "0.001"), in the order of config.json. Two option sets train the same run when these agree
// (apart from "training.epochs", which a resume may raise).
std::map<std::string, std::string> run_settings(const TrainOptions& options);

}  // namespace seqgrad::models

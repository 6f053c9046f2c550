// Shared by the tests that train small models: a generated toy corpus over the digits and a quiet
// training run.
#pragma once
#include <sstream>
#include <string>

#include "models/data/toy_tasks.h"
#include "models/fileio.h"
#include "models/trainer.h"

namespace seqgrad::testing {

// n generated pairs of `task` over the digits 0-9, lengths min_len..max_len, from `seed`, written as
// a TSV file at path; returns path.
inline std::string write_digit_corpus(const std::string& path, std::size_t n, std::uint64_t seed, std::size_t min_len,
                                      std::size_t max_len, const std::string& task = "reverse") {
    data::ToyTaskOptions opt;
    opt.min_len = min_len;
    opt.max_len = max_len;
    opt.alphabet = "0123456789";
    write_file_atomic(path, data::to_tsv(data::generate_task(task, seed, n, opt)));
    return path;
}

// Quiet training options for a small GRU model of data into out.
inline models::TrainOptions small_run(const std::string& data, const std::string& out, std::int64_t hidden,
                                      std::int64_t embed, std::int64_t epochs, std::size_t bleu_examples) {
    models::TrainOptions o;
    o.data.file = data;
    o.out_dir = out;
    o.model.hidden_size = hidden;
    o.model.embed_size = embed;
    o.epochs = epochs;
    o.bleu_examples = bleu_examples;
    o.quiet = true;
    return o;
}

// Trains o with its log going nowhere.
inline models::TrainResult train_quietly(const models::TrainOptions& o) {
    std::ostringstream log;
    return models::train(o, log);
}

}  // namespace seqgrad::testing

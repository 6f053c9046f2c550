// `seqgrad bench epoch` (models/bench_epoch.h).
#include "models/bench_epoch.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/distributed.h"
#include "core/error.h"
#include "models/fileio.h"
#include "models/model_folder.h"
#include "models/translator.h"

namespace seqgrad::models {
namespace fs = std::filesystem;

namespace {

// A new empty folder under the system's temporary directory, removed with everything in it at the end.
class TempFolder {
public:
    TempFolder() {
        std::error_code ec;
        const fs::path dir = fs::temp_directory_path(ec);  // $TMPDIR, else /tmp
        const char* tmpdir = std::getenv("TMPDIR");
        if (ec)
            fail<Error>("bench epoch: cannot create a temporary folder in {}: {}", tmpdir ? tmpdir : "/tmp", ec.message());
        std::string pattern = (dir / "seqgrad-bench-epoch-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr)
            fail<Error>("bench epoch: cannot create a temporary folder in {}: {}", dir.string(), std::strerror(errno));
        path_ = pattern;
    }
    ~TempFolder() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempFolder(const TempFolder&) = delete;
    TempFolder& operator=(const TempFolder&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

nlohmann::json batch_json(const data::Batch& b) {
    return {{"rows", b.batch},       {"src_len", b.src_len}, {"tgt_len", b.tgt_len}, {"src", b.src},
            {"src_lengths", b.src_lengths}, {"tgt_in", b.tgt_in}, {"tgt_out", b.tgt_out}};
}

}  // namespace

EpochBenchResult run_epoch_bench(const EpochBenchOptions& options) {
    if (!options.export_file.empty()) {  // before the run: a bad path costs nothing
        if (fs::exists(options.export_file))
            fail<Error>("bench epoch: --export {} already exists; give the name of a new file", options.export_file);
        const fs::path parent = fs::absolute(options.export_file).parent_path();
        if (!fs::is_directory(parent))
            fail<Error>("bench epoch: --export {}: the folder {} does not exist", options.export_file, parent.string());
    }
    TempFolder folder;
    EpochBenchResult r;
    nlohmann::json batches = nlohmann::json::array();
    TrainOptions o = options.train;
    o.out_dir = folder.path();
    o.resume = false;
    o.force = false;
    o.quiet = true;
    o.on_train_batch = [&](std::int64_t epoch, const data::Batch& b) {
        if (epoch != 1) return;
        ++r.batches;
        for (auto id : b.tgt_out) r.target_tokens += id != 0;
        for (auto n : b.src_lengths) r.source_tokens += n;
        r.padded_positions += b.batch * (b.src_len + b.tgt_len);
        if (!options.export_file.empty()) batches.push_back(batch_json(b));
    };
    std::ostringstream log;
    r.run = train(o, log);
    if (dist::rank() != 0) return r;  // under mpirun rank 0 alone writes the folder (and prints)

    const ModelFolder model(folder.path());
    const data::Split split = model.read_split();
    const FolderContents contents = model.read();
    r.train_pairs = split.train.size();
    r.valid_pairs = split.valid.size();
    r.bleu_sentences = o.bleu_examples == 0 ? r.valid_pairs : std::min(r.valid_pairs, o.bleu_examples);
    r.src_vocab = static_cast<std::int64_t>(contents.source_vocab.size());
    r.tgt_vocab = static_cast<std::int64_t>(contents.target_vocab.size());
    r.parameters = Translator::load(folder.path()).model().num_parameters();
    if (!options.export_file.empty()) {
        const nlohmann::json j = {{"architecture", o.architecture},
                                  {"hidden", o.model.hidden_size},
                                  {"embed", o.model.embed_size},
                                  {"src_vocab", r.src_vocab},
                                  {"tgt_vocab", r.tgt_vocab},
                                  {"batch_size", o.batch_size},
                                  {"lr", o.lr},
                                  {"valid_pairs", r.valid_pairs},
                                  {"bleu_sentences", r.bleu_sentences},
                                  {"batches", batches}};
        write_file_atomic(options.export_file, j.dump() + "\n");
    }
    return r;
}

std::string epoch_bench_text(const EpochBenchResult& r) {
    std::string s = fmt::format(
        "{} train pairs ({} batches, {} source + {} target tokens, {:.0f}% of the padded positions real), {} valid "
        "pairs ({} decoded for BLEU), vocab {}/{}, {} parameters; set-up {:.2f} s\n",
        r.train_pairs, r.batches, r.source_tokens, r.target_tokens,
        r.padded_positions ? 100.0 * static_cast<double>(r.source_tokens + r.target_tokens) /
                                 static_cast<double>(r.padded_positions)
                           : 0.0,
        r.valid_pairs, r.bleu_sentences, r.src_vocab, r.tgt_vocab, r.parameters, r.run.setup_seconds);
    s += fmt::format("{:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}   {:>9}\n", "epoch", "total", "train",
                     "batches", "forward", "backward", "update", "v.loss", "decode", "saving", "train ms/step");
    auto row = [&](const std::string& name, const EpochTiming& t) {
        return fmt::format("{:>6} {:8.3f} {:8.3f} {:8.3f} {:8.3f} {:8.3f} {:8.3f} {:8.3f} {:8.3f} {:8.3f}   {:9.3f}\n", name,
                           t.total(), t.train, t.batches, t.forward, t.backward, t.update, t.valid_loss, t.decode,
                           t.checkpoint, r.batches ? 1000 * t.train / static_cast<double>(r.batches) : 0.0);
    };
    const auto& ts = r.run.timings;
    for (std::size_t e = 0; e < ts.size(); ++e) s += row(std::to_string(e + 1), ts[e]);
    if (ts.size() >= 2) {
        EpochTiming m;
        for (std::size_t e = 1; e < ts.size(); ++e)
            for (auto [dst, src] : {std::pair{&m.train, ts[e].train}, {&m.batches, ts[e].batches}, {&m.forward, ts[e].forward},
                                    {&m.backward, ts[e].backward}, {&m.update, ts[e].update}, {&m.valid_loss, ts[e].valid_loss},
                                    {&m.decode, ts[e].decode}, {&m.checkpoint, ts[e].checkpoint}})
                *dst += src / static_cast<double>(ts.size() - 1);
        s += row("mean", m);
        const double total = std::max(m.total(), 1e-12);
        s += fmt::format("{:>6} {:>8} {:7.0f}% {:7.0f}% {:7.0f}% {:7.0f}% {:7.0f}% {:7.0f}% {:7.0f}% {:7.0f}%   (mean of the "
                         "epochs after the first)\n",
                         "share", "", 100 * m.train / total, 100 * m.batches / total, 100 * m.forward / total,
                         100 * m.backward / total, 100 * m.update / total, 100 * m.valid_loss / total,
                         100 * m.decode / total, 100 * m.checkpoint / total);
    }
    return s;
}

}  // namespace seqgrad::models

// The `seqgrad` command line as a user meets it: the built binary (SEQGRAD_BINARY_DIR/seqgrad) is
// run with posix_spawn, its stdout and stderr captured in files.
//   - Misuse (an unknown flag, a missing --data file, a model folder whose vocabulary does not match
//     its config, an empty corpus, invalid UTF-8 in a corpus, a bad --attention value, ...) gives
//     exactly one line on stderr, "seqgrad: error: ...", and exit code 2; never a stack trace.
//   - Ctrl-C: SIGINT sent to a running `seqgrad train` saves the weights, prints how to resume and
//     exits with code 130; `--resume` then finishes the run.
//   - A NaN loss exits with code 1.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "helpers.h"
#include "model_helpers.h"
#include "models/fileio.h"
#include "process_helpers.h"
#include "models/rnn/seq2seq_config.h"
#include "models/trainer.h"
#include "models/translator.h"

using namespace seqgrad;
namespace fs = std::filesystem;

namespace {

using seqgrad::testing::finish;
using seqgrad::testing::Outcome;
using seqgrad::testing::small_run;
using seqgrad::testing::spawn_program;
using seqgrad::testing::TempDir;
using seqgrad::testing::train_quietly;

std::string binary() { return seqgrad::testing::seqgrad_binary(); }

// Starts `seqgrad args...` the same way (stdin from the file `in`).
pid_t spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err,
            const std::string& in = "/dev/null") {
    std::vector<std::string> argv = {binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return spawn_program(std::move(argv), out, err, in);
}

Outcome run_cli(const TempDir& dir, const std::vector<std::string>& args, const std::string& in = "/dev/null") {
    static std::atomic<int> n{0};
    const std::string out = dir / fmt::format("stdout_{}", n), err = dir / fmt::format("stderr_{}", n);
    ++n;
    return finish(spawn(args, out, err, in), out, err);
}

// Waits (up to 120 s) until ready() holds while `pid` runs, sends it SIGINT (Ctrl-C) and waits for
// it to end. Fails the test, killing the process, if it ends or the time passes first.
Outcome interrupt_when(pid_t pid, const std::function<bool()>& ready, const std::string& out, const std::string& err) {
    bool is_ready = false;
    for (int i = 0; i < 1200 && !is_ready; ++i) {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, WNOHANG) == 0);  // still running
        is_ready = ready();
        if (!is_ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!is_ready) ::kill(pid, SIGKILL);
    REQUIRE(is_ready);
    REQUIRE(::kill(pid, SIGINT) == 0);
    return finish(pid, out, err);
}

// A predicate for interrupt_when: `file` (a process's output) contains `text`.
std::function<bool()> output_has(const std::string& file, const std::string& text) {
    return [file, text] { return read_file(file).find(text) != std::string::npos; };
}

std::string write_corpus(const TempDir& dir, std::size_t n, const std::string& name = "corpus.tsv") {
    return seqgrad::testing::write_digit_corpus(dir / name, n, 11, 2, 5);
}

// A one-epoch model folder, trained in-process (the binary is under test, not the trainer).
std::string train_folder(const TempDir& dir, const std::string& corpus, const std::string& name,
                         const std::string& attention = "additive") {
    models::TrainOptions o = small_run(corpus, dir / name, 16, 16, 1, 10);
    o.model.attention = attention;
    train_quietly(o);
    return o.out_dir;
}


void require_one_error_line(const Outcome& r, const std::string& fragment) {
    INFO("stderr: " << r.err);
    INFO("stdout: " << r.out);
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(!r.err.empty());
    CHECK(r.err.back() == '\n');
    CHECK_THAT(r.err, Catch::StartsWith("seqgrad: error: "));
    CHECK_THAT(r.err, Catch::Contains(fragment));
}

// Runs `seqgrad args...` and requires exit code 0 (showing its output otherwise).
Outcome run_cli_ok(const TempDir& dir, const std::vector<std::string>& args) {
    Outcome r = run_cli(dir, args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    return r;
}

// `seqgrad experiment <name> --d-model 10 --heads 4` is refused with one line and writes nothing.
void require_heads_refused(const TempDir& dir, const std::string& name) {
    require_one_error_line(run_cli(dir, {"experiment", name, "--out", dir / "bad", "--d-model", "10", "--heads", "4"}),
                           "experiment " + name + ": --d-model 10 is not a multiple of --heads 4");
    CHECK_FALSE(fs::exists(dir / "bad"));
}

}  // namespace

TEST_CASE("cli: misuse gives exactly one line on stderr and exit code 2", "[cli]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("misuse");
    const std::string corpus = write_corpus(dir, 120);
    const std::string empty = dir / "empty.tsv";
    write_file_atomic(empty, "");
    const std::string bad_utf8 = dir / "latin1.tsv";
    write_file_atomic(bad_utf8, "ok\tfine\nbad \xe9t\xe9\tsummer\n");
    const std::string no_pairs = dir / "no_pairs.tsv";
    write_file_atomic(no_pairs, "no tab here\n\n  \n");
    // A model folder whose source vocabulary comes from another run.
    const std::string mixed = train_folder(dir, corpus, "mixed");
    data::Vocab::build({{"x", "y"}}).save(mixed + "/source_vocab.json");
    const std::string out = dir / "out";

    struct Case {
        const char* what;
        std::vector<std::string> args;
        std::string fragment;
    };
    const std::vector<Case> cases = {
        {"unknown flag", {"train", "--data", corpus, "--out", out, "--bogus-flag"}, "--bogus-flag"},
        {"missing --data file", {"train", "--data", dir / "missing.tsv", "--out", out}, "missing.tsv"},
        {"vocabulary does not match the config (translate)", {"translate", "--model", mixed, "1 2 3"},
         "do not match the model config"},
        {"vocabulary does not match the config (eval)", {"eval", "--model", mixed}, "do not match the model config"},
        {"empty corpus", {"train", "--data", empty, "--out", out}, "no usable sentence pairs: the corpus is empty"},
        {"corpus without a usable line", {"train", "--data", no_pairs, "--out", out}, "no usable sentence pairs out of 3 lines"},
        {"invalid UTF-8 in the corpus", {"train", "--data", bad_utf8, "--out", out}, "latin1.tsv:2: invalid UTF-8 at byte 4"},
        {"bad --attention value", {"train", "--data", corpus, "--out", out, "--attention", "bogus"}, "--attention"},
        {"unknown subcommand", {"frobnicate"}, "A subcommand is required"},
        {"no subcommand", {}, "A subcommand is required"},
        {"--out missing", {"train", "--data", corpus}, "--out"},
        {"both --task and --data", {"train", "--task", "copy", "--data", corpus, "--out", out},
         "give exactly one of --task NAME or --data FILE.tsv"},
        {"non-numeric --epochs", {"train", "--data", corpus, "--out", out, "--epochs", "many"}, "--epochs"},
        {"model folder that does not exist", {"translate", "--model", dir / "nowhere", "hello"}, "does not exist"},
        {"--resume without a run", {"train", "--data", corpus, "--out", dir / "fresh", "--resume"},
         "does not exist (drop --resume to start a new run there)"},
        {"--resume in a folder without a run", {"train", "--data", corpus, "--out", dir.path.string(), "--resume"},
         "holds no run to resume (no optimizer.safetensors)"},
        {"a corpus that cannot be read (EIO)", {"train", "--data", "/proc/self/mem", "--out", out},
         "corpus: cannot read /proc/self/mem: Input/output error"},
        {"--strict and a malformed line", {"train", "--data", no_pairs, "--out", out, "--strict"}, "no_pairs.tsv:1: no tab"},
        {"--max-len 1 removes every pair of enfr", {"train", "--task", "enfr", "--out", out, "--max-len", "1"},
         "enfr.tsv: the filters removed all 12000 sentence pairs: 12000 have more than 1 token on a side (--max-len 1)"},
        {"--hidden 0", {"train", "--data", corpus, "--out", out, "--hidden", "0"}, "--hidden: must be a positive integer, got 0"},
        {"--threads 0", {"train", "--data", corpus, "--out", out, "--threads", "0"},
         "--threads: must be an integer from 1 to 256, got 0"},
        {"--dropout 2", {"train", "--data", corpus, "--out", out, "--dropout", "2"},
         "--dropout: must be a number from 0 to 0.95, got 2"},
        {"--lr 0", {"train", "--data", corpus, "--out", out, "--lr", "0"}, "--lr: must be a positive number, got 0"},
        {"--clip -1", {"train", "--data", corpus, "--out", out, "--clip", "-1"}, "--clip: must be a number >= 0, got -1"},
        {"--epochs many", {"train", "--data", corpus, "--out", out, "--epochs", "many"},
         "--epochs: must be a positive integer, got many"},
        {"bench --attention bogus", {"bench", "seq2seq", "--attention", "bogus"},
         "--attention: bogus not in {" + fmt::format("{}", fmt::join(models::attention_names(), ",")) + "}"},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        require_one_error_line(run_cli(dir, c.args), c.fragment);
    }
    // The folder the failed runs named was not left half-written.
    CHECK_FALSE(fs::exists(out + "/model.safetensors"));
}

TEST_CASE("cli: the other subcommands' errors also give one line and exit code 2", "[cli]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("subcommands");
    const std::string corpus = write_corpus(dir, 120);
    const std::string model = train_folder(dir, corpus, "model");
    const std::string plain = train_folder(dir, corpus, "plain", "none");
    struct Case {
        const char* what;
        std::vector<std::string> args;
        std::string fragment;
    };
    const std::vector<Case> cases = {
        {"translate: a sentence without tokens", {"translate", "--model", model, "   "}, "has no tokens"},
        {"translate --attention-svg without attention", {"translate", "--model", plain, "--attention-svg", dir / "a.svg", "1 2"},
         "--attention-svg: this model has no attention to draw"},
        {"inspect without attention", {"inspect", "--model", plain, "--out", dir / "i.html", "1 2"},
         "inspect: this model has no attention"},
        {"inspect --step out of range", {"inspect", "--model", model, "--out", dir / "i.html", "--step", "99", "1 2"},
         "inspect: --step 99 is out of range"},
        {"graph: a sentence without tokens", {"graph", "--model", model, "--out", dir / "g.dot", "--sentence", "  "},
         "graph: the sentence '  ' has no tokens"},
        {"gradcheck: unknown layer", {"gradcheck", "NoSuchLayer"}, "gradcheck: unknown layer 'NoSuchLayer'"},
        {"experiment bottleneck: length 0", {"experiment", "bottleneck", "--out", dir / "exp", "--lengths", "0"},
         "experiment bottleneck: lengths must be positive"},
        {"experiment rnn-vs-transformer: length 0",
         {"experiment", "rnn-vs-transformer", "--out", dir / "exp", "--lengths", "0"},
         "experiment rnn-vs-transformer: lengths must be positive"},
        {"experiment hard-vs-soft: --min-len above --max-len",
         {"experiment", "hard-vs-soft", "--out", dir / "hs", "--min-len", "5", "--max-len", "3"},
         "experiment hard-vs-soft: --min-len 5 is greater than --max-len 3"},
        {"eval: unknown --split", {"eval", "--model", model, "--split", "holdout"}, "--split"},
        {"bench sweep: a size of 0", {"bench", "sweep", "--out", dir / "sweep", "--hidden", "0"},
         "bench sweep: every size must be positive, got 0"},
        {"bench transformer --precision fp16", {"bench", "transformer", "--precision", "fp16"}, "--precision"},
        {"translate --n-best above --beam", {"translate", "--model", model, "--n-best", "3", "1 2"},
         "translate: --n-best 3 needs a beam at least as wide (--beam 3 or more; got --beam 1)"},
        {"translate --n-best 0", {"translate", "--model", model, "--n-best", "0", "1 2"},
         "--n-best: must be an integer from 1 to 64, got 0"},
        {"translate --length-penalty -1", {"translate", "--model", model, "--length-penalty", "-1", "1 2"},
         "--length-penalty: must be a number from 0 to 5, got -1"},
        {"translate --json with --show-attention", {"translate", "--model", model, "--json", "--show-attention", "1 2"},
         "--json excludes --show-attention"},
        {"eval --length-penalty 9", {"eval", "--model", model, "--length-penalty", "9"},
         "--length-penalty: must be a number from 0 to 5, got 9"},
        {"train --log-every -1", {"train", "--data", corpus, "--out", dir / "never", "--log-every", "-1"},
         "--log-every: must be an integer >= 0, got -1"},
        {"serve --port 70000", {"serve", "--model", model, "--port", "70000"},
         "--port: must be an integer from 0 to 65535, got 70000"},
        {"serve --model without a model", {"serve", "--model", dir / "nowhere"}, "does not exist"},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        require_one_error_line(run_cli(dir, c.args), c.fragment);
    }
}

TEST_CASE("cli: SIGINT during training saves a checkpoint and exits with code 130 - --resume finishes",
          "[cli][interrupt]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("sigint");
    const std::string corpus = write_corpus(dir, 1000);
    const std::string model = dir / "run";
    const std::vector<std::string> args = {"train", "--data", corpus, "--out", model, "--hidden", "16", "--embed", "16",
                                           "--threads", "1", "--bleu-examples", "10"};
    std::vector<std::string> long_run = args;
    long_run.insert(long_run.end(), {"--epochs", "10000"});
    const std::string out = dir / "stdout", err = dir / "stderr";
    // Interrupted once the first epoch's checkpoint exists (the SIGINT handler is installed by then).
    const Outcome r = interrupt_when(
        spawn(long_run, out, err),
        [&] { return fs::exists(model + "/last.safetensors") && fs::exists(model + "/optimizer.safetensors"); }, out, err);
    INFO("stdout: " << r.out);
    INFO("stderr: " << r.err);
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 130);
    CHECK(r.err.empty());
    CHECK_THAT(r.out, Catch::Contains("interrupted: weights saved to " + model + "/interrupted.safetensors"));
    CHECK_THAT(r.out, Catch::Contains("stopped: interrupted"));
    // The mid-epoch weights and the last complete epoch both load as models.
    CHECK_NOTHROW(models::Translator::load(model, "interrupted.safetensors"));
    CHECK_NOTHROW(models::Translator::load(model, "last.safetensors"));
    const auto done = static_cast<std::int64_t>(
        load_safetensors(model + "/optimizer.safetensors").tensors.at("trainer.epoch").item());
    REQUIRE(done >= 1);

    // Resuming finishes one more epoch and exits 0.
    std::vector<std::string> resume = args;
    resume.insert(resume.end(), {"--resume", "--epochs", std::to_string(done + 1)});
    const Outcome again = run_cli(dir, resume);
    INFO("resume stdout: " << again.out);
    INFO("resume stderr: " << again.err);
    CHECK(again.exit_code == 0);
    CHECK_THAT(again.out, Catch::Contains(fmt::format("resuming {} after epoch {}", model, done)));
    CHECK_THAT(again.out, Catch::Contains("stopped: epochs"));
    CHECK(load_safetensors(model + "/last.safetensors").metadata.at("epoch") == std::to_string(done + 1));
    // The mid-epoch weights were for resuming by hand; a resumed run that completed an epoch removes them.
    CHECK_FALSE(fs::exists(model + "/interrupted.safetensors"));
}

TEST_CASE("cli: --resume alone continues the run, and a conflicting flag names both values", "[cli][resume]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("resume_alone");
    const std::string model = train_folder(dir, write_corpus(dir, 300), "model");  // 1 epoch of 1, hidden 16

    // A finished run says so and trains nothing.
    const auto before = load_safetensors(model + "/last.safetensors").metadata.at("epoch");
    const Outcome done = run_cli(dir, {"train", "--out", model, "--resume"});
    INFO("stdout: " << done.out << "\nstderr: " << done.err);
    CHECK(done.exit_code == 0);
    CHECK(done.err.empty());
    CHECK_THAT(done.out, Catch::Contains(model + " has finished its 1 epochs"));
    CHECK(load_safetensors(model + "/last.safetensors").metadata.at("epoch") == before);

    // Flags that change the run are refused, naming the flag, its value and the stored one; nothing changes.
    const std::pair<std::vector<std::string>, std::string> conflicts[] = {
        {{"--hidden", "128"}, "--hidden 128 conflicts with the run in " + model + ", trained with model.hidden_size = 16"},
        {{"--lr", "0.01"}, "--lr 0.01 conflicts with the run in " + model + ", trained with training.lr = 0.001"},
        {{"--optimizer", "sgd"}, "--optimizer sgd conflicts with the run in " + model + ", trained with training.optimizer = adam"},
        {{"--task", "enfr"}, "--task enfr conflicts with the run in " + model + ", trained with data.task = (none)"},
    };
    for (const auto& [flags, message] : conflicts) {
        std::vector<std::string> args = {"train", "--out", model, "--resume", "--epochs", "2"};
        args.insert(args.end(), flags.begin(), flags.end());
        const Outcome r = run_cli(dir, args);
        require_one_error_line(r, "train: --resume: " + message);
        CHECK(load_safetensors(model + "/last.safetensors").metadata.at("epoch") == before);
    }

    // --epochs beyond the stored count extends the run from the folder alone (no data or model flags).
    const Outcome more = run_cli(dir, {"train", "--out", model, "--resume", "--epochs", "2", "--hidden", "16"});
    INFO("stdout: " << more.out << "\nstderr: " << more.err);
    CHECK(more.exit_code == 0);
    CHECK_THAT(more.out, Catch::Contains("resuming " + model + " after epoch 1"));
    CHECK_THAT(more.out, Catch::Contains("stopped: epochs"));
    CHECK(load_safetensors(model + "/last.safetensors").metadata.at("epoch") == "2");
}

TEST_CASE("cli: a NaN loss stops training with exit code 1 and says where the good checkpoint is", "[cli]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("nan");
    const std::string corpus = write_corpus(dir, 120);
    const std::string model = train_folder(dir, corpus, "model");
    SafetensorsFile f = load_safetensors(model + "/last.safetensors");
    f.tensors.at("decoder.out.bias").fill_(std::numeric_limits<double>::quiet_NaN());
    save_safetensors(model + "/last.safetensors", f.tensors, {{"epoch", "1"}});
    const Outcome r = run_cli(dir, {"train", "--data", corpus, "--out", model, "--hidden", "16", "--embed", "16",
                                    "--resume", "--epochs", "2"});
    INFO("stdout: " << r.out);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("the loss became NaN/Inf") && Catch::Contains("stopped: NaN loss"));
}

TEST_CASE("cli: bench transformer --json prints one object with the keys the side-by-side script reads", "[cli][bench]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("bench_transformer");
    const Outcome r = run_cli(dir, {"bench", "transformer", "--d-model", "8", "--heads", "2", "--layers", "1", "--ff", "16",
                                    "--batch", "2", "--len", "3", "--src-vocab", "20", "--tgt-vocab", "20", "--steps",
                                    "1", "--warmup", "0", "--precision", "fp32", "--json"});
    INFO("stdout: " << r.out);
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    REQUIRE(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    const auto j = nlohmann::json::parse(r.out);
    for (const char* key : {"pairs_per_s", "ms_per_step", "cpu_ms_per_step", "gflop_per_step", "gflops", "peak_rss_mb",
                            "final_loss"}) {
        INFO(key);
        CHECK(j.at(key).get<double>() > 0);
    }
    CHECK(j.at("d_model") == 8);
    CHECK(j.at("precision") == "fp32");
}

TEST_CASE("cli: an internal error (an allocation the system refuses) gives one line and exit code 1", "[cli]") {
#if defined(__SANITIZE_ADDRESS__)
    SUCCEED("skipped under AddressSanitizer: its allocator aborts on an impossible size instead of throwing");
#else
    REQUIRE(fs::exists(binary()));
    TempDir dir("internal");
    // A GRU with hidden size 10^6 needs a 12 TB weight; the address-space limit makes the refusal certain.
    const std::string out = dir / "stdout", err = dir / "stderr";
    const pid_t pid = spawn_program({"/bin/sh", "-c", "ulimit -v 4000000 && exec \"$0\" \"$@\"", binary(), "bench",
                                     "seq2seq", "--hidden", "1000000", "--src-vocab", "5", "--tgt-vocab", "5", "--batch",
                                     "1", "--len", "1", "--steps", "1"},
                                    out, err);
    const Outcome r = finish(pid, out, err);
    INFO("stdout: " << r.out);
    INFO("stderr: " << r.err);
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 1);
    CHECK(r.err == "seqgrad: internal error: std::bad_alloc\n");
#endif
}

TEST_CASE("cli: Ctrl-C during the demo ends training early and the demo goes on with the model it has",
          "[cli][interrupt]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("demo_sigint");
    const std::string out = dir / "stdout", err = dir / "stderr";
    SECTION("after the first epoch: translations, BLEU and heatmaps from the best model so far") {
        const Outcome r = interrupt_when(
            spawn({"demo", "--out", dir / "demo", "--threads", "1", "--minutes", "10"}, out, err),
            output_has(out, "epoch 2/"), out, err);
        INFO("stdout: " << r.out);
        INFO("stderr: " << r.err);
        CHECK(r.signal == 0);
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Catch::Contains("interrupted: weights saved to"));
        CHECK_THAT(r.out, Catch::Contains("Held-out BLEU: "));
        CHECK(fs::exists(dir / "demo/attention_negation.svg"));
    }
    SECTION("before the first epoch ends: one line, nothing to show, exit code 130") {
        const Outcome r = interrupt_when(spawn({"demo", "--out", dir / "demo", "--threads", "1"}, out, err),
                                         output_has(out, " parameters\n"), out, err);
        INFO("stdout: " << r.out);
        INFO("stderr: " << r.err);
        CHECK(r.signal == 0);
        CHECK(r.exit_code == 130);
        CHECK(r.err.empty());
        CHECK_THAT(r.out, Catch::Contains("demo: interrupted before the first epoch finished; nothing to show"));
    }
}

TEST_CASE("cli: eval on a corpus the model cannot read scores it and says why on stderr", "[cli]") {
    TempDir dir("eval_unknown");
    const std::string model = train_folder(dir, write_corpus(dir, 200), "model");
    // Letters instead of digits: every source token is unknown to the model.
    const std::string letters = dir / "letters.tsv";
    write_file_atomic(letters, "a b c\tc b a\nd e\te d\n");
    Outcome r = run_cli(dir, {"eval", "--model", model, "--data", letters, "--json"});
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);  // stdout stays one JSON object
    CHECK_THAT(r.out, Catch::StartsWith("{\"bleu\""));
    CHECK_THAT(r.err, Catch::Contains("100.0% of the source tokens are not in the model's source vocabulary"));
    // Its own test split: no note.
    Outcome own = run_cli(dir, {"eval", "--model", model});
    CHECK(own.exit_code == 0);
    CHECK(own.err.empty());
}

TEST_CASE("cli: experiment bottleneck writes its table and plot with the settings it used", "[cli]") {
    TempDir dir("bottleneck");
    Outcome r = run_cli(dir, {"experiment", "bottleneck", "--out", dir / "exp", "--lengths", "4,6", "--pairs", "60",
                              "--epochs", "1", "--hidden", "8", "--embed", "4", "--batch", "16", "--lr", "1e-2",
                              "--cell", "lstm", "--unidirectional", "--attentions", "none,dot", "--threads", "1"});
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    const std::string table = read_file(dir / "exp/table.txt");
    CHECK_THAT(table, Catch::Contains("lstm encoder, hidden 8, embed 4, batch 16, Adam lr 0.01"));
    CHECK_THAT(table, Catch::Contains("exact match: none") && Catch::Contains("exact match: dot"));
    CHECK(std::count(table.begin(), table.end(), '\n') == 4);  // settings, header, two lengths
    CHECK_THAT(read_file(dir / "exp/bottleneck.svg"), Catch::Contains("dot attention"));
    CHECK(fs::exists(dir / "exp/dot_6/model.safetensors"));
}

TEST_CASE("cli: experiment implicit-vs-explicit writes its table, the agreement heatmap and one example per run",
          "[cli][saliency]") {
    TempDir dir("implicit_vs_explicit");
    Outcome r = run_cli_ok(dir, {"experiment", "implicit-vs-explicit", "--out", dir / "exp", "--tasks", "reverse",
                              "--variants", "dot,transformer", "--max-pairs", "60", "--max-len", "6", "--sentences",
                              "3", "--epochs", "1", "--hidden", "8", "--embed", "4", "--d-model", "8", "--heads", "2",
                              "--layers", "1", "--ff", "16", "--threads", "1"});
    const std::string table = read_file(dir / "exp/table.txt");
    CHECK_THAT(table, Catch::Contains("rnn: GRU (one direction, so dot attention fits), hidden 8, embed 4"));
    CHECK_THAT(table, Catch::Contains("transformer: d_model 8, 2 heads, 1+1 layers, ff 16"));
    CHECK_THAT(table, Catch::Contains("argmax ‖∇‖") && Catch::Contains("chance"));
    CHECK(std::count(table.begin(), table.end(), '\n') == 4);  // settings, header, two runs
    CHECK_THAT(read_file(dir / "exp/agreement.svg"), Catch::Contains("reverse: transformer"));
    CHECK_THAT(read_file(dir / "exp/saliency_reverse_dot.svg"), Catch::Contains("explicit: attention α"));
    CHECK(fs::exists(dir / "exp/saliency_reverse_transformer.svg"));
    CHECK(fs::exists(dir / "exp/reverse_transformer/model.safetensors"));
    require_heads_refused(dir, "implicit-vs-explicit");
}

TEST_CASE("cli: translate --saliency-svg draws the saliency beside the attention, any attention or none",
          "[cli][saliency]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("saliency_svg");
    const std::string corpus = write_corpus(dir, 120);
    const std::string model = train_folder(dir, corpus, "model");
    const Outcome r = run_cli_ok(dir, {"translate", "--model", model, "--saliency-svg", dir / "s.svg", "3 1 4"});
    const std::string svg = read_file(dir / "s.svg");
    CHECK_THAT(svg, Catch::Contains("explicit: attention α") && Catch::Contains("implicit: ‖∂ log p(y_t)/∂e_s‖"));
    CHECK_THAT(svg, Catch::Contains("gradient × input"));

    const std::string plain_model = train_folder(dir, corpus, "plain", "none");
    const Outcome plain = run_cli(dir, {"translate", "--model", plain_model, "--saliency-svg", dir / "p.svg", "3 1 4"});
    INFO("stderr: " << plain.err);
    REQUIRE(plain.exit_code == 0);
    const std::string implicit_only = read_file(dir / "p.svg");
    CHECK_THAT(implicit_only, Catch::Contains("implicit: ‖∂ log p(y_t)/∂e_s‖"));
    CHECK_THAT(implicit_only, !Catch::Contains("explicit: attention α"));

    // inspect shows the step's saliency beside α.
    const Outcome page = run_cli(dir, {"inspect", "--model", model, "--out", dir / "i.html", "--step", "1", "3 1 4"});
    REQUIRE(page.exit_code == 0);
    CHECK_THAT(read_file(dir / "i.html"), Catch::Contains("id=\"fig-saliency\"") && Catch::Contains("gradient × input"));

    // A folder that does not exist: one line, exit 2, nothing translated and nothing created.
    const std::string missing = dir / "missing";
    const Outcome bad = run_cli(dir, {"translate", "--model", model, "--saliency-svg", missing + "/s.svg", "3 1 4"});
    require_one_error_line(bad, "--saliency-svg " + missing + "/s.svg: the folder " + missing + " does not exist");
    CHECK(bad.out.empty());
    CHECK_FALSE(fs::exists(missing));
}

TEST_CASE("cli: experiment rnn-vs-transformer writes its table and both plots", "[cli][transformer]") {
    TempDir dir("rnn_vs_transformer");
    Outcome r = run_cli_ok(dir, {"experiment", "rnn-vs-transformer", "--out", dir / "exp", "--lengths", "4,6", "--pairs",
                              "60", "--epochs", "1", "--hidden", "8", "--embed", "4", "--batch", "16", "--d-model", "8",
                              "--heads", "2", "--layers", "1", "--ff", "16", "--threads", "1"});
    const std::string table = read_file(dir / "exp/table.txt");
    CHECK_THAT(table, Catch::Contains("rnn: bidirectional GRU + additive attention, hidden 8, embed 4"));
    CHECK_THAT(table, Catch::Contains("transformer: d_model 8, 2 heads, 1+1 layers, ff 16, dropout 0, label smoothing 0,"));
    CHECK(std::count(table.begin(), table.end(), '\n') == 4);  // settings, header, two lengths
    CHECK_THAT(read_file(dir / "exp/exact_match.svg"), Catch::Contains("transformer"));
    CHECK_THAT(read_file(dir / "exp/seconds_per_epoch.svg"), Catch::Contains("seconds per epoch"));
    CHECK(fs::exists(dir / "exp/transformer_6/model.safetensors"));
    CHECK(fs::exists(dir / "exp/rnn_4/model.safetensors"));
    require_heads_refused(dir, "rnn-vs-transformer");
}

namespace {

// Every file under `dir` with its contents, to prove a refused command changed nothing.
std::map<std::string, std::string> snapshot(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        files[e.path().string()] = e.is_regular_file() ? read_file(e.path().string()) : std::string("<folder>");
    return files;
}

// `seqgrad train` on a small corpus into `out`, with more arguments.
std::vector<std::string> small_train(const std::string& corpus, const std::string& out, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"train", "--data", corpus, "--out", out, "--hidden", "8", "--embed", "8",
                                     "--epochs", "1", "--bleu-examples", "5", "--threads", "1"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

}  // namespace

TEST_CASE("cli: train refuses a folder holding a model or other files unless --resume or --force", "[cli][folder]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("out_folder");
    const std::string corpus = write_corpus(dir, 120);
    const std::string model = train_folder(dir, corpus, "model");
    const std::string other = dir / "other";
    fs::create_directories(other);
    write_file_atomic(other + "/notes.txt", "my notes\n");
    const auto model_before = snapshot(model), other_before = snapshot(other);

    SECTION("a folder holding a model: one line naming --resume and --force, nothing touched") {
        const Outcome r = run_cli(dir, small_train(corpus, model));
        require_one_error_line(r, "train: --out " + model +
                                      " already holds a model; give --resume to continue its run or --force to replace it");
        CHECK(r.out.empty());  // refused before the corpus was read
        CHECK(snapshot(model) == model_before);
    }
    SECTION("a non-empty folder train did not make: refused, nothing touched") {
        const Outcome r = run_cli(dir, small_train(corpus, other));
        require_one_error_line(r, "train: --out " + other + " is not empty and holds no model to --resume; choose a new "
                                                            "or empty folder, or give --force");
        CHECK(snapshot(other) == other_before);
    }
    SECTION("--force replaces the model; in another folder it keeps the other files") {
        Outcome r = run_cli(dir, small_train(corpus, model, {"--force"}));
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK_THAT(read_file(model + "/config.json"), Catch::Contains("\"hidden_size\": 8"));  // the new run's
        r = run_cli(dir, small_train(corpus, other, {"--force"}));
        CHECK(r.exit_code == 0);
        CHECK(read_file(other + "/notes.txt") == "my notes\n");
        CHECK(fs::exists(other + "/model.safetensors"));
    }
    SECTION("an empty folder is used as it is") {
        fs::create_directories(dir / "empty");
        CHECK(run_cli(dir, small_train(corpus, dir / "empty")).exit_code == 0);
        CHECK(fs::exists(dir / "empty/model.safetensors"));
    }
}

TEST_CASE("cli: a command that fails creates nothing", "[cli][folder]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("creates_nothing");
    const std::string corpus = write_corpus(dir, 120);
    SECTION("train --resume on a folder that does not exist") {
        const Outcome r = run_cli(dir, small_train(corpus, dir / "new", {"--resume"}));
        require_one_error_line(r, "train: --resume: --out " + dir / "new" +
                                      " does not exist (drop --resume to start a new run there)");
        CHECK_FALSE(fs::exists(dir / "new"));
    }
    SECTION("train on a corpus too small to split") {
        const std::string tiny = dir / "tiny.tsv";
        write_file_atomic(tiny, "1 2\t2 1\n3 4\t4 3\n");
        const Outcome r = run_cli(dir, small_train(tiny, dir / "new"));
        require_one_error_line(r, "has only 2 usable sentence pairs");
        CHECK_FALSE(fs::exists(dir / "new"));
    }
    SECTION("experiment attention-types checks every variant before training any") {
        const Outcome r = run_cli(dir, {"experiment", "attention-types", "--out", dir / "exp", "--task", "copy",
                                        "--variants", "hard,bogus", "--epochs", "1", "--hidden", "8", "--max-pairs", "60"});
        // Every name the library's table of kinds has, plus none and hard.
        require_one_error_line(r, "--variants: bogus not in {" + fmt::format("{}", fmt::join(models::attention_names(), ",")) + "}");
        CHECK_THAT(r.err, Catch::Contains("{none,additive,") && Catch::Contains(",hard}"));
        CHECK_FALSE(fs::exists(dir / "exp"));
    }
    SECTION("experiment bottleneck with a bad length") {
        require_one_error_line(run_cli(dir, {"experiment", "bottleneck", "--out", dir / "exp", "--lengths", "4,0"}),
                               "experiment bottleneck: lengths must be positive");
        CHECK_FALSE(fs::exists(dir / "exp"));
    }
}

TEST_CASE("cli: an unwritable --out is one line naming the folder and the reason, before any data is read",
          "[cli][folder]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("unwritable");
    const std::string file = dir / "a_file";
    write_file_atomic(file, "not a folder\n");
    struct Case {
        const char* what;
        std::vector<std::string> args;
        std::string fragment;
    };
    std::vector<Case> cases = {
        {"/proc", {"train", "--task", "reverse", "--out", "/proc/x"},
         "train: --out /proc/x: cannot create a folder in /proc (No such file or directory)"},
        {"a regular file", {"train", "--task", "reverse", "--out", file}, "train: --out " + file + " is a file, not a folder"},
        {"a folder inside a regular file", {"train", "--task", "reverse", "--out", file + "/run"},
         "train: --out " + file + "/run: cannot create a folder in " + file + " (Not a directory)"},
        {"the demo under /proc", {"demo", "--out", "/proc/x"},
         "demo: --out /proc/x: cannot create a folder in /proc (No such file or directory)"},
        {"an experiment under /proc", {"experiment", "hard-vs-soft", "--out", "/proc/x/y"},
         "experiment hard-vs-soft: --out /proc/x/y: cannot create a folder in /proc (No such file or directory)"},
    };
    const std::string read_only = dir / "read_only";
    fs::create_directories(read_only);
    fs::permissions(read_only, fs::perms::owner_read | fs::perms::owner_exec);
    if (::geteuid() != 0) {  // root writes into a read-only folder anyway; /sys refuses even root
        cases.push_back({"a read-only folder", {"train", "--task", "reverse", "--out", read_only},
                         "train: --out " + read_only + ": the folder is not writable (Permission denied)"});
        cases.push_back({"a new folder in a read-only one", {"train", "--task", "reverse", "--out", read_only + "/run"},
                         "train: --out " + read_only + "/run: cannot create a folder in " + read_only +
                             " (Permission denied)"});
    } else {
        cases.push_back({"/sys", {"train", "--task", "reverse", "--out", "/sys/x"},
                         "train: --out /sys/x: cannot create a folder in /sys (Operation not permitted)"});
    }
    for (const auto& c : cases) {
        INFO(c.what);
        const Outcome r = run_cli(dir, c.args);
        require_one_error_line(r, c.fragment);
        CHECK(r.out.empty());  // no corpus summary: nothing was read
    }
    CHECK(read_file(file) == "not a folder\n");
}

TEST_CASE("cli: the demo and the experiments replace only their own earlier output", "[cli][folder]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("own_output");
    const std::string foreign = dir / "foreign";
    fs::create_directories(foreign + "/model");
    write_file_atomic(foreign + "/model/keep.txt", "mine\n");
    const auto before = snapshot(foreign);
    const std::vector<std::string> bottleneck = {"experiment", "bottleneck", "--lengths", "4", "--pairs", "60",
                                                 "--epochs", "1", "--hidden", "8", "--embed", "4", "--threads", "1"};
    auto with_out = [](std::vector<std::string> args, const std::string& out) {
        args.insert(args.begin() + 2, {"--out", out});
        return args;
    };
    SECTION("a folder they did not write is refused, untouched") {
        require_one_error_line(run_cli(dir, {"demo", "--out", foreign}),
                               "demo: --out " + foreign + " is not empty and was not written by seqgrad demo (it has no "
                                                          "seqgrad-output.txt naming it); choose a new or empty folder, or give --force");
        require_one_error_line(run_cli(dir, with_out(bottleneck, foreign)),
                               "is not empty and was not written by seqgrad experiment bottleneck");
        require_one_error_line(run_cli(dir, {"experiment", "hard-vs-soft", "--out", foreign}),
                               "is not empty and was not written by seqgrad experiment hard-vs-soft");
        require_one_error_line(run_cli(dir, {"experiment", "attention-types", "--out", foreign}),
                               "is not empty and was not written by seqgrad experiment attention-types");
        CHECK(snapshot(foreign) == before);
    }
    SECTION("run twice into the same folder, an experiment replaces its own runs") {
        const std::string out = dir / "exp";
        REQUIRE(run_cli(dir, with_out(bottleneck, out)).exit_code == 0);
        CHECK_THAT(read_file(out + "/seqgrad-output.txt"), Catch::StartsWith("written by: seqgrad experiment bottleneck\n"));
        const Outcome again = run_cli(dir, with_out(bottleneck, out));
        INFO(again.err);
        CHECK(again.exit_code == 0);
        CHECK(fs::exists(out + "/additive_4/model.safetensors"));
        // ... but another experiment does not take it over.
        require_one_error_line(run_cli(dir, {"experiment", "hard-vs-soft", "--out", out}),
                               "was not written by seqgrad experiment hard-vs-soft");
    }
    SECTION("--force writes into a foreign folder and keeps the files it did not write") {
        const Outcome r = run_cli(dir, with_out(bottleneck, foreign + "/exp"));  // a new folder inside: fine
        CHECK(r.exit_code == 0);
        const Outcome forced = run_cli(dir, [&] {
            auto a = with_out(bottleneck, foreign);
            a.push_back("--force");
            return a;
        }());
        INFO(forced.err);
        CHECK(forced.exit_code == 0);
        CHECK(read_file(foreign + "/model/keep.txt") == "mine\n");
    }
    SECTION("the demo recognises its own earlier folder (make demo twice) and replaces the model in it") {
        const std::string demo = dir / "demo";
        const std::string out = dir / "stdout", err = dir / "stderr";
        // A folder an earlier demo wrote before demos marked their folders: its model and heatmaps.
        fs::create_directories(demo);
        train_folder(dir, write_corpus(dir, 60), "demo/model");
        write_file_atomic(demo + "/attention_negation.svg", "<svg/>");
        const Outcome first = interrupt_when(spawn({"demo", "--out", demo, "--threads", "1"}, out, err),
                                             output_has(out, " parameters\n"), out, err);
        INFO("stderr: " << first.err);
        REQUIRE(first.exit_code == 130);
        REQUIRE(fs::exists(demo + "/seqgrad-output.txt"));
        REQUIRE(fs::exists(demo + "/model/config.json"));
        const Outcome second = interrupt_when(spawn({"demo", "--out", demo, "--threads", "1"}, out, err),
                                              output_has(out, " parameters\n"), out, err);
        INFO("stderr: " << second.err);
        CHECK(second.exit_code == 130);
        CHECK(second.err.empty());
        CHECK_THAT(second.out, Catch::Contains("demo: interrupted before the first epoch finished; nothing to show"));
    }
}

TEST_CASE("cli: --hidden is also the embedding size unless --embed, and a tokenizer flag beats the task's", "[cli]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("hidden_embed");
    const std::vector<std::string> enfr = {"train", "--task", "enfr", "--max-pairs", "200", "--epochs", "1",
                                           "--bleu-examples", "5", "--threads", "1"};
    auto config = [](const std::string& model) { return nlohmann::json::parse(read_file(model + "/config.json")); };
    auto run = [&](const std::string& name, std::vector<std::string> more) {
        std::vector<std::string> args = enfr;
        args.insert(args.end(), {"--out", dir / name});
        args.insert(args.end(), more.begin(), more.end());
        const Outcome r = run_cli(dir, args);
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        return config(dir / name);
    };
    nlohmann::json c = run("hidden", {"--hidden", "16"});
    CHECK(c["model"]["hidden_size"] == 16);
    CHECK(c["model"]["embed_size"] == 16);
    CHECK(c["data"]["source_tokenizer"] == "word");  // the task's
    c = run("embed", {"--hidden", "16", "--embed", "8", "--source-tokenizer", "char"});
    CHECK(c["model"]["embed_size"] == 8);
    CHECK(c["data"]["source_tokenizer"] == "char");  // given, so honoured
    CHECK(c["data"]["target_tokenizer"] == "word");
    const models::Translator t = models::Translator::load(dir / "embed");
    CHECK(t.translate("the red car").source_tokens.size() == 11);  // characters and two space tokens
}

TEST_CASE("cli: translate from stdin gives one output line per input line and names the lines it could not translate",
          "[cli]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("stdin_lines");
    models::TrainOptions o = small_run(write_corpus(dir, 200), dir / "model", 16, 16, 1, 5);
    o.model.attention = "location";  // scores one position each: at most max_source_len source tokens
    o.model.max_source_len = 8;
    train_quietly(o);
    const std::string input = dir / "input.txt";
    write_file_atomic(input, "1 2 3\n\n1 2 3 4 5 6 7 8 9 1 2\nxyzzy 2 plugh\n3 2\n");
    const Outcome r = run_cli(dir, {"translate", "--model", o.out_dir}, input);
    INFO("stdout: " << r.out);
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 2);  // a line failed; the others were translated
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 5);
    std::vector<std::string> lines;
    std::istringstream out(r.out);
    for (std::string line; std::getline(out, line);) lines.push_back(line);
    REQUIRE(lines.size() == 5);
    CHECK(!lines[0].empty());
    CHECK(lines[1].empty());  // the empty input line
    CHECK(lines[2].empty());  // the line that failed
    CHECK(!lines[3].empty());
    CHECK(!lines[4].empty());
    CHECK_THAT(r.err, Catch::Contains("seqgrad translate: line 3: ") &&
                          Catch::Contains("have 11 source positions but max_source_len is 8"));
    CHECK_THAT(r.err, Catch::Contains("seqgrad translate: note: line 4: the model does not know xyzzy plugh (2 of 3 "
                                      "tokens, read as <unk>)"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 2);

    // Arguments: the same, by sentence number; a known sentence gives no note.
    const Outcome args = run_cli(dir, {"translate", "--model", o.out_dir, "1 2", "xyzzy"});
    CHECK(args.exit_code == 0);
    CHECK(std::count(args.out.begin(), args.out.end(), '\n') == 2);
    CHECK(args.err == "seqgrad translate: note: sentence 2: the model does not know xyzzy (1 of 1 tokens, read as <unk>)\n");
}

TEST_CASE("cli: translate --n-best lists K scored hypotheses, --json prints one object per line, eval --json-lines one per "
          "sentence", "[cli][json]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("json");
    const std::string corpus = write_corpus(dir, 120);
    const std::string model = train_folder(dir, corpus, "model");
    const models::Translator t = models::Translator::load(model);

    // n-best: "N ||| text ||| score", K per input, numbered from 0; an empty input line prints nothing.
    const std::string input = dir / "input.txt";
    write_file_atomic(input, "1 2 3\n\n4 5\n");
    const Outcome nb = run_cli(dir, {"translate", "--model", model, "--beam", "3", "--n-best", "3", "--length-penalty", "1"}, input);
    INFO("stdout: " << nb.out << "\nstderr: " << nb.err);
    CHECK(nb.exit_code == 0);
    std::vector<std::string> lines;
    std::istringstream nb_out(nb.out);
    for (std::string line; std::getline(nb_out, line);) lines.push_back(line);
    REQUIRE(lines.size() == 6);
    const auto expect = t.translate_n_best("4 5", {.beam = 3, .n_best = 3, .length_penalty = 1.0});
    REQUIRE(expect.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) {
        CHECK_THAT(lines[k], Catch::StartsWith("0 ||| "));
        CHECK(lines[3 + k] == fmt::format("2 ||| {} ||| {:.4f}", expect[k].text, expect[k].score));
    }

    // --json: one object per input line, the empty line's with no hypotheses.
    const Outcome js = run_cli(dir, {"translate", "--model", model, "--json", "--beam", "2", "--n-best", "2"}, input);
    CHECK(js.exit_code == 0);
    std::vector<nlohmann::json> objects;
    std::istringstream js_out(js.out);
    for (std::string line; std::getline(js_out, line);) objects.push_back(nlohmann::json::parse(line));
    REQUIRE(objects.size() == 3);
    CHECK(objects[0]["id"] == 0);
    CHECK(objects[0]["source_tokens"] == std::vector<std::string>{"1", "2", "3"});
    CHECK(objects[0]["hypotheses"].size() == 2);
    CHECK(objects[1]["hypotheses"].empty());
    const auto two = t.translate_n_best("4 5", {.beam = 2, .n_best = 2});
    CHECK(objects[2]["hypotheses"][0]["tokens"] == two[0].output_tokens);
    CHECK(objects[2]["hypotheses"][0]["attention"].size() == two[0].attention.size());
    CHECK(objects[2]["hypotheses"][0]["attention"][0].size() == 2);

    // eval --json-lines: one object per evaluated sentence, with its reference.
    const std::string jl = dir / "eval.jsonl";
    const Outcome ev = run_cli(dir, {"eval", "--model", model, "--limit", "5", "--json-lines", jl, "--json"});
    CHECK(ev.exit_code == 0);
    const nlohmann::json summary = nlohmann::json::parse(ev.out);
    CHECK(summary["n"] == 5);
    std::vector<nlohmann::json> records;
    std::istringstream jl_in(read_file(jl));
    for (std::string line; std::getline(jl_in, line);) records.push_back(nlohmann::json::parse(line));
    REQUIRE(records.size() == 5);
    for (std::size_t i = 0; i < records.size(); ++i) {
        CHECK(records[i]["id"] == i);
        CHECK(records[i]["reference_tokens"].size() > 0);
        CHECK(records[i]["reference"].is_string());
        REQUIRE(records[i]["hypotheses"].size() == 1);
        CHECK(records[i]["hypotheses"][0]["score"].is_number());
        CHECK(records[i]["hypotheses"][0]["attention"].size() >= records[i]["hypotheses"][0]["tokens"].size());
    }
}

TEST_CASE("cli: train prints perplexity, and --log-every adds step lines to metrics.jsonl that survive --resume",
          "[cli][resume]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("log_every");
    const std::string corpus = write_corpus(dir, 200);
    const std::string out = dir / "run";
    // 160 training pairs in batches of 16: 10 steps per epoch, a step line every 4.
    const std::vector<std::string> args = {"train", "--data", corpus, "--out", out, "--hidden", "8", "--batch", "16",
                                           "--epochs", "1", "--bleu-examples", "5", "--log-every", "4"};
    const Outcome first = run_cli(dir, args);
    INFO("stdout: " << first.out << "\nstderr: " << first.err);
    REQUIRE(first.exit_code == 0);
    CHECK_THAT(first.out, Catch::Contains("(ppl "));
    CHECK_THAT(first.out, Catch::Contains("step      4  epoch 1  train loss "));
    // --resume with a new --log-every is not a change of the run: it extends it to epoch 2.
    const Outcome second = run_cli(dir, {"train", "--out", out, "--resume", "--epochs", "2", "--log-every", "5"});
    INFO("resume stdout: " << second.out << "\nstderr: " << second.err);
    REQUIRE(second.exit_code == 0);
    std::vector<nlohmann::json> lines;
    std::istringstream in(read_file(out + "/metrics.jsonl"));
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    std::vector<std::string> kinds;
    std::vector<std::int64_t> steps;
    for (const auto& j : lines) {
        kinds.push_back(j["kind"]);
        if (j["kind"] == "step") {
            steps.push_back(j["step"]);
            CHECK(j["train_perplexity"].get<double>() == Approx(std::exp(j["train_loss"].get<double>())));
            for (const char* key : {"epoch", "lr", "grad_norm", "tokens_per_s", "steps"}) CHECK(j.contains(key));
        } else {
            CHECK(j["valid_perplexity"].get<double>() == Approx(std::exp(j["valid_loss"].get<double>())));
            CHECK(j["train_perplexity"].get<double>() == Approx(std::exp(j["train_loss"].get<double>())));
        }
    }
    // Epoch 1 (every 4 steps: 4, 8), then epoch 2 of the resumed run (every 5: 15, 20).
    CHECK(kinds == std::vector<std::string>{"step", "step", "epoch", "step", "step", "epoch"});
    CHECK(steps == std::vector<std::int64_t>{4, 8, 15, 20});
}

namespace {

// The `--name`s in `text`.
std::set<std::string> flags_in(const std::string& text) {
    std::set<std::string> flags;
    for (std::size_t i = text.find("--"); i != std::string::npos; i = text.find("--", i + 2)) {
        if (i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '-')) continue;
        std::size_t j = i + 2;
        while (j < text.size() && (std::islower(static_cast<unsigned char>(text[j])) ||
                                   std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '-'))
            ++j;
        if (j > i + 2) flags.insert(text.substr(i, j - i));
    }
    return flags;
}

// The lines of one section of a CLI11 help text ("Options:", "Subcommands:"), up to the next blank line.
std::vector<std::string> help_section(const std::string& help, const std::string& title) {
    std::vector<std::string> lines;
    std::istringstream in(help);
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        if (line == title) {
            inside = true;
        } else if (inside) {
            if (line.empty() || line[0] != ' ') break;
            lines.push_back(line);
        }
    }
    return lines;
}

}  // namespace

// The README's command list must show every command and, for each, every option its --help shows:
// the subcommands are read from `seqgrad --help` (and `seqgrad bench --help`, ...), the options from
// each leaf's Options section (the option names before its description), the README from the first
// ```sh block after "## The `seqgrad` command", one command per line (indented lines continue it).
TEST_CASE("cli: the README's command list and every command's --help show the same options", "[cli][readme]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("readme");
    auto help_of = [&](const std::string& command) {
        std::vector<std::string> args;
        std::istringstream words(command);
        for (std::string w; words >> w;) args.push_back(w);
        args.push_back("--help");
        const Outcome r = run_cli(dir, args);
        REQUIRE(r.exit_code == 0);
        return r.out;
    };
    // Every leaf command with the options its help lists.
    std::map<std::string, std::set<std::string>> from_help;
    std::vector<std::string> todo = {""};
    while (!todo.empty()) {
        const std::string command = todo.back();
        todo.pop_back();
        const std::string help = help_of(command);
        const auto subcommands = help_section(help, "Subcommands:");
        for (const auto& line : subcommands) {
            std::istringstream words(line);
            std::string name;
            words >> name;
            todo.push_back(command.empty() ? name : command + " " + name);
        }
        if (!subcommands.empty() || command.empty()) continue;
        std::set<std::string> options;
        for (const auto& line : help_section(help, "Options:")) {
            std::istringstream words(line);
            std::string names;  // "-h,--help", "--hidden", "--bidirectional{false},--unidirectional{true}"
            words >> names;
            for (const auto& f : flags_in(names)) options.insert(f);
        }
        options.erase("--help");
        from_help[command] = options;
    }
    REQUIRE(from_help.count("train") == 1);
    CHECK(from_help.at("train").count("--hidden") == 1);  // the parsing above works

    const std::string readme = read_file(std::string(SEQGRAD_SOURCE_DIR) + "/README.md");
    const std::size_t section = readme.find("## The `seqgrad` command");
    REQUIRE(section != std::string::npos);
    const std::size_t begin = readme.find("```sh\n", section);
    REQUIRE(begin != std::string::npos);
    const std::size_t end = readme.find("```", begin + 6);
    REQUIRE(end != std::string::npos);
    std::map<std::string, std::string> from_readme;  // command -> its text
    std::string current;
    std::istringstream block(readme.substr(begin + 6, end - begin - 6));
    for (std::string line; std::getline(block, line);) {
        if (line.rfind("seqgrad ", 0) == 0) {
            std::istringstream words(line.substr(8));
            current.clear();
            for (std::string w; words >> w && !w.empty() && std::islower(static_cast<unsigned char>(w[0]));)
                current += (current.empty() ? "" : " ") + w;
            from_readme[current] += line.substr(8 + current.size());
        } else if (!line.empty() && line[0] == ' ' && !current.empty()) {
            from_readme[current] += line;
        }
    }
    for (const auto& [command, options] : from_help) {
        INFO("seqgrad " << command);
        REQUIRE(from_readme.count(command) == 1);  // the README lists the command
        const std::set<std::string> listed = flags_in(from_readme.at(command));
        std::vector<std::string> missing, extra;
        std::set_difference(options.begin(), options.end(), listed.begin(), listed.end(), std::back_inserter(missing));
        std::set_difference(listed.begin(), listed.end(), options.begin(), options.end(), std::back_inserter(extra));
        INFO("in --help, not in the README: " << fmt::format("{}", fmt::join(missing, " ")));
        INFO("in the README, not in --help: " << fmt::format("{}", fmt::join(extra, " ")));
        CHECK(missing.empty());
        CHECK(extra.empty());
    }
    for (const auto& [command, text] : from_readme) {
        INFO("README lists seqgrad " << command);
        CHECK(from_help.count(command) == 1);  // and no command that does not exist
    }
}

// ---- faults: a killed process, a full disk ---------------------------------------------------------

namespace {
// Every entry of a folder with its bytes (to prove a failed command changed nothing).
std::map<std::string, std::string> folder_contents(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = read_file(e.path().string());
    return out;
}
}  // namespace

TEST_CASE("cli: SIGKILL at random moments leaves a folder that resumes or is refused with one line", "[cli][faults]") {
    // The long version, 100+ trials with the counts: tests/fault_injection.sh (README, Reliability).
    REQUIRE(fs::exists(binary()));
    TempDir dir("sigkill");
    const std::string corpus = write_corpus(dir, 300);
    auto train_args = [&](const std::string& out) {
        return std::vector<std::string>{"train", "--data", corpus, "--out", out, "--hidden", "8", "--embed", "8",
                                        "--batch", "16", "--epochs", "2", "--bleu-examples", "5", "--threads", "1"};
    };
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(run_cli(dir, train_args(dir / "reference")).exit_code == 0);
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int resumed = 0, refused = 0;
    for (double at : {0.05, 0.25, 0.45, 0.65, 0.85, 0.97}) {
        const std::string out = dir / fmt::format("killed_{}", at);
        const pid_t pid = spawn(train_args(out), dir / "kill_stdout", dir / "kill_stderr");
        std::this_thread::sleep_for(std::chrono::duration<double>(at * total));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!fs::exists(out)) continue;  // killed before it made the folder: nothing to check
        const Outcome r = run_cli(dir, {"train", "--out", out, "--resume", "--threads", "1"});
        INFO("killed after " << at * total << " s of " << total << " s; resume stdout: " << r.out << "\nstderr: " << r.err);
        CHECK(r.signal == 0);
        CHECK((r.exit_code == 0 || r.exit_code == 2));
        if (r.exit_code == 0) {
            ++resumed;
            CHECK(r.err.empty());
            CHECK_NOTHROW(models::Translator::load(out));
        } else {
            ++refused;
            CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        }
    }
    INFO(resumed << " resumed, " << refused << " refused");
    CHECK(resumed + refused > 0);
}

TEST_CASE("cli: a full disk during a checkpoint write gives one line, exit 2, and leaves the folder as it was",
          "[cli][faults]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("full_disk");
    const std::string model = train_folder(dir, write_corpus(dir, 300), "model");
    const auto before = folder_contents(model);
    const auto limit = static_cast<rlim_t>(before.at("last.safetensors").size() / 2);
    // `ulimit -f`: writes past `limit` bytes fail with EFBIG (SIGXFSZ ignored, as a shell would).
    const std::string out = dir / "stdout", err = dir / "stderr";
    std::vector<std::string> args = {binary(), "train", "--out", model, "--resume", "--epochs", "2", "--threads", "1"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const rlimit rl{limit, limit};
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // only async-signal-safe calls between fork and exec
        ::setrlimit(RLIMIT_FSIZE, &rl);
        ::signal(SIGXFSZ, SIG_IGN);
        const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(o, 1);
        ::dup2(e, 2);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    const Outcome r = finish(pid, out, err);
    require_one_error_line(r, "File too large");
    // The previous checkpoints and metrics are byte for byte intact, and no temporary file is left.
    const auto after = folder_contents(model);
    CHECK(after.size() == before.size());
    for (const auto& [name, bytes] : before) {
        INFO(name);
        REQUIRE(after.count(name) == 1);
        CHECK(after.at(name) == bytes);
    }
}

TEST_CASE("cli: a Transformer trains, translates with its attention grid, evaluates and resumes", "[cli][transformer]") {
    REQUIRE(fs::exists(binary()));
    TempDir dir("transformer_cli");
    const std::string corpus = write_corpus(dir, 300);
    const std::string model = dir / "tfm";
    const std::vector<std::string> train = {"train", "--arch", "transformer", "--data", corpus, "--out", model,
                                            "--d-model", "16", "--heads", "2", "--layers", "1", "--ff", "32",
                                            "--epochs", "1", "--threads", "1", "--bleu-examples", "10"};
    const Outcome t = run_cli(dir, train);
    INFO("train stdout: " << t.out << "\ntrain stderr: " << t.err);
    REQUIRE(t.exit_code == 0);
    const nlohmann::json config = nlohmann::json::parse(read_file(model + "/config.json"));
    CHECK(config["model"]["architecture"] == "transformer");

    // The attention of a Transformer is a figure: one grid per kind, one heatmap per layer and head.
    const std::string svg = dir / "grid.svg";
    const Outcome tr = run_cli(dir, {"translate", "--model", model, "--attention-svg", svg, "--show-attention", "3 1 4"});
    INFO("translate stdout: " << tr.out << "\ntranslate stderr: " << tr.err);
    REQUIRE(tr.exit_code == 0);
    const std::string figure = read_file(svg);
    for (const char* part : {"cross-attention (decoder → encoder)", "encoder self-attention",
                             "decoder self-attention (causal)", "layer 1, head 1", "layer 1, head 2"})
        CHECK_THAT(figure, Catch::Contains(part));
    // Three kinds x one layer x two heads, each a nested picture inside the figure.
    std::size_t nested = 0;
    for (auto at = figure.find("<svg x="); at != std::string::npos; at = figure.find("<svg x=", at + 1)) ++nested;
    CHECK(nested == 6);
    CHECK_THAT(tr.out, Catch::Contains("cross-attention (decoder → encoder), layer 1, head 2:"));
    CHECK_THAT(tr.out, Catch::Contains("decoder self-attention (causal), layer 1, head 1:"));

    const Outcome ev = run_cli(dir, {"eval", "--model", model, "--limit", "20"});
    INFO("eval stdout: " << ev.out << "\neval stderr: " << ev.err);
    CHECK(ev.exit_code == 0);
    CHECK_THAT(ev.out, Catch::Contains("BLEU"));

    const Outcome more = run_cli(dir, {"train", "--out", model, "--resume", "--epochs", "2"});
    INFO("resume stdout: " << more.out << "\nresume stderr: " << more.err);
    CHECK(more.exit_code == 0);
    CHECK_THAT(more.out, Catch::Contains("resuming " + model + " after epoch 1"));
    CHECK(load_safetensors(model + "/last.safetensors").metadata.at("epoch") == "2");

    // A flag of the other architecture is refused with one line, and nothing is written.
    const std::string other = dir / "other";
    require_one_error_line(run_cli(dir, {"train", "--arch", "transformer", "--data", corpus, "--out", other, "--hidden", "16"}),
                           "train: --hidden is an option of --arch rnn, not of --arch transformer");
    require_one_error_line(run_cli(dir, {"train", "--data", corpus, "--out", other, "--heads", "2"}),
                           "train: --heads is an option of --arch transformer, not of --arch rnn");
    CHECK_FALSE(fs::exists(other));
}

// The command's thread pool settings (core/blas.h one_quiet_thread_pool): with nothing set, idle
// OpenMP workers spin briefly (GOMP_SPINCOUNT=3000) and then sleep (passive) and OpenBLAS runs one
// thread; a GOMP_SPINCOUNT of the user's own is kept; OMP_WAIT_POLICY of the user's own leaves all of
// it to OpenMP. `bench --json` reports what the process saw.
TEST_CASE("cli: idle workers spin briefly then sleep unless the user chose otherwise", "[cli]") {
    TempDir dir("thread_wait");
    auto wait_seen = [&](const std::vector<std::string>& env) {
        std::vector<std::string> argv = {"/usr/bin/env", "-u", "OMP_WAIT_POLICY", "-u", "GOMP_SPINCOUNT", "-u",
                                         "OPENBLAS_NUM_THREADS"};
        argv.insert(argv.end(), env.begin(), env.end());
        for (const char* a : {"bench", "seq2seq", "--hidden", "8", "--batch", "2", "--len", "2", "--src-vocab", "8",
                              "--tgt-vocab", "8", "--steps", "1", "--warmup", "0", "--json"})
            argv.push_back(a);
        argv.insert(argv.begin() + static_cast<std::ptrdiff_t>(7 + env.size()), binary());
        const std::string out = dir / "out", err = dir / "err";
        const Outcome r = finish(spawn_program(argv, out, err), out, err);
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        return nlohmann::json::parse(r.out.substr(r.out.rfind('{'))).at("thread_wait").get<std::string>();
    };
    CHECK(wait_seen({}) == "OMP_WAIT_POLICY=passive GOMP_SPINCOUNT=3000");
    CHECK(wait_seen({"GOMP_SPINCOUNT=30000"}) == "OMP_WAIT_POLICY=passive GOMP_SPINCOUNT=30000");
    CHECK(wait_seen({"OMP_WAIT_POLICY=passive"}) == "OMP_WAIT_POLICY=passive GOMP_SPINCOUNT=(unset)");
}

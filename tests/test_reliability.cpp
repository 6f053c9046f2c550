// Reliability of training runs and model folders (issue 7), through the public entry points a user
// has: models::train and models::Translator::load.
//   - Damaged checkpoints: truncated, corrupted, newer-version, wrong-dtype, wrong-shape, missing and
//     extra tensors in a model folder's model.safetensors give one seqgrad::Error naming the file and,
//     where the damage belongs to one tensor, that tensor.
//   - Determinism: the same seed and thread count give bit-identical losses and checkpoint bytes;
//     N epochs straight equal k epochs + resume + the rest, and an interruption (stop_requested, as
//     Ctrl-C sets it) + resume, bit for bit.
//   - Anomaly mode: a NaN planted in a weight is reported as an AnomalyError naming the first op that
//     produced it; without anomaly mode a NaN loss stops training with stop_reason "NaN loss" and
//     leaves every file of the model folder byte for byte as it was.
//   - Memory: 200 training steps keep the live-tensor count at its baseline and make no new system
//     allocation after warm-up (the soak benchmark bench/soak.cpp runs the long version).
// Everything runs on a tiny model (hidden 16) and a few hundred generated pairs so each case takes
// well under a second in Release.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <sstream>
#include <streambuf>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "core/scoped_setting.h"
#include "helpers.h"
#include "model_helpers.h"
#include "models/background_save.h"
#include "models/bench.h"
#include "models/fileio.h"
#include "models/data/toy_tasks.h"
#include "models/resume.h"
#include "models/trainer.h"
#include "models/translator.h"
#include "optim/adam.h"
#include "optim/clip.h"

using namespace seqgrad;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A fresh directory, removed with its contents at scope exit.
using seqgrad::testing::TempDir;

// Sets the BLAS/OpenMP thread count for a scope.
using ThreadsGuard = ScopedSetting<int, omp_get_max_threads, models::set_num_threads>;

// n pairs of "reverse 2-5 digits", written as a TSV file in dir.
std::string write_corpus(const TempDir& dir, std::size_t n = 300) {
    return seqgrad::testing::write_digit_corpus(dir / "corpus.tsv", n, 11, 2, 5);
}

// A tiny run: hidden 16, 2 GRU layers with dropout between them and a decaying teacher-forcing ratio,
// so the dropout masks and teacher-forcing coins (both reseeded per epoch) are part of what must repeat.
models::TrainOptions tiny(const std::string& data, const std::string& out) {
    models::TrainOptions o = seqgrad::testing::small_run(data, out, 16, 16, 3, 10);
    o.model.num_layers = 2;
    o.model.dropout = 0.1;
    o.model.attention = "additive";
    o.batch_size = 32;
    o.lr = 1e-2;
    o.teacher_forcing = 0.8;
    o.teacher_forcing_decay = 0.9;
    o.seed = 5;
    return o;
}

models::TrainResult run(const models::TrainOptions& o) { return seqgrad::testing::train_quietly(o); }

std::string bytes_of(const std::string& path) { return read_file(path); }

// The checkpoint files a run writes, by name -> bytes.
std::map<std::string, std::string> folder_bytes(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) out[e.path().filename().string()] = bytes_of(e.path().string());
    return out;
}

// Rewrites the JSON header of a safetensors file (length prefix and padding fixed up); the data
// section, and so seqgrad's checksum of it, stays as it was.
std::string edit_header(const std::string& bytes, const std::function<void(json&)>& edit) {
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    json header = json::parse(bytes.substr(8, n));
    edit(header);
    std::string text = header.dump();
    while ((8 + text.size()) % 8) text += ' ';
    std::uint64_t m = text.size();
    std::string out(8, '\0');
    std::memcpy(out.data(), &m, 8);
    return out + text + bytes.substr(8 + n);
}

void require_identical_histories(const models::TrainResult& a, const models::TrainResult& b) {
    REQUIRE(a.history.size() == b.history.size());
    for (std::size_t i = 0; i < a.history.size(); ++i) {
        INFO("epoch " << a.history[i].epoch);
        // Exact equality on purpose: bit-identical runs, not merely close ones.
        CHECK(a.history[i].train_loss == b.history[i].train_loss);
        CHECK(a.history[i].valid_loss == b.history[i].valid_loss);
        CHECK(a.history[i].valid_bleu == b.history[i].valid_bleu);
        CHECK(a.history[i].grad_norm == b.history[i].grad_norm);
        CHECK(a.history[i].lr == b.history[i].lr);
        CHECK(a.history[i].teacher_forcing == b.history[i].teacher_forcing);
    }
    CHECK(a.best_epoch == b.best_epoch);
    CHECK(a.best_valid_loss == b.best_valid_loss);
}

void require_same_checkpoints(const std::string& a, const std::string& b) {
    for (const char* f : {"model.safetensors", "last.safetensors", "optimizer.safetensors", "split.json",
                          "source_vocab.json", "target_vocab.json"}) {
        INFO(f);
        CHECK(bytes_of(a + "/" + f) == bytes_of(b + "/" + f));
    }
}

// A stream buffer that sets models::stop_requested() (what the command line's SIGINT handler does)
// once the training log contains `trigger`.
class StopWhenLogged : public std::streambuf {
public:
    explicit StopWhenLogged(std::string trigger) : trigger_(std::move(trigger)) {}
    const std::string& text() const { return text_; }

protected:
    int overflow(int c) override {
        if (c != traits_type::eof()) append(std::string(1, static_cast<char>(c)));
        return c;
    }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        append(std::string(s, static_cast<std::size_t>(n)));
        return n;
    }

private:
    void append(const std::string& s) {
        text_ += s;
        if (text_.find(trigger_) != std::string::npos) models::stop_requested() = true;
    }
    std::string trigger_, text_;
};

// Runs `rest` (a run resumed from its folder) and requires it to end as `straight` did, trained
// without a break into straight_dir: the same histories and the same checkpoints, bit for bit.
models::TrainResult require_resumes_as(const models::TrainOptions& rest, const models::TrainResult& straight,
                                       const std::string& straight_dir) {
    const models::TrainResult resumed = run(rest);
    require_identical_histories(straight, resumed);
    require_same_checkpoints(straight_dir, rest.out_dir);
    return resumed;
}

// The start of the resume tests: one thread, a corpus in a fresh folder, and the tiny run trained
// straight through into <folder>/straight, which a run with a break must equal.
struct StraightRun {
    ThreadsGuard guard{1};
    TempDir dir;
    std::string data;
    models::TrainResult straight;
    explicit StraightRun(const std::string& name)
        : dir(name), data(write_corpus(dir)), straight(run(tiny(data, dir / "straight"))) {}
};

// A run stopped by a stop request: what the trainer returned and what it logged.
struct StoppedRun {
    models::TrainResult result;
    std::string log;
};

// Trains o, not quiet, with a stop request (Ctrl-C) raised once its log contains `trigger`; the
// request is cleared afterwards.
StoppedRun train_stopped_at(models::TrainOptions o, const std::string& trigger) {
    StopWhenLogged buf(trigger);
    std::ostream log(&buf);
    o.quiet = false;
    StoppedRun r{models::train(o, log), ""};
    models::stop_requested() = false;
    r.log = buf.text();
    return r;
}

}  // namespace

// ---- damaged checkpoints in a model folder --------------------------------------------------------

TEST_CASE("reliability: a damaged model.safetensors gives one error naming the file and the tensor",
          "[reliability][checkpoint]") {
    TempDir dir("checkpoint");
    auto o = tiny(write_corpus(dir, 200), dir / "model");
    o.epochs = 1;
    run(o);
    const std::string weights = dir / "model/model.safetensors";
    const std::string good = bytes_of(weights);
    const models::Translator reference = models::Translator::load(dir / "model");
    const auto state = reference.model().state_dict();
    REQUIRE(state.count("decoder.out.weight"));
    REQUIRE(state.count("encoder.embedding.weight"));

    // Each case writes a damaged file, expects Translator::load to fail naming the file (full path)
    // and every fragment listed, then puts the good file back.
    auto expect = [&](const std::string& what, const std::string& damaged, std::vector<std::string> fragments) {
        INFO(what);
        write_file_atomic(weights, damaged);
        try {
            (void)models::Translator::load(dir / "model");
            FAIL("loading succeeded");
        } catch (const Error& e) {
            const std::string msg = e.what();
            INFO(msg);
            CHECK(msg.rfind(weights + ":", 0) == 0);  // starts with the file's path
            CHECK(msg.find('\n') == std::string::npos);
            for (const auto& f : fragments) CHECK_THAT(msg, Catch::Contains(f));
        }
        write_file_atomic(weights, good);
        CHECK_NOTHROW(models::Translator::load(dir / "model"));
    };

    // Truncated inside the data section: the last tensor's bytes run past the end of the file. Which
    // tensor that is depends on the layout, so the expected name comes from the header.
    std::string last_tensor;
    {
        std::uint64_t n = 0;
        std::memcpy(&n, good.data(), 8);
        std::uint64_t last_end = 0;
        const json header = json::parse(good.substr(8, n));
        for (const auto& [name, v] : header.items())
            if (name != "__metadata__" && v["data_offsets"][1].get<std::uint64_t>() > last_end) {
                last_end = v["data_offsets"][1].get<std::uint64_t>();
                last_tensor = name;
            }
    }
    expect("truncated data", good.substr(0, good.size() - 5), {"tensor '" + last_tensor + "'", "truncated"});
    // Truncated inside the header: no tensor can be named yet; the message says what is wrong.
    expect("truncated header", good.substr(0, 40), {"header length", "truncated"});
    expect("shorter than the length prefix", good.substr(0, 5), {"too short"});
    // A flipped byte in the data section: the CRC-32C over the data section catches it. The checksum
    // covers the whole section, so it cannot tell which tensor; the message says the file is corrupted.
    {
        std::string bad = good;
        bad[bad.size() - 3] = static_cast<char>(bad[bad.size() - 3] ^ 0x40);
        expect("corrupted data byte", bad, {"corrupted: checksum mismatch"});
    }
    expect("newer format version",
           edit_header(good, [](json& h) { h["__metadata__"]["format_version"] = "2"; }),
           {"newer seqgrad (format_version 2)", "reads version 1"});
    expect("unsupported dtype in the header",
           edit_header(good, [](json& h) { h["decoder.out.weight"]["dtype"] = "BF16"; }),
           {"unsupported dtype BF16 for tensor 'decoder.out.weight'"});

    // Well-formed files whose tensors do not fit the model.
    auto saved = [&](std::map<std::string, Tensor> tensors) {
        const std::string tmp = dir / "variant.safetensors";
        save_safetensors(tmp, tensors);
        return bytes_of(tmp);
    };
    {
        auto s = state;
        s["decoder.out.weight"] = s["decoder.out.weight"].to(DType::Float64);
        expect("wrong dtype", saved(s), {"tensor 'decoder.out.weight' has dtype float64 in the file but float32"});
    }
    {
        auto s = state;
        const Shape shape = s["encoder.embedding.weight"].shape();
        s["encoder.embedding.weight"] = zeros({shape[0] + 1, shape[1]});
        expect("wrong shape", saved(s),
               {fmt::format("tensor 'encoder.embedding.weight' has shape {} in the file but {} in the model",
                            shape_str({shape[0] + 1, shape[1]}), shape_str(shape))});
    }
    {
        auto s = state;
        s.erase("decoder.out.bias");
        s["decoder.extra"] = zeros({2});
        expect("missing and extra tensors", saved(s),
               {"missing from the file: 'decoder.out.bias'", "in the file but not in the model: 'decoder.extra'"});
    }
    // A missing weights file names the path and the system's reason.
    fs::remove(weights);
    CHECK_THROWS_WITH(models::Translator::load(dir / "model"),
                      Catch::StartsWith(weights + ": cannot open") && Catch::Contains("No such file"));
}

// ---- determinism ---------------------------------------------------------------------------------

TEST_CASE("reliability: the same seed and thread count give bit-identical losses and weights",
          "[reliability][determinism]") {
    TempDir dir("determinism");
    const std::string data = write_corpus(dir);
    for (int threads : {1, 2}) {
        INFO(threads << " thread(s)");
        ThreadsGuard guard(threads);
        const auto a = run(tiny(data, dir / fmt::format("a{}", threads)));
        const auto b = run(tiny(data, dir / fmt::format("b{}", threads)));
        REQUIRE(a.history.size() == 3);
        require_identical_histories(a, b);
        require_same_checkpoints(dir / fmt::format("a{}", threads), dir / fmt::format("b{}", threads));
    }
    // The comparison can fail: another seed gives other weights.
    ThreadsGuard guard(1);
    auto o = tiny(data, dir / "other_seed");
    o.seed = 6;
    run(o);
    CHECK(bytes_of(dir / "a1/last.safetensors") != bytes_of(dir / "other_seed/last.safetensors"));
}

TEST_CASE("reliability: N epochs straight equal k epochs, resume, and the rest, bit for bit",
          "[reliability][determinism][resume]") {
    const StraightRun s("resume");
    REQUIRE(s.straight.history.size() == 3);

    for (std::int64_t k : {1, 2}) {
        INFO("stop after epoch " << k);
        const std::string out = s.dir / fmt::format("resumed{}", k);
        auto first = tiny(s.data, out);
        first.epochs = k;
        REQUIRE(run(first).history.size() == static_cast<std::size_t>(k));
        auto rest = tiny(s.data, out);
        rest.resume = true;
        CHECK(require_resumes_as(rest, s.straight, s.dir / "straight").stop_reason == "epochs");
    }
    // Resuming a folder that holds no run is an error naming the folder.
    auto none = tiny(s.data, s.dir / "empty");
    none.resume = true;
    CHECK_THROWS_WITH(run(none), Catch::Contains("--resume") && Catch::Contains("holds no run to resume"));
}

// ---- checkpoints written in the background -------------------------------------------------------

TEST_CASE("reliability: checkpoints written in the background equal the blocking ones byte for byte",
          "[reliability][background-save]") {
    ThreadsGuard guard(1);
    TempDir dir("background_save");
    const std::string data = write_corpus(dir);
    auto blocking = tiny(data, dir / "blocking");
    blocking.background_save = false;
    const auto a = run(blocking);
    const auto b = run(tiny(data, dir / "background"));
    REQUIRE(a.history.size() == 3);
    require_identical_histories(a, b);
    require_same_checkpoints(dir / "blocking", dir / "background");
    CHECK(load_safetensors(dir / "background/last.safetensors").metadata.at("epoch") == "3");
    // metrics.jsonl (one line per epoch) and loss.svg are there when train() returns.
    const std::string metrics = bytes_of(dir / "background/metrics.jsonl");
    CHECK(std::count(metrics.begin(), metrics.end(), '\n') == 3);
    CHECK(fs::exists(dir / "background/loss.svg"));
    REQUIRE(b.timings.size() == 3);
    for (const auto& t : b.timings) CHECK(t.checkpoint >= 0);
}

TEST_CASE("reliability: a checkpoint write that fails in the background stops the run with its error",
          "[reliability][background-save]") {
    ThreadsGuard guard(1);
    TempDir dir("background_save_fails");
    const std::string data = write_corpus(dir);
    for (bool background : {false, true}) {
        INFO((background ? "background" : "blocking"));
        const std::string out = dir / (background ? "background" : "blocking");
        auto o = tiny(data, out);
        o.background_save = background;
        // During epoch 2 a folder takes the place of optimizer.safetensors: epoch 2's write cannot
        // rename its file there. Blocking, the error comes from epoch 2's save; in the background,
        // from the next wait (epoch 3's save), which must not start epoch 3's writes.
        o.on_train_batch = [out](std::int64_t epoch, const data::Batch&) {
            const std::string p = out + "/optimizer.safetensors";
            if (epoch == 2 && !fs::is_directory(p)) {
                fs::remove(p);
                fs::create_directory(p);
            }
        };
        CHECK_THROWS_WITH(run(o), Catch::Contains("optimizer.safetensors"));
        // The weights files are whole: epoch 2's went before its optimizer file (in the background,
        // epoch 1's job may still have been writing when the folder appeared: then it is the one
        // that failed, and last.safetensors is epoch 1's).
        CHECK(load_safetensors(out + "/model.safetensors").metadata.count("epoch") == 1);
        const std::string last = load_safetensors(out + "/last.safetensors").metadata.at("epoch");
        if (background)
            CHECK((last == "1" || last == "2"));
        else
            CHECK(last == "2");
        CHECK(fs::is_directory(out + "/optimizer.safetensors"));  // what was there is left alone
    }
}

TEST_CASE("reliability: background saves run one at a time in order and hand their errors to the next wait",
          "[reliability][background-save]") {
    std::vector<int> order;
    {
        models::BackgroundSave save(true);
        for (int i = 1; i <= 3; ++i)
            save.submit([&order, i] {
                std::this_thread::sleep_for(std::chrono::milliseconds(10 * (4 - i)));  // the first is the slowest
                order.push_back(i);
            });
        save.wait();
        CHECK(order == std::vector<int>{1, 2, 3});
        // A failed job: its error, unchanged, from the next wait or submit, once; a job submitted
        // after the failure does not run.
        save.submit([] { fail("disk full writing x.safetensors"); });
        bool ran = false;
        CHECK_THROWS_WITH(save.submit([&ran] { ran = true; }), "disk full writing x.safetensors");
        CHECK_FALSE(ran);
        CHECK_NOTHROW(save.wait());
        save.submit([] { fail("second error"); });
        CHECK_THROWS_WITH(save.wait(), "second error");
        save.submit([] { fail("left pending"); });  // the destructor waits and drops it
    }
    // Blocking: the job runs inside submit, and so does its error.
    models::BackgroundSave blocking(false);
    int runs = 0;
    blocking.submit([&runs] { ++runs; });
    CHECK(runs == 1);
    CHECK_THROWS_WITH(blocking.submit([] { fail("at once"); }), "at once");
}

TEST_CASE("reliability: a snapshot of tensors owns its values", "[reliability][background-save]") {
    Tensor w = Tensor::from({1, 2, 3, 4}, {2, 2});
    w.set_requires_grad(true);
    const Tensor ids = Tensor::ids({7, 8}, {2});
    const auto copy = models::snapshot({{"w", w}, {"ids", ids}});
    {
        NoGradGuard no_grad;
        w.fill_(0.0);
    }
    REQUIRE(copy.size() == 2);
    CHECK(copy.at("w").to_vector() == std::vector<double>{1, 2, 3, 4});
    CHECK(copy.at("w").shape() == Shape{2, 2});
    CHECK_FALSE(copy.at("w").requires_grad());
    CHECK(copy.at("ids").dtype() == DType::Int64);
    CHECK(copy.at("ids").to_ids() == std::vector<std::int64_t>{7, 8});
}

// ---- Ctrl-C --------------------------------------------------------------------------------------

TEST_CASE("reliability: a stop request (Ctrl-C) after the first epoch saves, stops cleanly, and resumes exactly",
          "[reliability][interrupt]") {
    const StraightRun s("interrupt");

    // The flag is raised while epoch 1's summary line is written, i.e. after its checkpoints are saved;
    // the trainer sees it at the first batch of epoch 2.
    const StoppedRun stopped = train_stopped_at(tiny(s.data, s.dir / "interrupted"), "epoch   1  train loss");
    const auto& r = stopped.result;
    INFO(stopped.log);
    CHECK(r.stop_reason == "interrupted");
    REQUIRE(r.history.size() == 1);
    CHECK_THAT(stopped.log, Catch::Contains("interrupted: weights saved to") && Catch::Contains("--resume"));
    // The mid-epoch weights are saved and load; last.safetensors holds the complete epoch 1.
    const SafetensorsFile mid = load_safetensors(s.dir / "interrupted/interrupted.safetensors");
    CHECK(mid.metadata.at("epoch") == "2");
    CHECK(load_safetensors(s.dir / "interrupted/last.safetensors").metadata.at("epoch") == "1");
    CHECK_NOTHROW(models::Translator::load(s.dir / "interrupted", "interrupted.safetensors"));

    auto rest = tiny(s.data, s.dir / "interrupted");
    rest.resume = true;
    require_resumes_as(rest, s.straight, s.dir / "straight");
}

TEST_CASE("reliability: a stop request before the first epoch ends names only files that exist, and --resume "
          "alone starts the run again",
          "[reliability][interrupt]") {
    const StraightRun s("interrupt0");
    // Raised by the summary printed before the first batch: nothing of epoch 1 completes.
    const StoppedRun stopped = train_stopped_at(tiny(s.data, s.dir / "early"), " parameters\n");
    const auto& r = stopped.result;
    INFO(stopped.log);
    CHECK(r.stop_reason == "interrupted");
    CHECK(r.history.empty());
    CHECK_FALSE(fs::exists(s.dir / "early/last.safetensors"));
    CHECK(fs::exists(s.dir / "early/interrupted.safetensors"));
    CHECK_THAT(stopped.log, Catch::Contains("no epoch is complete yet, and `seqgrad train --resume --out " +
                                           (s.dir / "early") + "` starts the run again from epoch 1"));
    CHECK_THAT(stopped.log, !Catch::Contains("last.safetensors"));
    // The command it names works: the folder alone resumes, and gives the run trained straight.
    require_resumes_as(models::stored_train_options(s.dir / "early"), s.straight, s.dir / "straight");
    CHECK_FALSE(fs::exists(s.dir / "early/interrupted.safetensors"));
}

// ---- anomaly mode and NaN losses ------------------------------------------------------------------

TEST_CASE("reliability: a NaN weight under detect_anomaly is an AnomalyError naming the first op",
          "[reliability][anomaly]") {
    ThreadsGuard guard(1);
    TempDir dir("anomaly");
    const std::string data = write_corpus(dir, 200);
    auto o = tiny(data, dir / "model");
    o.epochs = 1;
    run(o);
    // Plant a NaN in the output layer's weight of the checkpoint the run resumes from. The encoder and
    // the decoder's recurrent cell still compute finite values; the first op whose output holds a NaN
    // is the output projection `linear`, not the log-softmax or the loss that would follow it.
    const std::string last = dir / "model/last.safetensors";
    SafetensorsFile f = load_safetensors(last);
    Tensor w = f.tensors.at("decoder.out.weight");
    w.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
    save_safetensors(last, f.tensors, {{"epoch", "1"}});
    const auto before = folder_bytes(dir / "model");

    auto again = tiny(data, dir / "model");
    again.resume = true;
    again.detect_anomaly = true;
    try {
        run(again);
        FAIL("training did not throw");
    } catch (const AnomalyError& e) {
        CHECK_THAT(e.what(), Catch::StartsWith("anomaly: forward of 'linear' produced NaN"));
    }
    CHECK_FALSE(anomaly_detection());  // the trainer's guard restored the mode
    CHECK(folder_bytes(dir / "model") == before);
}

TEST_CASE("reliability: without anomaly mode a NaN loss stops training and leaves the checkpoints untouched",
          "[reliability][anomaly]") {
    ThreadsGuard guard(1);
    TempDir dir("nan");
    const std::string data = write_corpus(dir, 200);
    auto o = tiny(data, dir / "model");
    o.epochs = 1;
    const auto first = run(o);
    const std::string good_model = bytes_of(dir / "model/model.safetensors");

    const std::string last = dir / "model/last.safetensors";
    SafetensorsFile f = load_safetensors(last);
    f.tensors.at("encoder.embedding.weight").fill_(std::numeric_limits<double>::quiet_NaN());
    save_safetensors(last, f.tensors, {{"epoch", "1"}});
    const auto before = folder_bytes(dir / "model");

    auto again = tiny(data, dir / "model");
    again.resume = true;
    std::ostringstream log;
    const auto r = models::train(again, log);
    CHECK(r.stop_reason == "NaN loss");
    CHECK(r.history.size() == first.history.size());  // no epoch was added
    CHECK_THAT(log.str(), Catch::Contains("the loss became NaN/Inf in epoch 2") &&
                              Catch::Contains("keeps the last good checkpoint (epoch 1)"));
    // Byte for byte: the best weights, last weights, optimizer state, metrics and everything else.
    const auto after = folder_bytes(dir / "model");
    CHECK(after == before);
    CHECK(after.at("model.safetensors") == good_model);
    CHECK(after.count("interrupted.safetensors") == 0);
}

// ---- memory --------------------------------------------------------------------------------------

TEST_CASE("reliability: 200 training steps keep the live-tensor count at baseline and allocate nothing new",
          "[reliability][memory]") {
    ThreadsGuard guard(1);
    const std::int64_t live_before = TensorImpl::live_count();
    {
        models::Seq2SeqConfig c;
        c.src_vocab = 30;
        c.tgt_vocab = 30;
        c.embed_size = 16;
        c.hidden_size = 16;
        c.attention = "additive";
        Generator gen(3);
        models::Seq2Seq model(c, &gen);
        optim::Adam adam(model.parameters(), {.lr = 1e-3});
        const auto params = model.parameters();

        // Four batches of different shapes and padding, cycled, as a bucketed epoch would give.
        struct Batch {
            Tensor src, tgt_in, tgt_out;
            std::vector<std::int64_t> lengths;
        };
        std::vector<Batch> batches;
        data::SplitMix64 rng(9);
        for (auto [B, S, T] : {std::array<std::int64_t, 3>{8, 5, 6}, {8, 7, 4}, {5, 3, 3}, {8, 9, 10}}) {
            std::vector<std::int64_t> src(static_cast<std::size_t>(B * S), models::kPad), in(static_cast<std::size_t>(B * T), models::kPad),
                out(static_cast<std::size_t>(B * T), models::kPad), lengths;
            for (std::int64_t b = 0; b < B; ++b) {
                const auto len = static_cast<std::int64_t>(1 + rng.below(static_cast<std::uint64_t>(S)));
                lengths.push_back(len);
                for (std::int64_t s = 0; s < len; ++s) src[b * S + s] = 4 + static_cast<std::int64_t>(rng.below(26));
                in[b * T] = models::kSos;
                for (std::int64_t t = 0; t + 1 < T; ++t) in[b * T + t + 1] = out[b * T + t] = 4 + static_cast<std::int64_t>(rng.below(26));
                out[b * T + T - 1] = models::kEos;
            }
            batches.push_back({Tensor::ids(src, {B, S}), Tensor::ids(in, {B, T}), Tensor::ids(out, {B, T}), lengths});
        }
        auto step = [&](std::size_t i) {
            const Batch& b = batches[i % batches.size()];
            adam.zero_grad();
            Tensor loss = model.loss(b.src, b.lengths, b.tgt_in, b.tgt_out);
            loss.backward();
            optim::clip_grad_norm(params, 1.0);
            adam.step();
            return loss.item();
        };
        const std::size_t warmup = 2 * batches.size();
        for (std::size_t i = 0; i < warmup; ++i) step(i);
        const std::int64_t live = TensorImpl::live_count();
        const std::size_t system_allocations = memory::stats().system_allocations;
        double first_loss = 0, last_loss = 0;  // of batch 0, which warmup is a multiple of
        std::size_t live_changes = 0;
        for (std::size_t i = warmup; i < 200; ++i) {
            const double l = step(i);
            if (i == warmup) first_loss = l;
            if (i % batches.size() == 0) last_loss = l;
            if (TensorImpl::live_count() != live) ++live_changes;
        }
        CHECK(live_changes == 0);
        CHECK(TensorImpl::live_count() == live);
        CHECK(memory::stats().system_allocations == system_allocations);
        CHECK(std::isfinite(last_loss));
        CHECK(last_loss < first_loss);  // it did train
    }
    // Model, optimizer state, gradients and graphs are all gone.
    CHECK(TensorImpl::live_count() == live_before);
}

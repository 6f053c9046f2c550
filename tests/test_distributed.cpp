// Data parallelism over MPI (core/distributed.h).
//   - The pure parts, in this process: shards of a batch, buckets of parameters, the gradient
//     reducer's scaling in a world of one, agree() passing a stage's error through.
//   - `mpirun -np 2 --oversubscribe` on localhost against the built binary (tag [mpi]; skipped with a
//     note when mpirun or an MPI build is missing): 2 processes train what 1 process trains, a run
//     resumes with another number of processes, a killed rank stops the job with one line naming it,
//     a rank that cannot read its corpus stops every rank with its one-line error.
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/distributed.h"
#include "core/safetensors.h"
#include "helpers.h"
#include "model_helpers.h"
#include "models/bench_scaling.h"
#include "models/fileio.h"
#include "process_helpers.h"

using namespace seqgrad;
namespace fs = std::filesystem;
using seqgrad::testing::TempDir;
using seqgrad::testing::check_values;

// ---- in this process ----------------------------------------------------------------------------

namespace {
// A bucket of dist::plan_buckets: the parameters first..last-1, at `offset`, `floats` floats in all.
void check_bucket(const dist::Bucket& b, std::size_t first, std::size_t last, std::size_t offset, std::size_t floats) {
    INFO("the bucket of parameters " << first << ".." << last);
    CHECK(b.first == first);
    CHECK(b.last == last);
    CHECK(b.offset == offset);
    CHECK(b.floats == floats);
}
}  // namespace

TEST_CASE("distributed: shards are contiguous, cover the batch once and differ by at most one", "[distributed]") {
    for (std::size_t n : {0, 1, 2, 7, 8, 31, 128})
        for (int size : {1, 2, 3, 4, 8}) {
            std::size_t next = 0, smallest = n, largest = 0;
            for (int r = 0; r < size; ++r) {
                const dist::Range s = dist::shard(n, r, size);
                INFO("n " << n << " size " << size << " rank " << r);
                CHECK(s.begin == next);
                next = s.end;
                smallest = std::min(smallest, s.size());
                largest = std::max(largest, s.size());
            }
            CHECK(next == n);
            CHECK(largest - smallest <= 1);
        }
    // Hand-checked: 7 pairs over 3 ranks are 3 + 2 + 2; 1 pair over 2 ranks leaves rank 1 empty.
    CHECK(dist::shard(7, 0, 3).begin == 0);
    CHECK(dist::shard(7, 0, 3).end == 3);
    CHECK(dist::shard(7, 1, 3).begin == 3);
    CHECK(dist::shard(7, 1, 3).end == 5);
    CHECK(dist::shard(7, 2, 3).end == 7);
    CHECK(dist::shard(1, 1, 2).empty());
    CHECK_THROWS_WITH(dist::shard(4, 2, 2), "dist::shard: rank 2 outside a world of size 2");
}

TEST_CASE("distributed: buckets group consecutive parameters and never split one", "[distributed]") {
    const std::vector<std::size_t> numels = {3, 4, 10, 1, 1, 2};
    const auto b = dist::plan_buckets(numels, 8);
    // [3, 4] = 7; 10 alone (larger than a bucket); [1, 1, 2] = 4.
    REQUIRE(b.size() == 3);
    check_bucket(b[0], 0, 2, 0, 7);
    check_bucket(b[1], 2, 3, 7, 10);
    check_bucket(b[2], 3, 6, 17, 4);
    CHECK(dist::plan_buckets(numels, 1000).size() == 1);
    CHECK(dist::plan_buckets({}, 8).empty());
    CHECK_THROWS_WITH(dist::plan_buckets(numels, 0), "dist::plan_buckets: bucket size must be at least 1 float");
}

TEST_CASE("distributed: the reducer of one process gives weight / total times the gradient", "[distributed]") {
    Tensor a = Tensor::from_float({1, 2, 3}, {3}, {.requires_grad = true});
    Tensor b = Tensor::from_float({5, 6}, {2}, {.requires_grad = true});
    Tensor unused = Tensor::from_float({0}, {1}, {.requires_grad = true});
    sum(mul(a, a)).backward();  // da = 2a; b and unused get none
    dist::GradientReducer reducer({a, b, unused}, 3);  // buckets of 3 floats: a, then b + unused
    CHECK(reducer.calls() == 2);
    CHECK(reducer.floats() == 6 + 3);  // the gradients and one definedness count per parameter
    reducer.reduce(3, 4);              // this rank's 3 tokens of 4
    check_values(a.grad(), {1.5, 3.0, 4.5}, 1e-6);
    CHECK_FALSE(b.grad().defined());   // undefined everywhere stays undefined: the optimizer skips it
    CHECK_FALSE(unused.grad().defined());
    // A world of one with the whole batch leaves the gradients as they are.
    reducer.reduce(4, 4);
    check_values(a.grad(), {1.5, 3.0, 4.5}, 1e-6);
    Tensor d = Tensor::from({1}, {1}, {.dtype = DType::Float64, .requires_grad = true});
    CHECK_THROWS_WITH(dist::GradientReducer({d}), "GradientReducer: expects float32 parameters, got float64 [1]");
    CHECK_THROWS_WITH(dist::broadcast(std::vector<Tensor>{d}), "dist::broadcast: expects float32 tensors, got float64 [1]");
}

TEST_CASE("distributed: one process is rank 0 of 1, and agree passes a stage's error through", "[distributed]") {
    CHECK(dist::rank() == 0);
    CHECK(dist::size() == 1);
    CHECK_FALSE(dist::active());
    int ran = 0;
    dist::agree([&] { ++ran; });
    CHECK(ran == 1);
    CHECK_THROWS_WITH(dist::agree([] { fail<Error>("train: a bad corpus"); }), "train: a bad corpus");
    CHECK(dist::report_failure());  // a single process always prints its own error
    CHECK(std::string(dist::PeerFailed(1).what()) == "rank 1 failed (its error is on its standard error)");
    double v[2] = {1, 2};
    dist::allreduce_sum(std::span<double>(v, 2));  // no-ops in a world of one
    CHECK(v[1] == 2);
    CHECK(dist::broadcast_value(7) == 7);
}

// ---- under mpirun -----------------------------------------------------------------------------

namespace {

std::string binary() { return seqgrad::testing::seqgrad_binary(); }

// mpirun on PATH, or empty.
std::string find_mpirun() {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    for (std::size_t at = 0; at <= dirs.size();) {
        const std::size_t colon = std::min(dirs.find(':', at), dirs.size());
        const fs::path candidate = fs::path(dirs.substr(at, colon - at)) / "mpirun";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        at = colon + 1;
    }
    return {};
}

std::vector<std::string> mpirun(int processes);

// mpirun starts two processes here at all (a container without shared memory or a broken Open MPI
// install is the machine's problem, not seqgrad's: the tests say so and skip). Checked once.
bool mpirun_works() {
    static const int ok = [] {
        std::vector<std::string> argv = mpirun(2);
        argv.push_back("/bin/true");
        const std::string log = (fs::temp_directory_path() / ("seqgrad_mpirun_probe_" + std::to_string(::getpid()))).string();
        const pid_t pid = seqgrad::testing::try_spawn(argv, log, log);  // stdout and stderr into the log
        int status = -1;
        if (pid > 0) ::waitpid(pid, &status, 0);
        const bool works = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!works) WARN("skipped: `mpirun -np 2 /bin/true` fails on this machine: " << read_file(log));
        fs::remove(log);
        return works ? 1 : 0;
    }();
    return ok == 1;
}

// True when this build and this machine can run the [mpi] tests; otherwise says why (a warning:
// the test passes, skipped).
bool mpi_available() {
    if (!dist::built_with_mpi()) {
        WARN("skipped: this build has no MPI (configure with libopenmpi-dev installed, SEQGRAD_MPI=ON)");
        return false;
    }
    if (find_mpirun().empty()) {
        WARN("skipped: mpirun is not on PATH (Debian: apt-get install openmpi-bin)");
        return false;
    }
#ifdef __SANITIZE_ADDRESS__
    // Open MPI's start-up keeps allocations to the end and hooks the allocator itself: LeakSanitizer
    // would fail every rank at exit. `make test` runs these tests without sanitizers.
    WARN("skipped under AddressSanitizer: Open MPI's own allocations are not sanitizer-clean");
    return false;
#else
    return mpirun_works();
#endif
}

// `mpirun -np N` as a test runs it: quiet (-q: Open MPI's own banners off, seqgrad's lines stay),
// processes may outnumber the cores, no pinning (the machine is shared), and as root when the tests
// run as root (CI).
std::vector<std::string> mpirun(int processes) {
    std::vector<std::string> a = {find_mpirun(), "-q", "-np", std::to_string(processes), "--oversubscribe", "--bind-to", "none"};
    if (::geteuid() == 0) a.push_back("--allow-run-as-root");
    return a;
}

struct Run {
    pid_t pid = 0;
    std::string out, err;
};
using Finished = seqgrad::testing::Outcome;

Run start(std::vector<std::string> argv, const TempDir& dir, const std::string& name) {
    Run r{.pid = 0, .out = (dir.path / (name + ".out")).string(), .err = (dir.path / (name + ".err")).string()};
    r.pid = seqgrad::testing::spawn_program(std::move(argv), r.out, r.err);
    return r;
}

// Waits for the run to end, at most `limit` seconds (then kills it and fails: a hang).
Finished finish(const Run& r, double limit = 120) { return seqgrad::testing::finish(r.pid, r.out, r.err, limit); }

Finished run(std::vector<std::string> argv, const TempDir& dir, const std::string& name, double limit = 120) {
    return finish(start(std::move(argv), dir, name), limit);
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::string write_corpus(const TempDir& dir, std::size_t n, const std::string& name = "corpus.tsv") {
    return seqgrad::testing::write_digit_corpus((dir.path / name).string(), n, 5, 2, 6);
}

// metrics.jsonl's per-epoch numbers.
std::vector<nlohmann::json> epoch_metrics(const std::string& folder) {
    std::vector<nlohmann::json> rows;
    std::istringstream in(read_file(folder + "/metrics.jsonl"));
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
    return rows;
}

// The largest |a - b| over every tensor of two weight files with the same names and shapes.
double max_weight_difference(const std::string& a, const std::string& b) {
    const auto ta = load_safetensors(a).tensors, tb = load_safetensors(b).tensors;
    REQUIRE(ta.size() == tb.size());
    double worst = 0;
    for (const auto& [name, t] : ta) {
        REQUIRE(tb.count(name) == 1);
        const auto va = t.to_vector(), vb = tb.at(name).to_vector();
        REQUIRE(va.size() == vb.size());
        for (std::size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(va[i] - vb[i]));
    }
    return worst;
}

// The run's settings shared by the tests below: a small GRU, no dropout and full teacher forcing, so
// that the run draws no random numbers during training and 1 and 2 processes can be compared.
std::vector<std::string> train_args(const std::string& corpus, const std::string& out, int epochs) {
    return {"train", "--data", corpus, "--out", out, "--hidden", "16", "--batch", "8", "--epochs", std::to_string(epochs),
            "--bleu-examples", "20", "--threads", "1", "--seed", "3", "--lr", "0.005"};
}

// Tolerances of 1 against 2 processes. The two compute the same sums in another order: a rank sums
// its shard's per-token gradients in float32, scales by n_r / N, and the ranks' parts are added by
// the all-reduce, where one process sums all tokens at once. Each step's gradient therefore differs
// by a few float32 roundings (relative ~1e-7); Adam's update is lr · m / (√v + ε), so each step moves
// a weight by at most ~lr = 5e-3, and the rounding changes that move by a tiny fraction, which the
// following steps carry along. After 3 epochs of 30 steps the weights agree to ~5e-6 here; the test
// allows 5e-5, 1% of one step's move: a real difference (a shard's gradient counted twice, a wrong
// normalisation, a missed all-reduce) moves weights by whole steps. Losses: 1e-5 relative.
constexpr double kWeightTolerance = 5e-5;
constexpr double kLossTolerance = 1e-5;

}  // namespace

TEST_CASE("mpi: 2 processes with a global batch of 8 train what 1 process trains with batch 8", "[mpi]") {
    if (!mpi_available()) return;
    TempDir dir("mpi_equal");
    const std::string corpus = write_corpus(dir, 300);
    const std::string one = (dir.path / "one").string(), two = (dir.path / "two").string();
    const Finished a = run(std::vector<std::string>{binary()} + train_args(corpus, one, 3), dir, "one");
    REQUIRE(a.exit_code == 0);
    const Finished b = run(mpirun(2) + std::vector<std::string>{binary()} + train_args(corpus, two, 3), dir, "two");
    INFO("stderr: " << b.err);
    REQUIRE(b.exit_code == 0);
    CHECK(b.err.empty());
    // Rank 0 alone prints: as many lines as the single process (its summary line names the processes).
    CHECK(std::count(b.out.begin(), b.out.end(), '\n') == std::count(a.out.begin(), a.out.end(), '\n'));
    CHECK_THAT(b.out, Catch::Contains("2 processes, 4 pairs per process and batch"));
    const auto ma = epoch_metrics(one), mb = epoch_metrics(two);
    REQUIRE(ma.size() == 3);
    REQUIRE(mb.size() == 3);
    for (std::size_t e = 0; e < 3; ++e) {
        INFO("epoch " << e + 1);
        for (const char* key : {"train_loss", "valid_loss", "grad_norm"})
            CHECK(mb[e][key].get<double>() == Approx(ma[e][key].get<double>()).epsilon(kLossTolerance));
        // BLEU and exact match from greedy decodes of nearly equal weights: the same here (a
        // near-tie between two tokens could flip one, which these weights do not have).
        CHECK(mb[e]["valid_bleu"].get<double>() == Approx(ma[e]["valid_bleu"].get<double>()).margin(1e-9));
        CHECK(mb[e]["valid_exact_match"].get<double>() == Approx(ma[e]["valid_exact_match"].get<double>()).margin(1e-9));
    }
    for (const char* file : {"last.safetensors", "model.safetensors"})
        CHECK(max_weight_difference(one + "/" + file, two + "/" + file) < kWeightTolerance);
    // Only rank 0 wrote, and the folder holds what a single process writes.
    std::set<std::string> fa, fb;
    for (const auto& e : fs::directory_iterator(one)) fa.insert(e.path().filename().string());
    for (const auto& e : fs::directory_iterator(two)) fb.insert(e.path().filename().string());
    CHECK(fa == fb);
}

TEST_CASE("mpi: a run trained by 2 processes resumes with 1 and with 3 and ends as a single run", "[mpi]") {
    if (!mpi_available()) return;
    TempDir dir("mpi_resume");
    const std::string corpus = write_corpus(dir, 300);
    const std::string straight = (dir.path / "straight").string(), split = (dir.path / "split").string();
    REQUIRE(run(std::vector<std::string>{binary()} + train_args(corpus, straight, 3), dir, "straight").exit_code == 0);
    const Finished first = run(mpirun(2) + std::vector<std::string>{binary()} + train_args(corpus, split, 1), dir, "first");
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    // Epoch 2 with one process, epoch 3 with three (a shard of 8 pairs: 3 + 3 + 2).
    const Finished second = run({binary(), "train", "--resume", "--out", split, "--epochs", "2"}, dir, "second");
    INFO(second.err);
    REQUIRE(second.exit_code == 0);
    const Finished third = run(mpirun(3) + std::vector<std::string>{binary(), "train", "--resume", "--out", split, "--epochs", "3"},
                               dir, "third");
    INFO(third.err);
    REQUIRE(third.exit_code == 0);
    CHECK_THAT(third.out, Catch::Contains("resuming " + split + " after epoch 2"));
    const auto ms = epoch_metrics(straight), mr = epoch_metrics(split);
    REQUIRE(mr.size() == 3);
    for (std::size_t e = 0; e < 3; ++e)
        CHECK(mr[e]["train_loss"].get<double>() == Approx(ms[e]["train_loss"].get<double>()).epsilon(kLossTolerance));
    CHECK(max_weight_difference(straight + "/last.safetensors", split + "/last.safetensors") < kWeightTolerance);
}

namespace {
// The process of `rank` among the children of mpirun `launcher` (its environment names the rank).
pid_t rank_process(pid_t launcher, int rank) {
    const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
        std::ifstream stat(e.path() / "stat");
        std::string pid, comm, state;
        long ppid = 0;
        if (!(stat >> pid >> comm >> state >> ppid) || ppid != launcher) continue;
        std::ifstream env(e.path() / "environ", std::ios::binary);
        for (std::string entry; std::getline(env, entry, '\0');)
            if (entry == want) return static_cast<pid_t>(std::stol(name));
    }
    return 0;
}
}  // namespace

TEST_CASE("mpi: a rank killed with SIGKILL stops the others within seconds with one line naming it", "[mpi]") {
    if (!mpi_available()) return;
    TempDir dir("mpi_kill");
    const std::string corpus = write_corpus(dir, 300);
    const std::string out = (dir.path / "run").string();
    const Run r = start(mpirun(2) + std::vector<std::string>{binary()} + train_args(corpus, out, 200), dir, "run");
    // Once the first epoch is complete, kill rank 1.
    pid_t victim = 0;
    for (int i = 0; i < 1200 && victim == 0; ++i) {
        int status = 0;
        REQUIRE(::waitpid(r.pid, &status, WNOHANG) == 0);  // still running
        if (fs::exists(out + "/metrics.jsonl")) victim = rank_process(r.pid, 1);
        if (victim == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(victim != 0);
    REQUIRE(::kill(victim, SIGKILL) == 0);
    const Finished f = finish(r, 30);
    INFO("stderr: " << f.err);
    CHECK(f.exit_code != 0);
    CHECK(f.seconds < 15);
    // Open MPI itself prints a line when the rank died in the middle of a shared-memory transfer
    // ("[host:pid] Read -1, expected N, errno = 3", its single-copy read finding the process gone);
    // seqgrad's own is the one other line.
    std::vector<std::string> ours;
    std::istringstream lines(f.err);
    for (std::string line; std::getline(lines, line);) {
        const bool open_mpi = line.size() > 2 && line[0] == '[' && line.find("] ") != std::string::npos &&
                              line.find("seqgrad") == std::string::npos;
        if (!open_mpi) ours.push_back(line);
    }
    REQUIRE(ours.size() == 1);
    CHECK_THAT(ours[0], Catch::StartsWith("seqgrad: error: rank 1 (process " + std::to_string(victim) + " on "));
    CHECK_THAT(ours[0], Catch::EndsWith(") died; every rank stopped (the model folder keeps the last complete epoch)"));
    // The last complete epoch is intact, and --resume continues it (one more epoch: the time limit).
    const auto done = epoch_metrics(out);
    REQUIRE(!done.empty());
    CHECK(load_safetensors(out + "/last.safetensors").tensors.size() > 0);
    const Finished resumed = run(mpirun(2) + std::vector<std::string>{binary(), "train", "--resume", "--out", out,
                                                                        "--time-limit", "0.001"},
                                 dir, "resumed");
    INFO("resume stderr: " << resumed.err);
    CHECK(resumed.exit_code == 0);
    CHECK_THAT(resumed.out, Catch::Contains("stopped: time limit"));
    CHECK(epoch_metrics(out).size() >= done.size() + 1);
}

TEST_CASE("mpi: a rank that cannot read its corpus stops every rank with its one-line error", "[mpi]") {
    if (!mpi_available()) return;
    TempDir dir("mpi_corpus");
    const std::string good = write_corpus(dir, 100), tiny = write_corpus(dir, 2, "tiny.tsv");
    const std::string missing = (dir.path / "missing.tsv").string(), out = (dir.path / "out").string();
    // Rank 1 is given another corpus, as a machine whose copy is damaged or missing would read.
    auto per_rank = [&](const std::string& rank1_corpus) {
        return mpirun(2) + std::vector<std::string>{
                               "/bin/sh", "-c",
                               fmt::format("if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then d='{}'; else d='{}'; fi; exec '{}' train "
                                           "--data \"$d\" --out '{}' --hidden 16 --epochs 1 --threads 1",
                                           rank1_corpus, good, binary(), out)};
    };
    const Finished small = run(per_rank(tiny), dir, "small", 60);
    INFO("stderr: " << small.err);
    CHECK(small.exit_code == 2);
    CHECK(std::count(small.err.begin(), small.err.end(), '\n') == 1);
    CHECK(small.err == "seqgrad: error: rank 1: train: " + tiny +
                           " has only 2 usable sentence pairs; at least 3 are needed for train/valid/test\n");
    CHECK_FALSE(fs::exists(out));  // nothing was written
    // A file missing on rank 1 fails there before any collective (the command line's own check).
    const Finished absent = run(per_rank(missing), dir, "absent", 60);
    INFO("stderr: " << absent.err);
    CHECK(absent.exit_code == 2);
    CHECK(absent.err == "seqgrad: error: rank 1: --data: File does not exist: " + missing + " (see seqgrad --help)\n");
    CHECK_FALSE(fs::exists(out));
}

TEST_CASE("mpi: bench seq2seq runs data-parallel under mpirun and rank 0 alone prints", "[mpi]") {
    if (!mpi_available()) return;
    TempDir dir("mpi_bench");
    const std::vector<std::string> bench = {binary(), "bench", "seq2seq", "--hidden", "16", "--batch", "4", "--len", "4",
                                            "--steps", "2", "--warmup", "1", "--json"};
    const Finished f = run(mpirun(2) + bench, dir, "bench", 60);
    INFO("stderr: " << f.err);
    REQUIRE(f.exit_code == 0);
    REQUIRE(std::count(f.out.begin(), f.out.end(), '\n') == 1);  // one JSON object: rank 0's
    const auto j = nlohmann::json::parse(f.out);
    CHECK(j["processes"] == 2);
    CHECK(j["comm_ms_per_step"].get<double>() > 0);
    // A global batch smaller than the processes leaves a rank without rows.
    const Finished small = run(mpirun(2) + std::vector<std::string>{binary(), "bench", "seq2seq", "--batch", "1", "--steps", "1"},
                               dir, "small", 60);
    CHECK(small.exit_code == 2);
    CHECK(small.err == "seqgrad: error: rank 0: bench: --batch 1 is smaller than the 2 processes\n");
}

// ---- the cost model (models/bench_scaling.h) ------------------------------------------------------

TEST_CASE("distributed: the scaling model's ring all-reduce and efficiency, by hand", "[distributed]") {
    // 100 MB over 4 processes at 10 Gbit/s × 0.8 = 1e9 B/s: 2·3/4 · 1e8 / 1e9 = 0.15 s, plus
    // 2·3 message steps of 5 µs for one bucket = 30 µs.
    CHECK(models::ring_allreduce_seconds(1e8, 4, 1e9, 5e-6, 1) == Approx(0.15003).epsilon(1e-12));
    CHECK(models::ring_allreduce_seconds(1e8, 1, 1e9, 5e-6, 1) == 0);  // alone: nothing to send
    models::ScalingOptions o;
    o.processes = {4};
    o.gbit_per_s = {10};
    const auto rows = models::predict_scaling(o, 150.03, 1e8, 1);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].comm_ms == Approx(150.03).epsilon(1e-12));
    CHECK(rows[0].efficiency == Approx(0.5).epsilon(1e-12));          // compute as long as the all-reduce
    CHECK(rows[0].efficiency_overlap == Approx(1.0).epsilon(1e-12));  // which overlap would hide entirely
    models::ScalingResult none;
    CHECK_THROWS_WITH(models::scaling_svg(none), "bench scaling: no rows to plot");
    o.model = "lstm";
    CHECK_THROWS_WITH(models::run_scaling(o), "bench scaling: unknown model 'lstm' (valid: seq2seq, transformer)");
}

TEST_CASE("distributed: bench scaling prints the table and refuses counts below 2 and rates of 0", "[distributed]") {
    TempDir dir("scaling");
    const Finished ok = run({binary(), "bench", "scaling", "--hidden", "8", "--batch", "2", "--steps", "1", "--processes",
                             "4,64", "--out", (dir.path / "sc").string()},
                            dir, "ok");
    INFO(ok.err);
    REQUIRE(ok.exit_code == 0);
    CHECK_THAT(ok.out, Catch::Contains("| 64 |"));
    CHECK(fs::exists(dir.path / "sc" / "scaling.svg"));
    const Finished one = run({binary(), "bench", "scaling", "--processes", "1"}, dir, "one");
    CHECK(one.exit_code == 2);
    CHECK(one.err == "seqgrad: error: bench scaling: --processes must be at least 2 each, got 1\n");
    const Finished zero = run({binary(), "bench", "scaling", "--gbits", "0"}, dir, "zero");
    CHECK(zero.exit_code == 2);
    CHECK(zero.err == "seqgrad: error: bench scaling: --gbits must be positive, got 0\n");
}

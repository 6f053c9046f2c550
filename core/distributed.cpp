// The MPI seam (core/distributed.h). With SEQGRAD_HAVE_MPI (CMake's SEQGRAD_MPI) the collectives are
// MPI calls on MPI_COMM_WORLD, with MPI_ERRORS_RETURN so that a failed call is one line of ours, not
// Open MPI's abort; without it, one process of rank 0 and the collectives are no-ops.
#include "core/distributed.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#ifdef SEQGRAD_HAVE_MPI
#include <mpi.h>
#include <signal.h>
#include <unistd.h>
#endif

namespace seqgrad::dist {

namespace {
int g_rank = 0, g_size = 1;
bool g_initialised = false, g_finalised = false;
volatile std::sig_atomic_t g_stopping = 0;
double g_comm_seconds = 0;
long g_collectives = 0;   // collectives this rank has entered (agree's included)

// Times one collective into g_comm_seconds.
class CommTimer {
public:
    CommTimer() : t0_(std::chrono::steady_clock::now()) { ++g_collectives; }
    ~CommTimer() { g_comm_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

private:
    std::chrono::steady_clock::time_point t0_;
};
}  // namespace

bool built_with_mpi() {
#ifdef SEQGRAD_HAVE_MPI
    return true;
#else
    return false;
#endif
}

int rank() { return g_rank; }
int size() { return g_size; }
void set_stopping() { g_stopping = 1; }
bool stopping() { return g_stopping != 0; }
double comm_seconds() { return g_comm_seconds; }
void reset_comm_seconds() { g_comm_seconds = 0; }

#ifdef SEQGRAD_HAVE_MPI

namespace {

// Who is who, for the SIGTERM handler: every rank's process id and host name.
struct Peer {
    int pid = 0;
    char host[64] = {};
};
std::vector<Peer> g_peers;

// A failed MPI call: one line, then every process of the job stops.
[[noreturn]] void mpi_failed(const char* call, int code) {
    char text[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    MPI_Error_string(code, text, &len);
    std::fprintf(stderr, "seqgrad: error: rank %d: %s failed: %s\n", g_rank, call, text);
    std::fflush(stderr);
    abort(3);
}
void check(int code, const char* call) {
    if (code != MPI_SUCCESS) mpi_failed(call, code);
}

// Async-signal-safe decimal formatting for the handler below.
char* put_text(char* at, const char* s) {
    while (*s) *at++ = *s++;
    return at;
}
char* put_int(char* at, long v) {
    char digits[24];
    int n = 0;
    if (v < 0) {
        *at++ = '-';
        v = -v;
    }
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0) *at++ = digits[--n];
    return at;
}

// The launcher ends the survivors with SIGTERM when one process of the job died. The lowest living
// rank on the dead one's machine names it (a process that no longer exists there); when no rank of
// this machine died, rank 0 says that the launcher stopped the job. Then exit at once: the model
// folder's files are written atomically (core/atomic_file.h), so the last complete epoch stays whole.
extern "C" void on_sigterm(int) {
    if (!g_stopping) {
        const char* me = g_peers[static_cast<std::size_t>(g_rank)].host;
        int dead = -1;
        bool lowest_alive = true;
        for (int r = 0; r < g_size; ++r) {
            const Peer& p = g_peers[static_cast<std::size_t>(r)];
            if (r == g_rank || std::strncmp(p.host, me, sizeof p.host) != 0) continue;
            const bool gone = ::kill(p.pid, 0) != 0 && errno == ESRCH;
            if (gone && dead < 0) dead = r;
            if (!gone && r < g_rank) lowest_alive = false;
        }
        char line[256];
        char* at = line;
        if (dead >= 0 && lowest_alive) {
            at = put_text(at, "seqgrad: error: rank ");
            at = put_int(at, dead);
            at = put_text(at, " (process ");
            at = put_int(at, g_peers[static_cast<std::size_t>(dead)].pid);
            at = put_text(at, " on ");
            at = put_text(at, g_peers[static_cast<std::size_t>(dead)].host);
            at = put_text(at, ") died; every rank stopped (the model folder keeps the last complete epoch)\n");
        } else if (dead < 0 && g_rank == 0) {
            at = put_text(at, "seqgrad: error: rank 0: stopped by the launcher (another rank failed, or mpirun was stopped)\n");
        }
        if (at != line) (void)!::write(2, line, static_cast<std::size_t>(at - line));
    }
    std::_Exit(g_stopping ? 2 : 143);
}

bool launched_by_mpirun() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
        if (std::getenv(v) != nullptr) return true;
    return false;
}

}  // namespace

void init(int* argc, char*** argv) {
    if (g_initialised) return;
    g_initialised = true;
    if (!launched_by_mpirun()) return;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        std::fprintf(stderr, "seqgrad: error: MPI_Init failed (started by mpirun, but MPI could not start)\n");
        std::exit(3);
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    std::atexit([] { finalize(); });
    if (g_size == 1) return;
    Peer me;
    me.pid = static_cast<int>(::getpid());
    ::gethostname(me.host, sizeof me.host - 1);
    g_peers.resize(static_cast<std::size_t>(g_size));
    check(MPI_Allgather(&me, sizeof(Peer), MPI_BYTE, g_peers.data(), sizeof(Peer), MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgather");
    std::signal(SIGTERM, on_sigterm);
}

void finalize() {
    if (g_finalised) return;
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (!up || down) return;
    g_finalised = true;
    g_stopping = 1;
    MPI_Finalize();
}

void abort(int code) {
    g_stopping = 1;
    std::fflush(stdout);
    std::fflush(stderr);
    // Not MPI_Abort: it prints a banner of its own. A process that exits non-zero makes the launcher
    // stop the others, whose SIGTERM handler names this rank.
    std::_Exit(code);
}

void barrier() {
    if (g_size == 1) return;
    CommTimer t;
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void broadcast(std::span<float> values, int root) {
    if (g_size == 1 || values.empty()) return;
    CommTimer t;
    check(MPI_Bcast(values.data(), static_cast<int>(values.size()), MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
}

void broadcast(std::span<double> values, int root) {
    if (g_size == 1 || values.empty()) return;
    CommTimer t;
    check(MPI_Bcast(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, root, MPI_COMM_WORLD), "MPI_Bcast");
}

void broadcast(std::string& text, int root) {
    if (g_size == 1) return;
    double n = static_cast<double>(text.size());
    broadcast(std::span<double>(&n, 1), root);
    text.resize(static_cast<std::size_t>(n));
    if (text.empty()) return;
    CommTimer t;
    check(MPI_Bcast(text.data(), static_cast<int>(text.size()), MPI_CHAR, root, MPI_COMM_WORLD), "MPI_Bcast");
}

void allreduce_sum(std::span<float> values) {
    if (g_size == 1 || values.empty()) return;
    CommTimer t;
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce");
}

void allreduce_sum(std::span<double> values) {
    if (g_size == 1 || values.empty()) return;
    CommTimer t;
    check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
}

int allreduce_min(int value) {
    if (g_size == 1) return value;
    CommTimer t;
    check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
    return value;
}

#else  // one process: rank 0 of 1

void init(int*, char***) { g_initialised = true; }
void finalize() { g_finalised = true; }
void abort(int code) {
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
}
void barrier() {}
void broadcast(std::span<float>, int) {}
void broadcast(std::span<double>, int) {}
void broadcast(std::string&, int) {}
void allreduce_sum(std::span<float>) {}
void allreduce_sum(std::span<double>) {}
int allreduce_min(int value) { return value; }

#endif

double broadcast_value(double value, int root) {
    broadcast(std::span<double>(&value, 1), root);
    return value;
}

void broadcast(const std::vector<Tensor>& tensors, int root) {
    for (const Tensor& t : tensors)
        if (t.dtype() != DType::Float32)
            fail("dist::broadcast: expects float32 tensors, got {} {}", dtype_name(t.dtype()), shape_str(t.shape()));
    if (g_size == 1) return;
    for (const Tensor& t : tensors) {
        Tensor same = t;
        broadcast(std::span<float>(same.data<float>(), static_cast<std::size_t>(t.numel())), root);
    }
}

// ---- sharding and bucketing ---------------------------------------------------------------------

Range shard(std::size_t n, int rank, int size) {
    if (size < 1 || rank < 0 || rank >= size) fail("dist::shard: rank {} outside a world of size {}", rank, size);
    const auto r = static_cast<std::size_t>(rank), p = static_cast<std::size_t>(size);
    const std::size_t base = n / p, extra = n % p;  // the first `extra` shards get one more
    const std::size_t begin = r * base + std::min(r, extra);
    return {begin, begin + base + (r < extra ? 1 : 0)};
}

std::vector<Bucket> plan_buckets(const std::vector<std::size_t>& numels, std::size_t bucket_floats) {
    if (bucket_floats == 0) fail("dist::plan_buckets: bucket size must be at least 1 float");
    std::vector<Bucket> buckets;
    std::size_t offset = 0;
    for (std::size_t i = 0; i < numels.size(); ++i) {
        if (buckets.empty() || (buckets.back().floats + numels[i] > bucket_floats && buckets.back().floats > 0))
            buckets.push_back({.first = i, .last = i, .offset = offset, .floats = 0});
        buckets.back().last = i + 1;
        buckets.back().floats += numels[i];
        offset += numels[i];
    }
    return buckets;
}

GradientReducer::GradientReducer(std::vector<Tensor> parameters, std::size_t bucket_floats)
    : params_(std::move(parameters)) {
    std::vector<std::size_t> numels;
    std::size_t total = 0;
    for (const Tensor& p : params_) {
        if (p.dtype() != DType::Float32)
            fail("GradientReducer: expects float32 parameters, got {} {}", dtype_name(p.dtype()), shape_str(p.shape()));
        numels.push_back(static_cast<std::size_t>(p.numel()));
        offsets_.push_back(total);
        total += numels.back();
    }
    buckets_ = plan_buckets(numels, bucket_floats);
    flat_.assign(total + params_.size(), 0.0f);
}

void GradientReducer::reduce(double weight, double total) {
    if (g_size == 1 && weight == total) return;  // one process: the gradients are already the mean
    const std::size_t grads = flat_.size() - params_.size();
    const auto w = static_cast<float>(weight);
    for (std::size_t i = 0; i < params_.size(); ++i) {
        float* out = flat_.data() + offsets_[i];
        const std::size_t n = static_cast<std::size_t>(params_[i].numel());
        const Tensor g = params_[i].grad();
        if (g.defined() && w != 0.0f) {
            const Tensor c = g.dtype() == DType::Float32 ? g : g.to(DType::Float32);
            const float* in = c.data<float>();
            for (std::size_t k = 0; k < n; ++k) out[k] = w * in[k];
        } else {
            std::fill(out, out + n, 0.0f);
        }
        flat_[grads + i] = g.defined() && w != 0.0f ? 1.0f : 0.0f;
    }
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
        // The last bucket also carries the definedness counts.
        const std::size_t n = buckets_[b].floats + (b + 1 == buckets_.size() ? params_.size() : 0);
        allreduce_sum(std::span<float>(flat_.data() + buckets_[b].offset, n));
    }
    const auto inv = static_cast<float>(1.0 / total);
    for (std::size_t i = 0; i < params_.size(); ++i) {
        Tensor& p = params_[i];
        if (flat_[grads + i] == 0.0f) {
            p.zero_grad();
            continue;
        }
        // A leaf's gradient buffer is its own (the engine accumulates into it in place): overwrite it.
        Tensor g = p.grad();
        const bool reuse = g.defined() && g.dtype() == DType::Float32;
        if (!reuse) g = Tensor::empty(p.shape());
        float* out = g.data<float>();
        const float* in = flat_.data() + offsets_[i];
        const std::size_t n = static_cast<std::size_t>(p.numel());
        for (std::size_t k = 0; k < n; ++k) out[k] = in[k] * inv;
        if (!reuse) p.set_grad(g);
    }
}

// ---- agreeing on failure ------------------------------------------------------------------------

PeerFailed::PeerFailed(int failed_rank)
    : Error(fmt::format("rank {} failed (its error is on its standard error)", failed_rank)), rank_(failed_rank) {}

bool report_failure() {
    if (g_size == 1 || g_stopping) return true;
    if (g_collectives > 0) return true;  // mid-run: say why, then end_failed aborts
    set_stopping();
    return allreduce_min(g_rank) == g_rank;
}

void end_failed(int code) {
    if (g_size > 1 && !g_stopping) abort(code);
}

void agree(const std::function<void()>& stage) {
    if (g_size == 1) {
        stage();
        return;
    }
    std::exception_ptr error;
    try {
        stage();
    } catch (...) {
        error = std::current_exception();
    }
    const int first = allreduce_min(error ? g_rank : g_size);
    if (first == g_size) return;
    set_stopping();
    if (first == g_rank) std::rethrow_exception(error);
    throw PeerFailed(first);
}

}  // namespace seqgrad::dist

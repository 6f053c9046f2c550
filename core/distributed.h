// The one seam between seqgrad and MPI: data-parallel training over several processes, on one
// machine or several (`mpirun -np N seqgrad train ...`). Nothing else in the project includes mpi.h;
// a build without MPI (CMake option SEQGRAD_MPI off) compiles distributed.cpp as a single process of
// rank 0 in a world of size 1, and every call below is then a no-op or a copy.
//
// A process joins MPI only when a launcher started it (mpirun sets OMPI_COMM_WORLD_SIZE, or PMI_SIZE,
// or PMIX_RANK): `seqgrad train` run by hand never initialises MPI and behaves exactly as without it.
//
// Data parallelism, as the trainer uses it (models/trainer.cpp):
//   - every rank builds the same model, then broadcast(parameters) makes rank 0's weights everyone's;
//   - each global batch of B pairs is cut into contiguous shards, shard(B, rank, size);
//   - each rank's loss is the mean over its own n_r target tokens, so its gradient is
//     g_r = (1/n_r) Σ_{tokens of r} ∂ℓ/∂θ; GradientReducer sums n_r · g_r over the ranks in a few
//     large MPI_Allreduce calls (buckets of consecutive parameters) and divides by N = Σ_r n_r:
//         g = (1/N) Σ_r n_r g_r = (1/N) Σ_{all tokens} ∂ℓ/∂θ,
//     the gradient one process computes on the whole global batch (up to float rounding);
//   - clipping and the optimizer step then run on identical gradients on every rank.
//
// Failures: agree() runs a stage that may fail on some ranks (a corpus one machine cannot read) and
// makes all of them stop together, the failing rank with its own error line, the others with
// PeerFailed (silent). A rank that dies outright is noticed by the launcher, which stops the others;
// their SIGTERM handler (installed by init) prints one line naming the dead rank.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace seqgrad::dist {

// True when this build has MPI (SEQGRAD_MPI).
bool built_with_mpi();
// Joins MPI when a launcher started this process (see above); once, before any other call. A second
// call does nothing. Without a launcher or without MPI: rank 0 of 1.
void init(int* argc, char*** argv);
// Leaves MPI (also done at exit). After a failure that the other ranks have not agreed on, use abort.
void finalize();
int rank();
int size();
// More than one process: the trainer takes its data-parallel path.
inline bool active() { return size() > 1; }
// Prints nothing of its own: ends every process of the job with `code` (MPI_Abort), or exits.
[[noreturn]] void abort(int code);
// Marks this process as stopping on purpose (an agreed error, the end of the run): the SIGTERM of
// the launcher then stays silent.
void set_stopping();
bool stopping();

// ---- collectives (every rank calls them in the same order) --------------------------------------
void barrier();
// root's values replace everyone else's.
void broadcast(std::span<float> values, int root = 0);
void broadcast(std::span<double> values, int root = 0);
void broadcast(std::string& text, int root = 0);
// Float32 tensors in place (parameters), each as root holds it.
void broadcast(const std::vector<Tensor>& tensors, int root = 0);
double broadcast_value(double value, int root = 0);
// Elementwise sums over the ranks, in place.
void allreduce_sum(std::span<float> values);
void allreduce_sum(std::span<double> values);
int allreduce_min(int value);

// Seconds spent inside the collectives above (wall clock) since the last reset: the benchmark's
// communication share.
double comm_seconds();
void reset_comm_seconds();

// ---- sharding and bucketing (pure functions: tested without MPI) ---------------------------------

// Rank r's part of n items: the contiguous range [begin, end), sizes differing by at most one, the
// larger shards first. A shard is empty when n < size.
struct Range {
    std::size_t begin = 0, end = 0;
    std::size_t size() const { return end - begin; }
    bool empty() const { return begin == end; }
};
Range shard(std::size_t n, int rank, int size);

// Consecutive parameters grouped into buckets of about bucket_floats floats each (a parameter is never
// split; one larger than a bucket gets a bucket of its own). A bucket covers parameters
// [first, last) at offsets [offset, offset + floats) of the flat gradient.
struct Bucket {
    std::size_t first = 0, last = 0;
    std::size_t offset = 0, floats = 0;
};
std::vector<Bucket> plan_buckets(const std::vector<std::size_t>& numels, std::size_t bucket_floats);

// The default bucket size: 4 Mi floats (16 MiB), a few calls per step for the project's models.
constexpr std::size_t kBucketFloats = std::size_t{1} << 22;

// Sums the parameters' gradients over the ranks (see the top of this file). The parameters are
// float32 tensors whose gradients may be undefined (a parameter that took no part in a rank's loss);
// after reduce a gradient is defined on every rank when it was defined on any.
class GradientReducer {
public:
    explicit GradientReducer(std::vector<Tensor> parameters, std::size_t bucket_floats = kBucketFloats);
    // weight: this rank's n_r; total: N. Sets every parameter's gradient to Σ_r weight_r g_r / total.
    void reduce(double weight, double total);
    const std::vector<Bucket>& buckets() const { return buckets_; }
    std::size_t floats() const { return flat_.size(); }
    // MPI_Allreduce calls per reduce: one per bucket.
    std::size_t calls() const { return buckets_.size(); }

private:
    std::vector<Tensor> params_;
    std::vector<std::size_t> offsets_;
    std::vector<Bucket> buckets_;
    std::vector<float> flat_;  // the gradients, then one definedness count per parameter (last bucket)
};

// ---- agreeing on failure ------------------------------------------------------------------------

// What the ranks that did not fail throw when another one did: main exits 2 and prints nothing.
class PeerFailed : public Error {
public:
    explicit PeerFailed(int failed_rank);
    int failed_rank() const { return rank_; }

private:
    int rank_;
};

// For main, after an error outside agree() on this rank. Before this rank took part in any
// collective, the others are waiting in their first agree() (every command that runs under mpirun
// starts with one): this rank votes there, and the lowest failing rank is the one to print. Returns
// true when this rank prints its error line (always, for a single process).
bool report_failure();
// Then: a rank whose failure the others could not learn of that way (it failed mid-run) ends the job
// at once (abort); otherwise returns and the process exits normally with its code.
void end_failed(int code);

// Runs stage on every rank, then agrees (one MPI_Allreduce): when it threw on some rank, the lowest
// such rank rethrows its own exception (its one-line error), every other rank throws PeerFailed. A
// single process just runs stage.
void agree(const std::function<void()>& stage);

}  // namespace seqgrad::dist

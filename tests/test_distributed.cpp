// Data parallelism over MPI (core/distributed.h).
//   - The pure parts, in this process: shards of a batch, buckets of parameters, the gradient
//     reducer's scaling in a world of one, agree() passing a stage's error through.
//   - `mpirun -np 2 --oversubscribe` on localhost against the built binary (tag [mpi]; skipped with a
//     note when mpirun or an MPI build is missing): 2 processes train what 1 process trains, a run
//     resumes with another number of processes, a killed rank stops the job with one line naming it,
//     a rank that cannot read its corpus stops every rank with its one-line error.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/distributed.h"
#include "core/safetensors.h"
#include "helpers.h"
#include "models/data/toy_tasks.h"
#include "models/fileio.h"

extern char** environ;

using namespace seqgrad;
namespace fs = std::filesystem;
using seqgrad::testing::TempDir;

// ---- in this process ----------------------------------------------------------------------------

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
    CHECK(b[0].first == 0);
    CHECK(b[0].last == 2);
    CHECK(b[0].offset == 0);
    CHECK(b[0].floats == 7);
    CHECK(b[1].first == 2);
    CHECK(b[1].last == 3);
    CHECK(b[1].offset == 7);
    CHECK(b[1].floats == 10);
    CHECK(b[2].first == 3);
    CHECK(b[2].last == 6);
    CHECK(b[2].offset == 17);
    CHECK(b[2].floats == 4);
    CHECK(dist::plan_buckets(numels, 1000).size() == 1);
    CHECK(dist::plan_buckets({}, 8).empty());
    CHECK_THROWS_WITH(dist::plan_buckets(numels, 0), "dist::plan_buckets: bucket size must be at least 1 float");
}

TEST_CASE("distributed: the reducer of one process gives weight / total times the gradient", "[distributed]") {
    Tensor a = Tensor::from_float({1, 2, 3}, {3}, {.requires_grad = true});
    Tensor b = Tensor::from_float({5, 6}, {2}, {.requires_grad = true});
    Tensor unused = Tensor::from_float({0}, {1}, {.requires_grad = true});
    sum(mul(a, a)).backward();  // da = 2a; b and unused get none
    dist::GradientReducer reducer({a, b, unused}, 2);  // buckets of 2 floats: a alone, then b + unused
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
    double v[2] = {1, 2};
    dist::allreduce_sum(std::span<double>(v, 2));  // no-ops in a world of one
    CHECK(v[1] == 2);
    CHECK(dist::broadcast_value(7) == 7);
}

// The seeded random number generator behind rand/randn/uniform, parameter initialisation, dropout
// and data shuffling. xoshiro256** seeded through splitmix64, with uniform and normal draws written
// out here (not std::*_distribution, whose output differs between standard libraries), so the same
// seed gives bit-identical tensors on every run and every machine.
#pragma once
#include <cstdint>

namespace seqgrad {

class Generator {
public:
    explicit Generator(std::uint64_t seed = 0) { manual_seed(seed); }
    void manual_seed(std::uint64_t seed);
    std::uint64_t next_u64();
    // Uniform in [0, 1) with 53 random bits.
    double uniform();
    // Uniform in [lo, hi).
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    // Standard normal by Box-Muller (both values used).
    double normal();
    // Uniform integer in [0, n).
    std::uint64_t randint(std::uint64_t n);

    // The whole state, so a run can be resumed exactly.
    struct State {
        std::uint64_t s[4];
        bool has_spare;
        double spare;
    };
    State state() const { return {{s_[0], s_[1], s_[2], s_[3]}, has_spare_, spare_}; }
    void set_state(const State& st);

private:
    std::uint64_t s_[4]{};
    bool has_spare_ = false;
    double spare_ = 0.0;
};

// The process-wide default generator (seed 0 until manual_seed is called).
Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace seqgrad

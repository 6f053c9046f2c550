// Initialisers: fill a tensor in place from a seeded generator.
#include "layers/init.h"

#include <cmath>

#include "core/error.h"

namespace seqgrad::nn::init {

namespace {
template <typename Draw>
void fill(Tensor& t, Generator* gen, Draw draw) {
    Generator& g = gen ? *gen : default_generator();
    dispatch_floating(t.dtype(), "init", [&](auto tag) {
        using T = decltype(tag);
        T* p = t.data<T>();
        for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(draw(g));
    });
}
}  // namespace

void uniform_(Tensor& t, double lo, double hi, Generator* gen) {
    fill(t, gen, [=](Generator& g) { return g.uniform(lo, hi); });
}

void normal_(Tensor& t, double mean, double stddev, Generator* gen) {
    fill(t, gen, [=](Generator& g) { return mean + stddev * g.normal(); });
}

void xavier_uniform_(Tensor& t, double gain, Generator* gen) {
    if (t.dim() != 2) fail("xavier_uniform_: expects a 2-D weight [out, in], got {}", shape_str(t.shape()));
    const double a = gain * std::sqrt(6.0 / static_cast<double>(t.shape()[0] + t.shape()[1]));
    uniform_(t, -a, a, gen);
}

}  // namespace seqgrad::nn::init

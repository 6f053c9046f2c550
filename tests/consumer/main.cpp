// Uses the installed seqgrad: one tiny backward pass. Exits 0 when the gradient is right.
#include <seqgrad.h>

#include <cstdio>

int main() {
    using namespace seqgrad;
    Tensor x = Tensor::from({3.0}, {}, {.requires_grad = true});
    Tensor y = x * x;
    y.backward();
    std::printf("d(x^2)/dx at 3 = %g\n", x.grad().item());
    return x.grad().item() == 6.0 ? 0 : 1;
}

// seqgrad's error types. Every op validates its arguments and throws one of these; nothing aborts.
// Messages name the op, what is wrong, the shapes involved and, where it helps, a hint:
//   matmul: inner dimensions differ: lhs [32, 128] vs rhs [64, 10] (128 != 64)
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace seqgrad {

// Wrong shapes, dtypes or argument values.
class ShapeError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// An index (token id, dim, position) outside its valid range.
class IndexError : public std::out_of_range {
public:
    using std::out_of_range::out_of_range;
};

// Misuse of the autograd engine (backward twice without retain_graph, non-scalar backward, ...),
// bad files and other run-time failures.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A NaN or Inf caught by anomaly mode.
class AnomalyError : public Error {
public:
    using Error::Error;
};

template <typename E = ShapeError, typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
    throw E(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace seqgrad

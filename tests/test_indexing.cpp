// Indexing ops (core/indexing.cpp): index_select (repeated ids accumulate), embedding with
// padding_idx (that row gets zero gradient), gather, masked_fill (broadcast mask) and where.
// Golden values and gradients by hand, float64 gradchecks, and bad ids / shapes with the exact
// error type (IndexError for ids out of range, ShapeError for shapes and dtypes) and message.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

// [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
Tensor square3(bool requires_grad = false) { return f64({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3}, requires_grad); }

}  // namespace

// ---- index_select ---------------------------------------------------------------------------------

TEST_CASE("indexing: index_select golden values along dim 0 and 1", "[indexing]") {
    Tensor x = square3();
    Tensor r = index_select(x, 0, Tensor::ids({2, 0, 2}, {3}));
    CHECK(r.shape() == Shape{3, 3});
    check_values(r, {7, 8, 9, 1, 2, 3, 7, 8, 9});
    Tensor c = index_select(x, -1, Tensor::ids({1, 1}, {2}));
    CHECK(c.shape() == Shape{3, 2});
    check_values(c, {2, 2, 5, 5, 8, 8});
    CHECK(index_select(x, 0, Tensor::ids({}, {0})).shape() == Shape{0, 3});
    // 3-D middle dim, float32 and int64 tensors
    Tensor a = reshape(arange(12, {.dtype = DType::Float64}), {2, 3, 2});
    check_values(index_select(a, 1, Tensor::ids({2, 0}, {2})), {4, 5, 0, 1, 10, 11, 6, 7});
    CHECK(index_select(Tensor::from({1, 2, 3}, {3}), 0, Tensor::ids({2}, {1})).item() == 3);
    CHECK(index_select(Tensor::ids({5, 6, 7}, {3}), 0, Tensor::ids({0, 0}, {2})).to_ids() == std::vector<std::int64_t>{5, 5});
}

TEST_CASE("indexing: index_select gradients accumulate over repeated ids", "[indexing]") {
    Tensor x = square3(true);
    sum(index_select(x, 0, Tensor::ids({2, 0, 2}, {3}))).backward();
    check_values(x.grad(), {1, 1, 1, 0, 0, 0, 2, 2, 2});
    x.zero_grad();
    sum(mul(index_select(x, 1, Tensor::ids({1, 1, 0}, {3})), f64({1, 10, 100}, {3}))).backward();
    check_values(x.grad(), {100, 11, 0, 100, 11, 0, 100, 11, 0});

    Tensor ids = Tensor::ids({3, 1, 3, 3, 0}, {5});
    require_gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], 0, ids); }, {param({4, 3}, 1)});
    require_gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], 1, ids); }, {param({2, 4, 3}, 2)});
    require_gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], -1, Tensor::ids({1, 1}, {2})); },
                      {param({2, 3}, 3)});
    // selected rows used together with the whole tensor
    require_gradcheck([&](const std::vector<Tensor>& in) { return mul(index_select(in[0], 0, Tensor::ids({1, 1, 0}, {3})), in[0]); },
                      {param({3, 2}, 4)});
}

TEST_CASE("indexing: index_select bad ids", "[indexing][errors]") {
    Tensor x = square3();
    CHECK_THROWS_MATCHES(index_select(x, 0, Tensor::ids({0, 3}, {2})), IndexError,
                         Catch::Matchers::Message("index_select: id 3 at position 1 is out of range for the indexed dim of size 3 (valid: 0 to 2)"));
    CHECK_THROWS_AS(index_select(x, 1, Tensor::ids({-1}, {1})), IndexError);
    CHECK_THROWS_AS(index_select(x, 1, Tensor::ids({-1}, {1})), std::out_of_range);
    CHECK_THROWS_MATCHES(index_select(x, 0, Tensor::from({0, 1}, {2})), ShapeError,
                         Catch::Matchers::Message("index_select: ids must be int64, got float32 (shape [2])"));
    CHECK_THROWS_MATCHES(index_select(x, 0, Tensor::ids({0, 1}, {1, 2})), ShapeError,
                         Catch::Matchers::Message("index_select: ids must be 1-D, got [1, 2]"));
    CHECK_THROWS_AS(index_select(x, 2, Tensor::ids({0}, {1})), IndexError);
    CHECK_THROWS_AS(index_select(x, 0, Tensor()), ShapeError);
}

// ---- embedding ------------------------------------------------------------------------------------

TEST_CASE("indexing: embedding looks up rows for ids of any shape", "[indexing]") {
    Tensor w = f64({0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5}, {4, 2});  // row r = [r, r + 0.5]
    Tensor y = embedding(w, Tensor::ids({1, 3, 3, 0}, {2, 2}));
    CHECK(y.shape() == Shape{2, 2, 2});
    check_values(y, {1, 1.5, 3, 3.5, 3, 3.5, 0, 0.5});
    CHECK(embedding(w, Tensor::ids({2}, {1})).shape() == Shape{1, 2});
    Tensor s = embedding(w, Tensor::ids({2}, {}));
    CHECK(s.shape() == Shape{2});
    check_values(s, {2, 2.5});
    // the padding row is looked up like any other (the layer, not the op, zeroes its initial value)
    check_values(embedding(w, Tensor::ids({3}, {1}), 3), {3, 3.5});
    CHECK(embedding(Tensor::from({1, 2, 3, 4}, {2, 2}), Tensor::ids({1}, {1})).dtype() == DType::Float32);
}

TEST_CASE("indexing: embedding gradient accumulates, and the padding row gets exactly zero", "[indexing]") {
    Tensor ids = Tensor::ids({1, 3, 3, 0, 1, 1}, {2, 3});
    Tensor dy = reshape(arange(12, {.dtype = DType::Float64}), {2, 3, 2});
    Tensor w = param({4, 2}, 5);
    embedding(w, ids).backward(dy);
    // row 1 from positions 0, 4, 5: [0+8+10, 1+9+11]; row 3 from 1, 2; row 0 from 3; row 2 unused
    check_values(w.grad(), {6, 7, 18, 21, 0, 0, 2 + 4, 3 + 5});
    const auto without_padding = w.grad().to_vector();
    w.zero_grad();
    embedding(w, ids, /*padding_idx=*/3).backward(dy);
    const auto with_padding = w.grad().to_vector();
    for (std::size_t i = 0; i < 8; ++i) {
        INFO("element " << i);
        if (i >= 6) CHECK(with_padding[i] == 0.0);  // row 3, the padding row, used twice
        else CHECK(with_padding[i] == without_padding[i]);
    }
}

TEST_CASE("indexing: embedding gradcheck with repeated ids", "[indexing]") {
    Tensor ids = Tensor::ids({1, 3, 3, 0, 1, 1}, {2, 3});
    require_gradcheck([&](const std::vector<Tensor>& in) { return embedding(in[0], ids); }, {param({4, 3}, 6)});
    // with a padding_idx that the ids do not use, the gradient is the full one
    require_gradcheck([&](const std::vector<Tensor>& in) { return embedding(in[0], ids, 2); }, {param({4, 3}, 7)});
    // with the padding id used: the padding row's analytic gradient is deliberately zero while its
    // numeric one is not, so the padded positions are masked out of the output (numeric gradient
    // then 0 as well) and every other row is still checked with padding active
    require_gradcheck(
        [&](const std::vector<Tensor>& in) {
            Tensor rows = embedding(in[0], ids, 3);
            Tensor not_pad = unsqueeze(ne(ids, 3.0).to(DType::Float64), -1);  // [2, 3, 1]
            return mul(rows, not_pad);
        },
        {param({4, 3}, 8)});
}

TEST_CASE("indexing: embedding bad ids and weights", "[indexing][errors]") {
    Tensor w = zeros({4, 2});
    CHECK_THROWS_MATCHES(embedding(w, Tensor::ids({0, 1, 4}, {3})), IndexError,
                         Catch::Matchers::Message("embedding: id 4 at position 2 is out of range for an embedding table of size 4 (valid: 0 to 3)"));
    CHECK_THROWS_MATCHES(embedding(w, Tensor::ids({-2}, {1})), IndexError,
                         Catch::Matchers::Message("embedding: id -2 at position 0 is out of range for an embedding table of size 4 (valid: 0 to 3)"));
    CHECK_THROWS_AS(embedding(w, Tensor::ids({9}, {1})), std::out_of_range);
    CHECK_THROWS_MATCHES(embedding(zeros({4}), Tensor::ids({0}, {1})), ShapeError,
                         Catch::Matchers::Message("embedding: weight must be [num_embeddings, dim], got [4]"));
    CHECK_THROWS_MATCHES(embedding(w, zeros({2})), ShapeError,
                         Catch::Matchers::Message("embedding: ids must be int64, got float32 (shape [2])"));
}

// ---- gather ---------------------------------------------------------------------------------------

TEST_CASE("indexing: gather golden values and accumulated gradients", "[indexing]") {
    Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3}, true);
    Tensor y = gather(x, 1, Tensor::ids({2, 0, 1, 1}, {2, 2}));
    CHECK(y.shape() == Shape{2, 2});
    check_values(y, {3, 1, 5, 5});
    sum(y).backward();
    check_values(x.grad(), {1, 0, 1, 0, 2, 0});
    check_values(gather(x, 0, Tensor::ids({1, 0, 1}, {1, 3})), {4, 2, 6});
    // picking the target's log-probability per row: gather(log_probs [N, C], 1, target [N, 1])
    Tensor lp = f64({-1, -2, -3, -4, -5, -6}, {2, 3});
    check_values(gather(lp, -1, Tensor::ids({2, 0}, {2, 1})), {-3, -4});
    // 3-D, along the middle dim; index smaller than x in a non-gathered dim
    Tensor a = reshape(arange(24, {.dtype = DType::Float64}), {2, 3, 4});
    Tensor g = gather(a, 1, Tensor::ids({2, 0, 1, 1}, {1, 1, 4}));
    CHECK(g.shape() == Shape{1, 1, 4});
    check_values(g, {8, 1, 6, 7});
}

TEST_CASE("indexing: gather gradcheck along each dim with repeated indices", "[indexing]") {
    Tensor x = param({2, 3, 4}, 9);
    Tensor i0 = Tensor::ids({1, 0, 1, 1, 0, 0, 1, 1}, {1, 2, 4});
    Tensor i1 = Tensor::ids({2, 2, 0, 1, 0, 0, 2, 1, 1, 1, 1, 1, 0, 2, 2, 2}, {2, 2, 4});
    Tensor i2 = Tensor::ids({3, 3, 0, 1, 2, 2}, {2, 3, 1});
    require_gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], 0, i0); }, {x});
    require_gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], 1, i1); }, {x});
    require_gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], -1, i2); }, {x});
}

TEST_CASE("indexing: gather bad indices and shapes", "[indexing][errors]") {
    Tensor x = zeros({2, 3});
    CHECK_THROWS_MATCHES(gather(x, 1, Tensor::ids({3, 0}, {2, 1})), IndexError,
                         Catch::Matchers::Message("gather: id 3 at position 0 is out of range for the gathered dim of size 3 (valid: 0 to 2)"));
    CHECK_THROWS_MATCHES(gather(x, 1, zeros({2, 1}, {.dtype = DType::Float64})), ShapeError,
                         Catch::Matchers::Message("gather: index must be int64, got float64"));
    CHECK_THROWS_MATCHES(gather(x, 1, Tensor::ids({0, 1}, {2})), ShapeError,
                         Catch::Matchers::Message("gather: index [2] must have the rank of x [2, 3]"));
    CHECK_THROWS_MATCHES(gather(x, 1, Tensor::ids({0, 0, 0}, {3, 1})), ShapeError,
                         Catch::Matchers::Message("gather: index [3, 1] is larger than x [2, 3] in dim 0"));
    CHECK_THROWS_AS(gather(x, 2, Tensor::ids({0, 0}, {2, 1})), IndexError);
}

// ---- masked_fill ----------------------------------------------------------------------------------

TEST_CASE("indexing: masked_fill with broadcast masks of any dtype", "[indexing]") {
    Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
    check_values(masked_fill(x, f64({1, 0}, {2, 1}), -9), {-9, -9, -9, 4, 5, 6});
    check_values(masked_fill(x, Tensor::ids({0, 1, 0}, {3}), 0), {1, 0, 3, 4, 0, 6});
    check_values(masked_fill(x, Tensor::from({0, 0, 1, 1, 0, 0}, {2, 3}), 7), {1, 2, 7, 7, 5, 6});
    check_values(masked_fill(x, f64({1}, {}), 0.5), {0.5, 0.5, 0.5, 0.5, 0.5, 0.5});
    // the attention use: -inf where masked, then softmax puts exactly zero there
    const double inf = std::numeric_limits<double>::infinity();
    Tensor scores = masked_fill(zeros({2, 3}, {.dtype = DType::Float64}), f64({0, 0, 1}, {3}), -inf);
    CHECK(scores.at({1, 2}) == -inf);
    check_values(softmax(scores, -1), {0.5, 0.5, 0, 0.5, 0.5, 0});
}

TEST_CASE("indexing: masked_fill gradient is zero where filled - gradcheck", "[indexing]") {
    Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3}, true);
    sum(masked_fill(x, Tensor::ids({0, 1, 0}, {3}), 100)).backward();
    check_values(x.grad(), {1, 0, 1, 1, 0, 1});
    Tensor mask = f64({1, 0, 0, 1}, {2, 1, 2});
    require_gradcheck([&](const std::vector<Tensor>& in) { return masked_fill(in[0], mask, -3.0); }, {param({2, 3, 2}, 10)});
    require_gradcheck([&](const std::vector<Tensor>& in) { return mul(masked_fill(in[0], mask, 0.0), in[0]); },
                      {param({2, 3, 2}, 11)});
}

TEST_CASE("indexing: masked_fill masks that do not broadcast to the input", "[indexing][errors]") {
    CHECK_THROWS_MATCHES(masked_fill(zeros({3}), zeros({2, 3}), 0), ShapeError,
                         Catch::Matchers::Message("masked_fill: mask [2, 3] does not broadcast to the input [3]"));
    CHECK_THROWS_MATCHES(masked_fill(zeros({2, 3}), zeros({4}), 0), ShapeError,
                         Catch::Matchers::Message("masked_fill: shapes cannot be broadcast: [2, 3] vs [4] (dim 1: 3 != 4)"));
    CHECK_THROWS_MATCHES(masked_fill(zeros({2}), Tensor(), 0), ShapeError,
                         Catch::Matchers::Message("masked_fill: mask is an undefined tensor"));
}

// ---- where ----------------------------------------------------------------------------------------

TEST_CASE("indexing: where picks from a or b with cond, a and b all broadcast", "[indexing]") {
    Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3}, true);
    Tensor b = f64({10, 20, 30}, {3}, true);
    Tensor cond = Tensor::ids({1, 0}, {2, 1});
    Tensor y = where(cond, a, b);
    CHECK(y.shape() == Shape{2, 3});
    check_values(y, {1, 2, 3, 10, 20, 30});
    check_values(where(f64({0, 1, 0}, {3}), a, b), {10, 2, 30, 10, 5, 30});
    check_values(where(Tensor::from({1, 0, 1}, {3}), a, b), {1, 20, 3, 4, 20, 6});  // float32 cond, float64 values
    // gradients: da = cond (broadcast), db = sum over the broadcast rows of (1 - cond)
    sum(y).backward();
    check_values(a.grad(), {1, 1, 1, 0, 0, 0});
    check_values(b.grad(), {1, 1, 1});
}

TEST_CASE("indexing: where gradcheck over a and b with broadcasting", "[indexing]") {
    Tensor cond = Tensor::ids({1, 0, 0, 1, 1, 0}, {2, 3, 1});
    require_gradcheck([&](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); },
                      {param({3, 4}, 12), param({2, 1, 4}, 13)});
    require_gradcheck([&](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); }, {param({}, 14), param({4}, 15)});
    // the same tensor on both sides: the gradient is 1 everywhere
    Tensor x = param({2, 3}, 16);
    require_gradcheck([&](const std::vector<Tensor>& in) { return where(f64({1, 0, 1}, {3}), in[0], mul(in[0], in[0])); }, {x});
}

TEST_CASE("indexing: where with mismatched dtypes or shapes", "[indexing][errors]") {
    Tensor a = zeros({2, 3});
    CHECK_THROWS_MATCHES(where(ones({2, 3}), a, zeros({3}, {.dtype = DType::Float64})), ShapeError,
                         Catch::Matchers::Message("where: dtypes differ: float32 vs float64 (convert one with .to())"));
    CHECK_THROWS_MATCHES(where(ones({2, 3}), a, zeros({2})), ShapeError,
                         Catch::Matchers::Message("where: shapes cannot be broadcast: [2, 3] vs [2] (dim 1: 3 != 2)"));
    CHECK_THROWS_MATCHES(where(ones({4}), a, a), ShapeError,
                         Catch::Matchers::Message("where: shapes cannot be broadcast: [2, 3] vs [4] (dim 1: 3 != 4)"));
    CHECK_THROWS_MATCHES(where(Tensor(), a, a), ShapeError, Catch::Matchers::Message("where: cond is an undefined tensor"));
}

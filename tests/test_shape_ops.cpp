// Shape ops (core/shape_ops.cpp): reshape (-1, shared storage), flatten, transpose, permute,
// unsqueeze/squeeze, narrow/slice/select, cat, stack, split, chunk and expand. Each: values checked
// element by element against the index formula, a float64 gradcheck over every input (including a
// tensor used twice), and bad input with the exact error type and a message naming op and shapes.
#include <algorithm>
#include <numeric>

#include "helpers.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

// 0, 1, ..., numel-1 in float64, in the given shape.
Tensor iota(const Shape& shape, bool requires_grad = false) {
    std::vector<double> v(static_cast<std::size_t>(numel_of(shape)));
    std::iota(v.begin(), v.end(), 0.0);
    return f64(v, shape, requires_grad);
}

}  // namespace

// ---- reshape --------------------------------------------------------------------------------------

TEST_CASE("shape: reshape infers -1, shares storage and keeps values", "[shape]") {
    Tensor x = iota({2, 3});
    CHECK(reshape(x, {-1}).shape() == Shape{6});
    CHECK(reshape(x, {3, -1}).shape() == Shape{3, 2});
    CHECK(reshape(x, {-1, 1}).shape() == Shape{6, 1});
    CHECK(reshape(x, {1, 2, 1, 3}).shape() == Shape{1, 2, 1, 3});
    CHECK(flatten(x).shape() == Shape{6});
    CHECK(view(x, {3, 2}).shape() == Shape{3, 2});
    check_values(reshape(x, {3, 2}), {0, 1, 2, 3, 4, 5});
    CHECK(reshape(x, {3, 2}).at({2, 0}) == 4);
    // a view: same storage, and a write through one handle is seen by the other
    Tensor r = reshape(x, {-1});
    CHECK(r.raw_data() == x.raw_data());
    r.data<double>()[4] = 40;
    CHECK(x.at({1, 1}) == 40);
    // one element to 0-d and back; empty tensors
    CHECK(reshape(f64({7}, {1, 1}), {}).shape() == Shape{});
    CHECK(reshape(f64({7}, {}), {-1}).shape() == Shape{1});
    CHECK(reshape(zeros({0, 3}), {3, 0}).shape() == Shape{3, 0});
}

TEST_CASE("shape: reshape gradcheck and gradient shape", "[shape]") {
    Tensor x = param({2, 3}, 1);
    require_gradcheck([](const std::vector<Tensor>& in) { return reshape(in[0], {-1}); }, {x});
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(reshape(in[0], {3, 2}), reshape(in[0], {3, 2})); }, {x});
    // used twice in two different shapes
    require_gradcheck([](const std::vector<Tensor>& in) { return add(reshape(in[0], {6, 1}), flatten(in[0])); }, {x});
    Tensor y = iota({2, 3}, true);
    sum(mul(reshape(y, {-1}), f64({1, 2, 3, 4, 5, 6}, {6}))).backward();
    REQUIRE(y.grad().shape() == Shape{2, 3});
    check_values(y.grad(), {1, 2, 3, 4, 5, 6});
}

TEST_CASE("shape: reshape errors name the shapes", "[shape][errors]") {
    Tensor x = iota({2, 3});
    CHECK_THROWS_MATCHES(reshape(x, {-1, -1}), ShapeError, Catch::Matchers::Message("reshape: more than one -1 in [-1, -1]"));
    CHECK_THROWS_MATCHES(reshape(x, {-2, 3}), ShapeError, Catch::Matchers::Message("reshape: negative size in [-2, 3]"));
    CHECK_THROWS_MATCHES(reshape(x, {-1, 4}), ShapeError,
                         Catch::Matchers::Message("reshape: cannot infer -1 in [-1, 4] for a tensor of 6 elements ([2, 3])"));
    CHECK_THROWS_MATCHES(reshape(x, {4}), ShapeError,
                         Catch::Matchers::Message("reshape: cannot view [2, 3] (6 elements) as [4] (4 elements)"));
    CHECK_THROWS_AS(reshape(x, {0, -1}), ShapeError);
}

// ---- transpose and permute ------------------------------------------------------------------------

TEST_CASE("shape: transpose golden values, 2-D and 3-D", "[shape]") {
    Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor t = transpose(x, 0, 1);
    CHECK(t.shape() == Shape{3, 2});
    check_values(t, {1, 4, 2, 5, 3, 6});
    check_values(transpose(x, -1, -2), {1, 4, 2, 5, 3, 6});
    check_values(transpose(x, 1, 1), {1, 2, 3, 4, 5, 6});
    CHECK(t.raw_data() != x.raw_data());  // a copy: tensors are always contiguous

    Tensor a = iota({2, 3, 4});
    Tensor b = transpose(a, 0, 2);
    REQUIRE(b.shape() == Shape{4, 3, 2});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
            for (std::int64_t k = 0; k < 4; ++k) CHECK(b.at({k, j, i}) == a.at({i, j, k}));
}

TEST_CASE("shape: permute moves every element right for every order of four dims (whole-row copies included)",
          "[shape]") {
    Tensor a = iota({2, 3, 4, 5});
    std::vector<std::int64_t> order = {0, 1, 2, 3};
    do {
        INFO("order " << order[0] << order[1] << order[2] << order[3]);
        Tensor p = permute(a, order);
        std::int64_t idx[4];
        for (idx[0] = 0; idx[0] < 2; ++idx[0])
            for (idx[1] = 0; idx[1] < 3; ++idx[1])
                for (idx[2] = 0; idx[2] < 4; ++idx[2])
                    for (idx[3] = 0; idx[3] < 5; ++idx[3])
                        REQUIRE(p.at({idx[order[0]], idx[order[1]], idx[order[2]], idx[order[3]]}) ==
                                a.at({idx[0], idx[1], idx[2], idx[3]}));
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(permute(zeros({2, 0, 3}), {1, 0, 2}).shape() == Shape{0, 2, 3});
}

TEST_CASE("shape: permute golden values and the inverse permutation in backward", "[shape]") {
    Tensor a = iota({2, 3, 4});
    Tensor p = permute(a, {2, 0, 1});
    REQUIRE(p.shape() == Shape{4, 2, 3});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
            for (std::int64_t k = 0; k < 4; ++k) CHECK(p.at({k, i, j}) == a.at({i, j, k}));
    CHECK(allclose(permute(a, {-1, 0, -2}), p, 0, 0));
    CHECK(allclose(permute(a, {0, 1, 2}), a, 0, 0));
    // int64 and float32 tensors permute too (a byte copy)
    CHECK(permute(Tensor::ids({1, 2, 3, 4, 5, 6}, {2, 3}), {1, 0}).to_ids() == std::vector<std::int64_t>{1, 4, 2, 5, 3, 6});
    CHECK(permute(Tensor::from({1, 2, 3, 4}, {2, 2}), {1, 0}).to_vector() == std::vector<double>{1, 3, 2, 4});

    // backward: a gradient shaped like p comes back shaped like a, element by element
    Tensor x = iota({2, 3, 4}, true);
    Tensor y = permute(x, {2, 0, 1});
    y.backward(permute(iota({2, 3, 4}), {2, 0, 1}));
    check_values(x.grad(), iota({2, 3, 4}).to_vector());
}

TEST_CASE("shape: transpose and permute gradcheck", "[shape]") {
    Tensor x = param({2, 3, 4}, 2);
    require_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 1); }, {param({2, 3}, 3)});
    require_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 2); }, {x});
    require_gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], -1, 1); }, {x});
    for (const std::vector<std::int64_t>& order : {std::vector<std::int64_t>{1, 2, 0}, {2, 0, 1}, {2, 1, 0}, {0, 2, 1}}) {
        INFO("order " << fmt::format("{}", fmt::join(order, ",")));
        require_gradcheck([&](const std::vector<Tensor>& in) { return permute(in[0], order); }, {x});
    }
    // x^T used together with x: sum(x^T x)
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(transpose(in[0], 0, 1), transpose(in[0], 0, 1)); },
                      {param({3, 3}, 4)});
    require_gradcheck([](const std::vector<Tensor>& in) { return add(transpose(in[0], 0, 1), in[0]); }, {param({3, 3}, 5)});
}

TEST_CASE("shape: transpose and permute errors", "[shape][errors]") {
    Tensor x = iota({2, 3});
    CHECK_THROWS_MATCHES(transpose(x, 0, 2), IndexError,
                         Catch::Matchers::Message("transpose: dim 2 out of range for a tensor with 2 dims (expected -2 to 1)"));
    CHECK_THROWS_MATCHES(permute(x, {0, 0}), ShapeError, Catch::Matchers::Message("permute: [0, 0] is not a permutation of the 2 dims"));
    CHECK_THROWS_MATCHES(permute(x, {0}), ShapeError,
                         Catch::Matchers::Message("permute: order [0] has 1 entries for a tensor [2, 3] of rank 2"));
    CHECK_THROWS_AS(permute(x, {0, 2}), IndexError);
    // 0-d: transposing the one implicit dim with itself is the identity
    CHECK(transpose(f64({3}, {}), 0, -1).item() == 3);
}

// ---- unsqueeze and squeeze ------------------------------------------------------------------------

TEST_CASE("shape: unsqueeze and squeeze shapes, views and gradients", "[shape]") {
    Tensor x = iota({2, 3});
    CHECK(unsqueeze(x, 0).shape() == Shape{1, 2, 3});
    CHECK(unsqueeze(x, 1).shape() == Shape{2, 1, 3});
    CHECK(unsqueeze(x, 2).shape() == Shape{2, 3, 1});
    CHECK(unsqueeze(x, -1).shape() == Shape{2, 3, 1});
    CHECK(unsqueeze(x, -3).shape() == Shape{1, 2, 3});
    CHECK(unsqueeze(f64({1}, {}), 0).shape() == Shape{1});
    CHECK(unsqueeze(x, 1).raw_data() == x.raw_data());
    Tensor y = iota({1, 2, 1});
    CHECK(squeeze(y, 0).shape() == Shape{2, 1});
    CHECK(squeeze(y, -1).shape() == Shape{1, 2});
    CHECK(squeeze(y, 2).shape() == Shape{1, 2});
    CHECK(squeeze(f64({1}, {1}), 0).shape() == Shape{});
    CHECK(squeeze(f64({4}, {}), 0).item() == 4);  // 0-d stays 0-d
    check_values(squeeze(unsqueeze(x, 1), 1), {0, 1, 2, 3, 4, 5});

    require_gradcheck([](const std::vector<Tensor>& in) { return unsqueeze(in[0], 1); }, {param({2, 3}, 6)});
    require_gradcheck([](const std::vector<Tensor>& in) { return squeeze(in[0], -1); }, {param({2, 3, 1}, 7)});
    // unsqueeze used for an outer product with the same tensor
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(unsqueeze(in[0], 0), unsqueeze(in[0], 1)); },
                      {param({3}, 8)});
}

TEST_CASE("shape: unsqueeze and squeeze errors", "[shape][errors]") {
    Tensor x = iota({1, 2, 1});
    CHECK_THROWS_MATCHES(squeeze(x, 1), ShapeError, Catch::Matchers::Message("squeeze: dim 1 of [1, 2, 1] has size 2, not 1"));
    CHECK_THROWS_MATCHES(unsqueeze(iota({2, 3}), 3), IndexError,
                         Catch::Matchers::Message("unsqueeze: dim 3 out of range for a result of rank 3 (input [2, 3])"));
    CHECK_THROWS_AS(unsqueeze(iota({2, 3}), -4), IndexError);
    CHECK_THROWS_AS(squeeze(x, 3), IndexError);
}

// ---- narrow, slice, select ------------------------------------------------------------------------

TEST_CASE("shape: narrow slice select golden values", "[shape]") {
    Tensor x = iota({3, 4});  // rows [0..3], [4..7], [8..11]
    Tensor n = narrow(x, 1, 1, 2);
    CHECK(n.shape() == Shape{3, 2});
    check_values(n, {1, 2, 5, 6, 9, 10});
    check_values(slice(x, 0, 1, 3), {4, 5, 6, 7, 8, 9, 10, 11});
    check_values(slice(x, -1, 3, 4), {3, 7, 11});
    CHECK(narrow(x, 1, 4, 0).shape() == Shape{3, 0});
    Tensor s = select(x, 1, -1);
    CHECK(s.shape() == Shape{3});
    check_values(s, {3, 7, 11});
    check_values(select(x, 0, 1), {4, 5, 6, 7});
    check_values(select(x, 0, -3), {0, 1, 2, 3});
    // 3-D, middle dim
    Tensor a = iota({2, 3, 4});
    check_values(narrow(a, 1, 2, 1), {8, 9, 10, 11, 20, 21, 22, 23});
    check_values(select(a, 2, 1), {1, 5, 9, 13, 17, 21});
}

TEST_CASE("shape: narrow slice select gradients land in the right slice", "[shape]") {
    Tensor x = iota({3, 4}, true);
    sum(narrow(x, 1, 1, 2)).backward();
    check_values(x.grad(), {0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0});
    x.zero_grad();
    sum(mul(select(x, 0, 2), f64({1, 2, 3, 4}, {4}))).backward();
    check_values(x.grad(), {0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4});

    Tensor a = param({2, 5, 3}, 9);
    require_gradcheck([](const std::vector<Tensor>& in) { return narrow(in[0], 1, 1, 3); }, {a});
    require_gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], -1, 0, 2); }, {a});
    require_gradcheck([](const std::vector<Tensor>& in) { return select(in[0], 1, -2); }, {a});
    require_gradcheck([](const std::vector<Tensor>& in) { return select(in[0], 0, 1); }, {a});
    // two overlapping slices of the same tensor
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(narrow(in[0], 1, 0, 3), narrow(in[0], 1, 2, 3)); }, {a});
}

TEST_CASE("shape: narrow slice select errors are IndexErrors naming the range and shape", "[shape][errors]") {
    Tensor x = iota({3, 4});
    CHECK_THROWS_MATCHES(narrow(x, 1, 3, 2), IndexError,
                         Catch::Matchers::Message("narrow: range [3, 5) out of bounds for dim 1 of size 4 (shape [3, 4])"));
    CHECK_THROWS_MATCHES(narrow(x, 0, -1, 1), IndexError,
                         Catch::Matchers::Message("narrow: range [-1, 0) out of bounds for dim 0 of size 3 (shape [3, 4])"));
    CHECK_THROWS_MATCHES(slice(x, 1, 2, 6), IndexError,
                         Catch::Matchers::Message("narrow: range [2, 6) out of bounds for dim 1 of size 4 (shape [3, 4])"));
    CHECK_THROWS_MATCHES(select(x, 1, 4), IndexError,
                         Catch::Matchers::Message("select: index 4 out of range for dim 1 of size 4 (shape [3, 4])"));
    CHECK_THROWS_MATCHES(select(x, 0, -4), IndexError,
                         Catch::Matchers::Message("select: index -4 out of range for dim 0 of size 3 (shape [3, 4])"));
    CHECK_THROWS_AS(narrow(x, 2, 0, 1), IndexError);
    CHECK_THROWS_AS(narrow(f64({1}, {}), 0, 0, 1), ShapeError);
    CHECK_THROWS_AS(select(f64({1}, {}), 0, 0), ShapeError);
}

// ---- cat and stack --------------------------------------------------------------------------------

TEST_CASE("shape: cat golden values along each dim", "[shape]") {
    Tensor a = f64({1, 2, 3, 4}, {2, 2});
    Tensor b = f64({5, 6, 7, 8, 9, 10}, {2, 3});
    Tensor c1 = cat({a, b}, 1);
    CHECK(c1.shape() == Shape{2, 5});
    check_values(c1, {1, 2, 5, 6, 7, 3, 4, 8, 9, 10});
    check_values(cat({a, b}, -1), c1.to_vector());
    Tensor c0 = cat({f64({1, 2, 3}, {1, 3}), b}, 0);
    CHECK(c0.shape() == Shape{3, 3});
    check_values(c0, {1, 2, 3, 5, 6, 7, 8, 9, 10});
    check_values(cat({a}, 0), a.to_vector());
    // 3-D, middle dim
    Tensor x = iota({2, 1, 2}), y = iota({2, 2, 2});
    check_values(cat({x, y}, 1), {0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 6, 7});
    // int64 ids concatenate too
    CHECK(cat({Tensor::ids({1, 2}, {2}), Tensor::ids({3}, {1})}, 0).to_ids() == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("shape: cat gradcheck over all inputs, repeated inputs and partial requires_grad", "[shape]") {
    Tensor a = param({2, 2, 3}, 10), b = param({2, 1, 3}, 11), c = param({2, 4, 3}, 12);
    require_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2]}, 1); }, {a, b, c});
    require_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[0]}, 0); }, {a});
    require_gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[0]}, -2); }, {a, b});
    // only one input requires grad: the other gets nothing, the first gets its slice
    Tensor p = f64({1, 2}, {2}, true);
    Tensor q = f64({3}, {1});
    sum(mul(cat({q, p}, 0), f64({10, 20, 30}, {3}))).backward();
    check_values(p.grad(), {20, 30});
    CHECK_FALSE(q.grad().defined());
}

TEST_CASE("shape: stack golden values and gradcheck", "[shape]") {
    Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = f64({7, 8, 9, 10, 11, 12}, {2, 3});
    Tensor s0 = stack({a, b}, 0);
    CHECK(s0.shape() == Shape{2, 2, 3});
    check_values(s0, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    Tensor s1 = stack({a, b}, 1);
    CHECK(s1.shape() == Shape{2, 2, 3});
    check_values(s1, {1, 2, 3, 7, 8, 9, 4, 5, 6, 10, 11, 12});
    Tensor s2 = stack({a, b}, -1);
    CHECK(s2.shape() == Shape{2, 3, 2});
    check_values(s2, {1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 6, 12});
    Tensor sc = stack({f64({1}, {}), f64({2}, {}), f64({3}, {})}, 0);
    CHECK(sc.shape() == Shape{3});
    check_values(sc, {1, 2, 3});

    for (std::int64_t dim : {0, 1, 2, -1, -3}) {
        INFO("dim " << dim);
        require_gradcheck([dim](const std::vector<Tensor>& in) { return stack({in[0], in[1], in[0]}, dim); },
                          {param({2, 3}, 13), param({2, 3}, 14)});
    }
}

TEST_CASE("shape: cat and stack errors name the tensors and shapes", "[shape][errors]") {
    Tensor a = zeros({2, 2});
    CHECK_THROWS_MATCHES(cat({a, zeros({3, 3})}, 1), ShapeError,
                         Catch::Matchers::Message("cat: tensor 1 has shape [3, 3] but tensor 0 has [2, 2]; all dims but 1 must match"));
    CHECK_THROWS_MATCHES(cat({a, zeros({2, 2, 1})}, 0), ShapeError,
                         Catch::Matchers::Message("cat: tensor 1 has shape [2, 2, 1] but tensor 0 has [2, 2]; all dims but 0 must match"));
    CHECK_THROWS_MATCHES(cat({a, zeros({2, 2}, {.dtype = DType::Float64})}, 0), ShapeError,
                         Catch::Matchers::Message("cat: dtypes differ: float32 vs float64 (convert one with .to())"));
    CHECK_THROWS_MATCHES(cat({}, 0), ShapeError, Catch::Matchers::Message("cat: no tensors given"));
    CHECK_THROWS_AS(cat({a, a}, 2), IndexError);
    CHECK_THROWS_AS(cat({a, Tensor()}, 0), ShapeError);
    CHECK_THROWS_AS(cat({f64({1}, {}), f64({2}, {})}, 0), ShapeError);  // 0-d tensors have no dim to join along
    CHECK_THROWS_MATCHES(stack({a, zeros({3})}, 0), ShapeError,
                         Catch::Matchers::Message("stack: tensor 1 has shape [3] but tensor 0 has [2, 2]"));
    CHECK_THROWS_MATCHES(stack({}, 0), ShapeError, Catch::Matchers::Message("stack: no tensors given"));
    CHECK_THROWS_MATCHES(stack({a, a}, 3), IndexError,
                         Catch::Matchers::Message("stack: dim 3 out of range for a result of rank 3 (inputs [2, 2])"));
}

// ---- split and chunk ------------------------------------------------------------------------------

TEST_CASE("shape: split and chunk sizes and values", "[shape]") {
    Tensor x = iota({5, 2});
    auto parts = split(x, 2, 0);
    REQUIRE(parts.size() == 3);
    CHECK(parts[0].shape() == Shape{2, 2});
    CHECK(parts[2].shape() == Shape{1, 2});
    check_values(parts[1], {4, 5, 6, 7});
    check_values(parts[2], {8, 9});
    CHECK(split(x, 5, 0).size() == 1);
    CHECK(split(x, 7, 0)[0].shape() == Shape{5, 2});
    auto cols = split(x, 1, -1);
    REQUIRE(cols.size() == 2);
    check_values(cols[1], {1, 3, 5, 7, 9});

    auto sizes = [](const std::vector<Tensor>& ts) {
        std::vector<std::int64_t> s;
        for (auto& t : ts) s.push_back(t.shape()[0]);
        return s;
    };
    Tensor v = iota({5});
    CHECK(sizes(chunk(v, 2, 0)) == std::vector<std::int64_t>{3, 2});
    CHECK(sizes(chunk(v, 3, 0)) == std::vector<std::int64_t>{2, 2, 1});
    CHECK(sizes(chunk(v, 5, 0)) == std::vector<std::int64_t>{1, 1, 1, 1, 1});
    CHECK(sizes(chunk(v, 7, 0)) == std::vector<std::int64_t>{1, 1, 1, 1, 1});  // fewer chunks when too few rows
    CHECK(sizes(chunk(iota({6}), 4, 0)) == std::vector<std::int64_t>{2, 2, 2});
    check_values(chunk(v, 2, -1)[1], {3, 4});
    // the gate split of a GRU: [B, 3H] into three [B, H]
    auto gates = chunk(iota({2, 6}), 3, 1);
    REQUIRE(gates.size() == 3);
    check_values(gates[1], {2, 3, 8, 9});
}

TEST_CASE("shape: split and chunk gradcheck", "[shape]") {
    Tensor x = param({5, 3}, 15);
    require_gradcheck(
        [](const std::vector<Tensor>& in) {
            auto p = split(in[0], 2, 0);
            return cat({mul(p[2], 3.0), p[0], mul(p[1], p[1])}, 0);
        },
        {x});
    require_gradcheck(
        [](const std::vector<Tensor>& in) {
            auto c = chunk(in[0], 3, 1);
            return add(mul(c[0], c[1]), c[2]);
        },
        {x});
    // pieces that are not used get no gradient
    Tensor y = iota({4}, true);
    sum(split(y, 3, 0)[1]).backward();
    check_values(y.grad(), {0, 0, 0, 1});
}

TEST_CASE("shape: split and chunk errors", "[shape][errors]") {
    Tensor x = iota({4});
    CHECK_THROWS_MATCHES(split(x, 0, 0), ShapeError, Catch::Matchers::Message("split: size must be positive, got 0"));
    CHECK_THROWS_MATCHES(chunk(x, 0, 0), ShapeError,
                         Catch::Matchers::Message("chunk: the number of chunks must be positive, got 0"));
    CHECK_THROWS_AS(split(x, 1, 1), IndexError);
    CHECK_THROWS_AS(chunk(x, 2, -2), IndexError);
    CHECK_THROWS_AS(split(f64({1}, {}), 1, 0), ShapeError);
}

// ---- expand ---------------------------------------------------------------------------------------

TEST_CASE("shape: expand golden values and summed gradients", "[shape]") {
    Tensor x = f64({1, 2, 3}, {3, 1}, true);
    Tensor y = expand(x, {2, 3, 4});
    REQUIRE(y.shape() == Shape{2, 3, 4});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
            for (std::int64_t k = 0; k < 4; ++k) CHECK(y.at({i, j, k}) == j + 1);
    sum(y).backward();
    check_values(x.grad(), {8, 8, 8});
    check_values(expand(f64({1, 2, 3}, {3}), {2, 3}), {1, 2, 3, 1, 2, 3});
    check_values(expand(f64({5}, {}), {2, 2}), {5, 5, 5, 5});
    Tensor same = f64({1, 2}, {2});
    CHECK(expand(same, {2}).impl() == same.impl());  // nothing to expand: the same tensor
    CHECK(expand(Tensor::ids({4}, {1}), {3}).to_ids() == std::vector<std::int64_t>{4, 4, 4});

    require_gradcheck([](const std::vector<Tensor>& in) { return expand(in[0], {2, 3, 4}); }, {param({3, 1}, 16)});
    require_gradcheck([](const std::vector<Tensor>& in) { return expand(in[0], {2, 3}); }, {param({}, 17)});
    require_gradcheck([](const std::vector<Tensor>& in) { return mul(expand(in[0], {3, 3}), in[0]); }, {param({1, 3}, 18)});
}

TEST_CASE("shape: expand errors name both shapes", "[shape][errors]") {
    CHECK_THROWS_MATCHES(expand(zeros({3}), {2, 4}), ShapeError,
                         Catch::Matchers::Message("expand: cannot expand [3] to [2, 4] (dim 0: 3 is not 1 and differs from 4)"));
    CHECK_THROWS_MATCHES(expand(zeros({2, 3}), {3}), ShapeError,
                         Catch::Matchers::Message("expand: cannot expand [2, 3] to the smaller rank [3]"));
}

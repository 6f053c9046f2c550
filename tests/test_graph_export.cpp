// to_dot: the graph of a small expression, with names, shapes and norms.
#include "core/graph_export.h"
#include "helpers.h"

using namespace seqgrad;

TEST_CASE("graph_export: DOT of a small graph names ops, shapes and leaves", "[graph]") {
    Tensor w = seqgrad::testing::param({3, 2}, 1).set_name("W");
    Tensor x = seqgrad::testing::param({4, 2}, 2).set_name("x");
    Tensor loss = sum(tanh(linear(x, w)));
    const std::string dot = to_dot(loss);
    CHECK_THAT(dot, Catch::StartsWith("digraph autograd {"));
    CHECK_THAT(dot, Catch::Contains("linear\\n[4, 3]"));
    CHECK_THAT(dot, Catch::Contains("tanh\\n[4, 3]"));
    CHECK_THAT(dot, Catch::Contains("sum\\n[]"));
    CHECK_THAT(dot, Catch::Contains("W\\n[3, 2]"));
    CHECK_THAT(dot, Catch::Contains("x\\n[4, 2]"));
    // 3 ops + 2 leaves + the output node, and 5 edges
    std::size_t nodes = 0, edges = 0;
    for (std::size_t p = dot.find("[label"); p != std::string::npos; p = dot.find("[label", p + 1)) ++nodes;
    for (std::size_t p = dot.find("->"); p != std::string::npos; p = dot.find("->", p + 1)) ++edges;
    CHECK(nodes == 6);
    CHECK(edges == 5);

    loss.backward({.retain_graph = true});
    const std::string with_norms = to_dot(loss, {.show_norms = true, .title = {}});
    CHECK_THAT(with_norms, Catch::Contains("|grad|"));
    CHECK_THAT(with_norms, Catch::Contains("|value|"));
}

TEST_CASE("graph_export: a shared input appears once", "[graph]") {
    Tensor a = seqgrad::testing::param({2}, 3).set_name("a");
    Tensor y = sum(a * a + a);
    const std::string dot = to_dot(y);
    std::size_t count = 0;
    for (std::size_t p = dot.find("label=\"a\\n"); p != std::string::npos; p = dot.find("label=\"a\\n", p + 1)) ++count;
    CHECK(count == 1);
}

// Patch grids (layers/patches.h): window origins including the one flush with the far edge, golden
// values of a 4x4 image, gradcheck through overlapping windows, errors.
#include "helpers.h"
#include "layers/patches.h"

using namespace seqgrad;
using seqgrad::testing::f64;
using seqgrad::testing::param;

TEST_CASE("patches: origins, with a last window flush with the edge", "[patches]") {
    nn::PatchGrid even({.height = 4, .width = 4, .patch = 2, .stride = 2});
    CHECK(even.count() == 4);
    CHECK(even.origin(1) == std::pair<std::int64_t, std::int64_t>{0, 2});
    CHECK(even.origin(2) == std::pair<std::int64_t, std::int64_t>{2, 0});
    // Starts 0, 3 would overrun a 5-wide image with patch 3: the last start is 5 - 3 = 2 instead.
    nn::PatchGrid uneven({.height = 4, .width = 5, .patch = 3, .stride = 3});
    CHECK(uneven.grid_rows() == 2);  // 0, then 4 - 3 = 1
    CHECK(uneven.grid_cols() == 2);  // 0, then 5 - 3 = 2
    CHECK(uneven.origin(3) == std::pair<std::int64_t, std::int64_t>{1, 2});
    nn::PatchGrid whole({.height = 3, .width = 3, .patch = 3, .stride = 1});
    CHECK(whole.count() == 1);
}

TEST_CASE("patches: golden values of a 4x4 image", "[patches]") {
    std::vector<double> v(16);
    for (int i = 0; i < 16; ++i) v[i] = i;
    nn::PatchGrid grid({.height = 4, .width = 4, .patch = 2, .stride = 2});
    Tensor p = grid(f64(v, {1, 4, 4}));
    REQUIRE(p.shape() == Shape{1, 4, 4});
    // Window 1 starts at (0, 2): pixels 2, 3 of row 0 and 6, 7 of row 1.
    seqgrad::testing::check_values(select(select(p, 0, 0), 0, 1), {2, 3, 6, 7});
    seqgrad::testing::check_values(select(select(p, 0, 0), 0, 3), {10, 11, 14, 15});
}

TEST_CASE("patches: gradcheck through overlapping windows, and the gradient counts the windows", "[patches]") {
    nn::PatchGrid grid({.height = 5, .width = 4, .patch = 3, .stride = 1});  // 3 x 2 windows, overlapping
    Tensor images = param({2, 5, 4}, 3);
    seqgrad::testing::require_gradcheck([&](const std::vector<Tensor>& in) { return grid(in[0]); }, {images});
    // d(sum of all patches)/d pixel = how many windows hold the pixel: the corner 1, pixel (2, 1) all 6.
    Tensor x = f64(std::vector<double>(20, 1.0), {1, 5, 4}, true);
    sum(grid(x)).backward();
    CHECK(x.grad().at({0, 0, 0}) == 1.0);
    CHECK(x.grad().at({0, 2, 1}) == 6.0);
}

TEST_CASE("patches: bad sizes and bad images name the grid and the shapes", "[patches][errors]") {
    CHECK_THROWS_WITH(nn::PatchGrid({.height = 4, .width = 4, .patch = 0, .stride = 1}),
                      "PatchGrid: height, width, patch and stride must be positive, got height=4, width=4, patch=0, stride=1");
    CHECK_THROWS_WITH(nn::PatchGrid({.height = 4, .width = 3, .patch = 4, .stride = 1}),
                      "PatchGrid: patch 4 is larger than the image [4, 3]");
    nn::PatchGrid grid({.height = 4, .width = 4, .patch = 2, .stride = 2});
    CHECK_THROWS_AS(grid(zeros({2, 4, 5})), ShapeError);
    CHECK_THROWS_WITH(grid(zeros({2, 4, 5})), "PatchGrid: images must be [B, 4, 4], got [2, 4, 5]");
    CHECK_THROWS_AS(grid.origin(4), IndexError);
    CHECK_THROWS_WITH(grid.origin(4), "PatchGrid: window 4 outside [0, 4)");
}

// The 5×7 font and the cluttered-digits generator (see the header for the task).
#include "models/vision/digits.h"

#include <algorithm>

#include "core/error.h"
#include "core/random.h"

namespace seqgrad::vision {

namespace {
// The classic 5×7 dot-matrix digits.
const std::array<std::array<std::string, kGlyphRows>, kClasses> kFont = {{
    {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},  // 0
    {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},  // 1
    {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},  // 2
    {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},  // 3
    {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},  // 4
    {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},  // 5
    {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},  // 6
    {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},  // 7
    {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},  // 8
    {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},  // 9
}};

bool overlaps(const Box& a, const Box& b) {
    return a.top < b.top + b.height && b.top < a.top + a.height && a.left < b.left + b.width &&
           b.left < a.left + a.width;
}

// Font cells [r0, r0 + rows) × [c0, c0 + cols) of glyph d, magnified, drawn with its top-left at (top, left).
void draw(std::vector<float>& img, std::int64_t N, int d, std::int64_t r0, std::int64_t c0, std::int64_t rows,
          std::int64_t cols, std::int64_t scale, std::int64_t top, std::int64_t left) {
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            if (kFont[d][r0 + r][c0 + c] != '#') continue;
            for (std::int64_t i = 0; i < scale; ++i)
                for (std::int64_t j = 0; j < scale; ++j)
                    img[(top + r * scale + i) * N + left + c * scale + j] = 1.0f;
        }
}

std::int64_t pick(Generator& gen, std::int64_t n) { return static_cast<std::int64_t>(gen.randint(static_cast<std::uint64_t>(n))); }
}  // namespace

const std::array<std::string, kGlyphRows>& glyph(int digit) {
    if (digit < 0 || digit >= kClasses) fail<IndexError>("glyph: digit {} outside [0, 9]", digit);
    return kFont[digit];
}

DigitImages cluttered_digits(std::uint64_t seed, std::int64_t n, const ClutteredDigitsOptions& o) {
    if (n < 0 || o.canvas <= 0 || o.scale <= 0 || o.fragment <= 0 || o.fragment > kGlyphCols)
        fail("cluttered_digits: n >= 0, canvas > 0, scale > 0 and fragment in [1, {}] are required, got n={}, canvas={}, "
             "scale={}, fragment={}",
             kGlyphCols, n, o.canvas, o.scale, o.fragment);
    const std::int64_t N = o.canvas, H = kGlyphRows * o.scale, W = kGlyphCols * o.scale, F = o.fragment * o.scale;
    const std::int64_t distractors = o.distractors >= 0 ? o.distractors : N * N / 200;
    if (H > N || (distractors > 0 && H + F > N))
        fail("cluttered_digits: a canvas of {} pixels cannot hold the {}x{} digit{} (use a canvas of at least {})", N, W,
             H, distractors > 0 ? " and a distractor beside it" : "", distractors > 0 ? H + F : H);
    Generator gen(seed);
    DigitImages out;
    out.canvas = N;
    out.pixels.assign(static_cast<std::size_t>(n * N * N), 0.0f);
    for (std::int64_t k = 0; k < n; ++k) {
        std::vector<float> img(static_cast<std::size_t>(N * N), 0.0f);
        const int d = static_cast<int>(pick(gen, kClasses));
        const Box box{pick(gen, N - H + 1), pick(gen, N - W + 1), H, W};
        draw(img, N, d, 0, 0, kGlyphRows, kGlyphCols, o.scale, box.top, box.left);
        for (std::int64_t j = 0; j < distractors; ++j) {
            // A fragment from a random glyph, at a random place clear of the digit (a few tries; a fragment
            // that finds no free place is left out rather than drawn over the digit).
            const int fd = static_cast<int>(pick(gen, kClasses));
            const std::int64_t r0 = pick(gen, kGlyphRows - o.fragment + 1), c0 = pick(gen, kGlyphCols - o.fragment + 1);
            for (int attempt = 0; attempt < 20; ++attempt) {
                const Box at{pick(gen, N - F + 1), pick(gen, N - F + 1), F, F};
                if (overlaps(at, box)) continue;
                draw(img, N, fd, r0, c0, o.fragment, o.fragment, o.scale, at.top, at.left);
                break;
            }
        }
        std::copy(img.begin(), img.end(), out.pixels.begin() + k * N * N);
        out.labels.push_back(d);
        out.boxes.push_back(box);
    }
    return out;
}

namespace {
std::vector<std::int64_t> span(std::int64_t begin, std::int64_t count) {
    std::vector<std::int64_t> idx(static_cast<std::size_t>(std::max<std::int64_t>(count, 0)));
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = begin + static_cast<std::int64_t>(i);
    return idx;
}
void check_example(const DigitImages& data, std::int64_t i) {
    if (i < 0 || i >= data.size()) fail<IndexError>("DigitImages: example {} outside the {} images", i, data.size());
}
}  // namespace

Tensor DigitImages::images(std::int64_t begin, std::int64_t count) const { return images(span(begin, count)); }
Tensor DigitImages::targets(std::int64_t begin, std::int64_t count) const { return targets(span(begin, count)); }

Tensor DigitImages::images(const std::vector<std::int64_t>& indices) const {
    const std::int64_t px = canvas * canvas, count = static_cast<std::int64_t>(indices.size());
    std::vector<float> v;
    v.reserve(static_cast<std::size_t>(count * px));
    for (std::int64_t i : indices) {
        check_example(*this, i);
        v.insert(v.end(), pixels.begin() + i * px, pixels.begin() + (i + 1) * px);
    }
    return Tensor::from_float(v, {count, canvas, canvas});
}

Tensor DigitImages::targets(const std::vector<std::int64_t>& indices) const {
    std::vector<std::int64_t> t;
    for (std::int64_t i : indices) {
        check_example(*this, i);
        t.push_back(labels[static_cast<std::size_t>(i)]);
    }
    return Tensor::ids(t, {static_cast<std::int64_t>(t.size())});
}

std::string to_text(const DigitImages& data, std::int64_t index) {
    check_example(data, index);
    const std::int64_t N = data.canvas;
    std::string s;
    for (std::int64_t y = 0; y < N; ++y) {
        for (std::int64_t x = 0; x < N; ++x) s += data.pixels[(index * N + y) * N + x] > 0.5f ? '#' : '.';
        s += '\n';
    }
    return s;
}

}  // namespace seqgrad::vision

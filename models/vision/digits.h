// "Cluttered digits": a generated image task for visual attention, in the spirit of the cluttered
// MNIST of Mnih et al. (2014) but drawn entirely by the project, so nothing is downloaded.
//
// Each image is an N×N canvas (values in [0, 1], 0 = background) holding one digit glyph of a 5×7
// pixel font, magnified `scale` times (10×14 pixels at scale 2), at a uniformly random place, and
// distractors: fragments (3×3 font cells by default) cut from random glyphs, scattered at random places
// that do not touch the digit's box, so a fragment never changes which digit the image shows but
// locally looks like a piece of one. The class is the digit, 0-9. The number of distractors grows with
// the canvas area (N²/200 by default), so clutter stays equally dense while the digit covers an ever
// smaller share of the image: a model that looks everywhere at once gets harder to train as N grows,
// one that finds the digit first does not.
//
// Everything comes from one seed through seqgrad's Generator (bit-identical on every machine), like the
// toy corpora of models/toy_tasks.h.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace seqgrad::vision {

constexpr std::int64_t kGlyphRows = 7, kGlyphCols = 5, kClasses = 10;

// The font: glyph(d)[r][c] is '#' for ink, '.' for background (d in 0..9, r < 7, c < 5).
const std::array<std::string, kGlyphRows>& glyph(int digit);

struct ClutteredDigitsOptions {
    std::int64_t canvas = 40;       // N
    std::int64_t scale = 2;         // font cell size in pixels: the digit is 5·scale wide, 7·scale tall
    std::int64_t distractors = -1;  // per image; -1: N² / 200
    std::int64_t fragment = 3;      // a distractor is a fragment×fragment block of font cells
};

// The digit's bounding box in pixels.
struct Box {
    std::int64_t top = 0, left = 0, height = 0, width = 0;
};

struct DigitImages {
    std::int64_t canvas = 0;
    std::vector<float> pixels;          // [n, N, N] row-major
    std::vector<std::int64_t> labels;   // [n]
    std::vector<Box> boxes;             // [n]

    std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
    // images [count, N, N] (float32) and labels int64 [count] of examples begin .. begin + count - 1.
    Tensor images(std::int64_t begin, std::int64_t count) const;
    Tensor targets(std::int64_t begin, std::int64_t count) const;
    // The same for a list of example indices (a shuffled batch).
    Tensor images(const std::vector<std::int64_t>& indices) const;
    Tensor targets(const std::vector<std::int64_t>& indices) const;
};

// n images from the seed. Throws ShapeError naming cluttered_digits when the canvas is smaller than
// the digit (or than the digit plus room for one fragment, when there are distractors), or a size is
// not positive.
DigitImages cluttered_digits(std::uint64_t seed, std::int64_t n, const ClutteredDigitsOptions& options = {});

// An image as text, '#' for ink above 0.5 and '.' elsewhere, one line per row (for tests and debugging).
std::string to_text(const DigitImages& data, std::int64_t index);

}  // namespace seqgrad::vision

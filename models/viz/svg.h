// Pictures as SVG text: attention heatmaps (output tokens down, source tokens across), gradient
// heatmaps, and line plots (loss curves, exact match vs sequence length, step time vs hidden size).
// Plain standard library + fmt, no Tensor: callers pass rows of doubles, so the pictures work even
// from a tool that only reads a JSON report. Also here: the small pieces both picture back ends
// share (colour ramps, value range, 1-2-5 ticks, argument checks) and a minimal SVG writer that
// escapes every text and attribute, so a label such as "<unk>" or "l'été" cannot break the file.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace seqgrad::viz {

// A matrix as rows: values[r][c]. Every row must have the same length.
using Matrix = std::vector<std::vector<double>>;

// ---- colour -------------------------------------------------------------------------------------

struct Rgb {
    std::uint8_t r = 0, g = 0, b = 0;
    bool operator==(const Rgb&) const = default;
};

enum class ColourScale {
    Sequential,  // viridis (dark purple -> yellow): attention weights, probabilities
    Diverging,   // blue - white - red, white at 0, symmetric: gradients, differences
};

// The colour at t in [0, 1] along the scale (t is clamped). Piecewise-linear between control colours
// sampled from viridis / ColorBrewer RdBu, which is close enough to the originals to read the same.
Rgb colour_at(ColourScale scale, double t);
// "#rrggbb"
std::string hex(Rgb c);
// Black or white, whichever reads better on top of `background` (by relative luminance).
Rgb contrast_text(Rgb background);

// The value range a heatmap maps to colours. Given bounds win; missing ones come from the finite
// values in the data. Diverging ranges are made symmetric, [-m, m] with m = max(|lo|, |hi|), so white
// always means 0. A degenerate range (all values equal) is widened so that mapping stays defined.
// Throws ShapeError when both bounds are given and lo >= hi.
std::pair<double, double> colour_range(const Matrix& values, ColourScale scale, std::optional<double> vmin,
                                       std::optional<double> vmax, std::string_view fn);
// Where v falls in [lo, hi] as t in [0, 1], clamped (so +-inf map to the ends). NaN stays NaN.
double colour_position(double v, double lo, double hi);

// ---- ticks and numbers --------------------------------------------------------------------------

// "Nice" tick values covering [lo, hi] with about `target` intervals and a step of 1, 2 or 5 times a
// power of ten. With `extend` the first and last ticks lie at or outside lo and hi (use them as the
// axis ends); without, every tick lies inside [lo, hi]. Ticks are computed as integer multiples of
// the step, so 0.1 + 0.2 drift never shows up as "0.30000000000000004".
std::vector<double> nice_ticks(double lo, double hi, int target = 5, bool extend = true);
// Tick labels with just enough decimals for the step: {0, 0.5, 1} -> "0", "0.5", "1".
std::vector<std::string> tick_labels(const std::vector<double>& ticks);
// Compact number for SVG attributes: at most 2 decimals, no trailing zeros, never "-0".
std::string svg_number(double v);

// ---- argument checks shared by heatmap_svg and heatmap_terminal ---------------------------------

// Throws ShapeError naming `fn` when the matrix is empty or ragged, or a label count differs from
// the matrix size: "heatmap_svg: 3 column labels for 4 columns".
void check_heatmap_args(std::string_view fn, const Matrix& values, const std::vector<std::string>& col_labels,
                        const std::vector<std::string>& row_labels);

// ---- SVG writing --------------------------------------------------------------------------------

// Escapes & < > " ' for XML text and attribute values. Valid UTF-8 passes through untouched; bytes
// that are not valid UTF-8, and control characters XML 1.0 forbids, become U+FFFD, because either
// would make the whole document unreadable to a browser.
std::string xml_escape(std::string_view text);

// One attribute. Numbers are formatted with svg_number, strings are escaped when written.
struct Attr {
    std::string name, value;
    Attr(std::string n, std::string_view v) : name(std::move(n)), value(v) {}
    Attr(std::string n, const char* v) : name(std::move(n)), value(v) {}
    Attr(std::string n, const std::string& v) : name(std::move(n)), value(v) {}
    // A template so that Attr("x", 0) picks the number and not the null-pointer const char*.
    template <typename T>
        requires std::is_arithmetic_v<T>
    Attr(std::string n, T v) : name(std::move(n)), value(svg_number(static_cast<double>(v))) {}
};

// Builds an SVG document as text. Tags opened with open() are closed by close() or, at the latest,
// by str(), so the output is always balanced.
class SvgWriter {
public:
    SvgWriter(double width, double height);
    // <tag attrs...> (children follow until close())
    void open(std::string_view tag, std::initializer_list<Attr> attrs = {});
    void close();
    // <tag attrs.../>
    void element(std::string_view tag, std::initializer_list<Attr> attrs);
    // <tag attrs...><title>title</title></tag>: the title is what a browser shows on hover.
    void element(std::string_view tag, std::initializer_list<Attr> attrs, std::string_view title);
    // <tag attrs...>text</tag>, text escaped (for <text> and <title>).
    void text(std::string_view tag, std::initializer_list<Attr> attrs, std::string_view text);
    void comment(std::string_view text);
    // Closes every open tag and returns the document.
    std::string str();

private:
    void start_tag(std::string_view tag, std::initializer_list<Attr> attrs);
    std::string out_;
    std::vector<std::string> open_;
};

// ---- heatmap ------------------------------------------------------------------------------------

struct HeatmapOptions {
    std::string title;
    std::string x_label;                   // above the column labels, e.g. "source"
    std::string y_label;                   // left of the row labels, e.g. "output"
    ColourScale scale = ColourScale::Sequential;
    std::optional<double> vmin = std::nullopt, vmax = std::nullopt;  // colour range; missing bounds come from the data
    double cell_size = 28;                 // px, cells are square
    double font_size = 12;                 // px, labels
    bool vertical_col_labels = false;      // column labels at -90 degrees instead of -45
    int max_label_chars = 24;              // longer labels are shortened with "…" (the tooltip has all)
    enum class Values { Auto, Always, Never };
    Values show_values = Values::Auto;     // Auto: only when the matrix has <= 144 cells and cells >= 22 px
};
// Shown values have two decimals; when every |value| is below 0.01 or one is 1000 or more, each cell
// shows value / 10^k instead (k: the decimal exponent of the largest |value|) and the title ends in
// "(cell values ×1e<k>)", so gradients of ~1e-4 read "1.23", not "0.00". Tooltips keep the full value.

// values: [rows = output tokens][cols = source tokens]; col_labels.size() == cols, row_labels.size() == rows.
// Each cell is one <rect class="cell"> with a <title> "row label → col label: value"; NaN cells are
// grey and say "nan". A colour bar with ticks sits on the right. Throws ShapeError on bad sizes.
std::string heatmap_svg(const Matrix& values, const std::vector<std::string>& col_labels,
                        const std::vector<std::string>& row_labels, const HeatmapOptions& opt = {});

// ---- line plot ----------------------------------------------------------------------------------

struct Series {
    std::string name;
    std::vector<double> x, y;
};

struct LinePlotOptions {
    std::string title, x_label, y_label;
    double width = 640, height = 400;      // px, whole picture including legend
    bool log_x = false, log_y = false;     // base-10 axes; every value on them must be > 0
    bool markers = true;                   // a dot (with a hover title) at every point
    // Axis ends; missing ones fit the data (rounded out to the next tick).
    std::optional<double> x_min = std::nullopt, x_max = std::nullopt, y_min = std::nullopt, y_max = std::nullopt;
    double font_size = 12;
};

// One polyline per series in a distinct colour (Tableau 10, then dashed), legend on the right.
// Non-finite y values break the line instead of ending the plot (a validation loss that was not
// computed every epoch). Throws ShapeError when there is no series, a series is empty, x and y
// sizes differ, or a log axis meets a value <= 0.
std::string line_plot_svg(const std::vector<Series>& series, const LinePlotOptions& opt = {});

// ---- figures of several pictures ----------------------------------------------------------------

// A part of a figure: a heading over rows of pictures, e.g. one row per layer and one heatmap per
// head. Each picture is a whole SVG document (heatmap_svg, line_plot_svg).
struct FigureSection {
    std::string heading;
    std::vector<std::vector<std::string>> rows;
};
// The sections one below the other in one SVG document, under an optional title. Each picture keeps
// its own size and is placed as a nested <svg>; the pictures of a row stand side by side. Throws
// ShapeError when there is no picture or one is not an SVG document with a width and a height.
std::string figure_svg(const std::vector<FigureSection>& sections, const std::string& title = "");

}  // namespace seqgrad::viz

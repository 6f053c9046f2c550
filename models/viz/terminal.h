// Pictures and progress for a text terminal: an attention heatmap drawn with ANSI 256-colour blocks
// (or plain characters for log files), the display width of UTF-8 labels, a check for "is stdout a
// colour-capable terminal", and the training progress bar. Standard library + POSIX isatty only.
#pragma once
#include <chrono>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/viz/svg.h"  // Matrix, ColourScale, colour ramps shared with the SVG pictures

namespace seqgrad::viz {

// ---- UTF-8 text width ---------------------------------------------------------------------------

// Columns a UTF-8 string takes in a terminal: 1 per code point, 2 for East Asian wide and fullwidth
// characters (CJK, Hangul, fullwidth forms, most emoji), 0 for combining marks and zero-width
// characters. A range check, not the full Unicode tables, which is enough for labels.
int display_width(std::string_view utf8);
// The longest prefix (whole code points) whose width fits `width`, ending in "…" when something was
// cut. Never splits a character, so the result is still valid UTF-8.
std::string truncate_to_width(std::string_view utf8, int width);

// ---- heatmap ------------------------------------------------------------------------------------

struct TerminalOptions {
    bool color = false;                  // ANSI 256-colour backgrounds; false: characters " .:-=+*#%@"
    int max_label_width = 12;            // columns; longer labels end in "…"
    ColourScale scale = ColourScale::Sequential;
    std::optional<double> vmin = std::nullopt, vmax = std::nullopt;  // colour range; missing bounds come from the data
};

// values: [rows = output tokens][cols = source tokens]. Each cell is two columns wide. Column labels
// are written vertically above their column (one character per line, bottom-aligned), row labels at
// the left, and a legend line under the grid. NaN cells show "??" (plain) or red (colour).
// Throws ShapeError on bad sizes, like heatmap_svg.
std::string heatmap_terminal(const Matrix& values, const std::vector<std::string>& col_labels,
                             const std::vector<std::string>& row_labels, const TerminalOptions& opt = {});

// True when stdout is a terminal we may decorate: isatty(stdout), TERM set and not "dumb", and
// NO_COLOR (https://no-color.org) not set to a non-empty value.
bool stdout_is_terminal();

// ---- progress bar -------------------------------------------------------------------------------

// Metrics shown after the bar, in the given order: {{"loss", 2.31}, {"tok/s", 12400}}.
using Metrics = std::vector<std::pair<std::string, double>>;

struct ProgressOptions {
    // Interactive: one line redrawn with '\r'. Otherwise: a plain line every `plain_every_percent`
    // percent plus the last step, which keeps log files short.
    bool interactive = stdout_is_terminal();
    int plain_every_percent = 10;
    int bar_width = 24;                  // characters inside [ ]
    int line_width = 0;                  // interactive line is cut to this; 0: terminal width or 100
    double min_redraw_seconds = 0.1;     // interactive redraws at most this often (the last step always)
    std::function<double()> clock = {};  // seconds since any fixed point; empty: steady_clock (tests fake it)
};

class ProgressBar {
public:
    // total: number of steps (> 0, else ShapeError). The clock starts here.
    ProgressBar(long total, std::string label, std::ostream& out = std::cout, ProgressOptions opt = {});
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;
    // Ends an unfinished interactive line with '\n' so the next output starts on its own line.
    ~ProgressBar();

    // step: steps done so far, 0..total. Draws the bar if it is time to.
    void update(long step, const Metrics& metrics = {});
    // Draws the final state (if not drawn yet) and ends the line. Idempotent.
    void finish();

    // The text of one status line for `step`, without '\r' or '\n' (exposed for tests).
    std::string status_line(long step, const Metrics& metrics, double elapsed_seconds) const;

private:
    double now() const;
    void draw(long step, const Metrics& metrics, double elapsed);

    long total_;
    std::string label_;
    std::ostream& out_;
    ProgressOptions opt_;
    double start_;
    double last_draw_ = -1e300;
    long last_step_ = -1;          // last step passed to update()
    long drawn_step_ = -1;         // last step actually written
    Metrics last_metrics_;
    int next_percent_;             // plain mode: the next percentage that triggers a line
    size_t last_len_ = 0;          // interactive: width of the previous line, to blank leftovers
    bool finished_ = false;
};

}  // namespace seqgrad::viz

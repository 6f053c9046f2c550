// Terminal output: UTF-8 width, the text heatmap and the progress bar. Everything is built as a
// string first and written in one go, so a picture never interleaves with other output mid-line.
#include "models/viz/terminal.h"

#include "models/data/utf8.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.h"

namespace seqgrad::viz {

namespace {

using data::utf8::kInvalid;

// An invalid or truncated sequence consumes one byte and gives kInvalid (models/data/utf8.h), shown
// as one replacement column instead of giving up.
char32_t next_code_point(std::string_view s, size_t& i) { return data::utf8::decode_lenient(s, i); }

bool in(char32_t cp, char32_t lo, char32_t hi) { return cp >= lo && cp <= hi; }

int code_point_width(char32_t cp) {
    if (cp == kInvalid) return 1;  // shown as U+FFFD or '?'
    if (cp < 0x20 || in(cp, 0x7F, 0x9F)) return 0;
    // Combining marks, zero-width spaces and joiners, variation selectors, BOM.
    if (in(cp, 0x0300, 0x036F) || in(cp, 0x0483, 0x0489) || in(cp, 0x0591, 0x05BD) || in(cp, 0x0610, 0x061A) ||
        in(cp, 0x064B, 0x065F) || in(cp, 0x1AB0, 0x1AFF) || in(cp, 0x1DC0, 0x1DFF) || in(cp, 0x200B, 0x200F) ||
        in(cp, 0x2028, 0x202E) || in(cp, 0x2060, 0x2064) || in(cp, 0x20D0, 0x20FF) || in(cp, 0xFE00, 0xFE0F) ||
        in(cp, 0xFE20, 0xFE2F) || cp == 0xFEFF)
        return 0;
    // East Asian Wide and Fullwidth: Hangul Jamo, CJK radicals..Yi, Hangul syllables, CJK
    // compatibility, vertical and fullwidth forms, emoji blocks, CJK extensions B and beyond.
    if (in(cp, 0x1100, 0x115F) || in(cp, 0x2E80, 0x303E) || in(cp, 0x3041, 0x33FF) || in(cp, 0x3400, 0x4DBF) ||
        in(cp, 0x4E00, 0x9FFF) || in(cp, 0xA000, 0xA4CF) || in(cp, 0xAC00, 0xD7A3) || in(cp, 0xF900, 0xFAFF) ||
        in(cp, 0xFE30, 0xFE4F) || in(cp, 0xFF00, 0xFF60) || in(cp, 0xFFE0, 0xFFE6) || in(cp, 0x1F300, 0x1F64F) ||
        in(cp, 0x1F900, 0x1F9FF) || in(cp, 0x20000, 0x3FFFD))
        return 2;
    return 1;
}

// Labels come from user data. A control character (an ESC above all) would let a token rewrite the
// terminal, and broken UTF-8 would garble the alignment, so both become '?'.
std::string sanitize(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        size_t start = i;
        char32_t cp = next_code_point(s, i);
        if (cp == kInvalid || cp < 0x20 || in(cp, 0x7F, 0x9F))
            out += '?';
        else
            out.append(s.substr(start, i - start));
    }
    return out;
}

// Splits a label into display units for vertical writing: one base character plus the zero-width
// marks that follow it.
std::vector<std::string> units(std::string_view s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size();) {
        size_t start = i;
        char32_t cp = next_code_point(s, i);
        std::string piece(s.substr(start, i - start));
        if (code_point_width(cp) == 0 && !out.empty())
            out.back() += piece;
        else
            out.push_back(piece);
    }
    return out;
}

std::string pad_right(const std::string& s, int width) {
    return s + std::string(static_cast<size_t>(std::max(0, width - display_width(s))), ' ');
}
std::string pad_left(const std::string& s, int width) {
    return std::string(static_cast<size_t>(std::max(0, width - display_width(s))), ' ') + s;
}

// The nearest colour of the xterm 256-colour palette: the 6x6x6 cube (16..231) or the grey ramp
// (232..255), whichever is closer. The 16 system colours are skipped: terminals theme them.
int nearest_xterm256(Rgb c) {
    static constexpr int levels[6] = {0, 95, 135, 175, 215, 255};
    auto cube_index = [](int v) {
        int best = 0;
        for (int k = 1; k < 6; ++k)
            if (std::abs(levels[k] - v) < std::abs(levels[best] - v)) best = k;
        return best;
    };
    int r = cube_index(c.r), g = cube_index(c.g), b = cube_index(c.b);
    auto dist = [&](int R, int G, int B) { return (R - c.r) * (R - c.r) + (G - c.g) * (G - c.g) + (B - c.b) * (B - c.b); };
    int cube_d = dist(levels[r], levels[g], levels[b]);
    int grey = std::clamp(static_cast<int>(std::lround(((c.r + c.g + c.b) / 3.0 - 8) / 10)), 0, 23);
    int gv = 8 + 10 * grey;
    return dist(gv, gv, gv) < cube_d ? 232 + grey : 16 + 36 * r + 6 * g + b;
}

constexpr std::string_view kRamp = " .:-=+*#%@";
constexpr int kNanColour = 201;  // magenta: neither viridis nor blue-white-red contains it

// Legend ends with decimals fitted to the range: 0.000 .. 0.671 rather than 1.29e-59 .. 0.671.
std::string legend_number(double v, double lo, double hi) {
    int decimals = std::clamp(2 - static_cast<int>(std::floor(std::log10(hi - lo))), 0, 6);
    std::string s = fmt::format("{:.{}f}", v, decimals);
    return s.find_first_not_of("-0.") == std::string::npos ? s.substr(s[0] == '-' ? 1 : 0) : s;  // no "-0.000"
}

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "--:--";
    long s = std::lround(seconds);
    long h = s / 3600, m = (s / 60) % 60, sec = s % 60;
    return h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, sec) : fmt::format("{:02}:{:02}", m, sec);
}

// 2.3456 -> "2.346", 0.005 -> "0.005", 0.00012 -> "1.20e-04", 12345 -> "12.3k": short enough for one status line.
std::string metric_text(double v) {
    double a = std::fabs(v);
    if (std::isnan(v)) return "nan";
    if (a >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
    if (a >= 1e4) return fmt::format("{:.1f}k", v / 1e3);
    if (a >= 100) return fmt::format("{:.0f}", v);
    if (a >= 0.001 || a == 0) return fmt::format("{:.4g}", v);
    return fmt::format("{:.2e}", v);
}

int terminal_columns() {
    struct winsize ws {};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    if (const char* c = std::getenv("COLUMNS")) {
        int n = std::atoi(c);
        if (n > 0) return n;
    }
    return 100;
}

}  // namespace

// ---- UTF-8 text width ---------------------------------------------------------------------------

int display_width(std::string_view s) {
    int w = 0;
    for (size_t i = 0; i < s.size();) w += code_point_width(next_code_point(s, i));
    return w;
}

std::string truncate_to_width(std::string_view s, int width) {
    if (display_width(s) <= width) return std::string(s);
    if (width <= 0) return "";
    std::string out;
    int w = 0;
    for (size_t i = 0; i < s.size();) {
        size_t start = i;
        int cw = code_point_width(next_code_point(s, i));
        if (w + cw > width - 1) break;  // keep one column for the ellipsis
        out.append(s.substr(start, i - start));
        w += cw;
    }
    return out + "…";
}

// ---- heatmap ------------------------------------------------------------------------------------

std::string heatmap_terminal(const Matrix& values, const std::vector<std::string>& col_labels,
                             const std::vector<std::string>& row_labels, const TerminalOptions& opt) {
    constexpr std::string_view fn = "heatmap_terminal";
    check_heatmap_args(fn, values, col_labels, row_labels);
    // Not a structured binding: the cell lambda captures lo and hi, which clang before 16 rejects.
    const auto range = colour_range(values, opt.scale, opt.vmin, opt.vmax, fn);
    const double lo = range.first, hi = range.second;
    const int max_w = std::max(opt.max_label_width, 2);
    const bool diverging = opt.scale == ColourScale::Diverging;

    std::vector<std::string> rl;
    int label_w = 0;
    for (const auto& l : row_labels) {
        rl.push_back(truncate_to_width(sanitize(l), max_w));
        label_w = std::max(label_w, display_width(rl.back()));
    }
    std::vector<std::vector<std::string>> cl;
    size_t label_lines = 0;
    for (const auto& l : col_labels) {
        cl.push_back(units(truncate_to_width(sanitize(l), max_w)));
        label_lines = std::max(label_lines, cl.back().size());
    }
    const std::string indent(static_cast<size_t>(label_w + 1), ' ');

    // One cell, two columns wide so that cells look roughly square.
    auto cell = [&](double v) -> std::string {
        if (opt.color) {
            if (std::isnan(v)) return fmt::format("\x1b[48;5;{}m  ", kNanColour);
            return fmt::format("\x1b[48;5;{}m  ", nearest_xterm256(colour_at(opt.scale, colour_position(v, lo, hi))));
        }
        if (std::isnan(v)) return "??";
        double t = colour_position(v, lo, hi);
        // Characters have no hue, so a diverging map shows the magnitude |v| / max|v|.
        if (diverging) t = std::fabs(t - 0.5) * 2;
        char ch = kRamp[std::min<size_t>(kRamp.size() - 1, static_cast<size_t>(t * kRamp.size()))];
        return std::string(2, ch);
    };
    auto end_row = [&](std::string& line) {
        if (opt.color) line += "\x1b[0m";
        line += '\n';
    };

    std::string out;
    // Column labels, written downwards and bottom-aligned so each ends right above its column.
    for (size_t li = 0; li < label_lines; ++li) {
        std::string line = indent;
        for (const auto& u : cl) {
            size_t first = label_lines - u.size();
            line += li >= first ? pad_right(u[li - first], 2) : "  ";
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + '\n';
    }
    bool any_nan = false;
    for (size_t r = 0; r < values.size(); ++r) {
        std::string line = pad_left(rl[r], label_w) + ' ';
        for (double v : values[r]) {
            any_nan = any_nan || std::isnan(v);
            line += cell(v);
        }
        end_row(line);
        out += line;
    }

    // Legend: the ramp from low to high with its end values.
    std::string legend = indent;
    if (opt.color) {
        legend += legend_number(lo, lo, hi) + ' ';
        for (int k = 0; k < 10; ++k)
            legend += fmt::format("\x1b[48;5;{}m  ", nearest_xterm256(colour_at(opt.scale, k / 9.0)));
        legend += "\x1b[0m " + legend_number(hi, lo, hi);
        if (any_nan) legend += fmt::format("  \x1b[48;5;{}m  \x1b[0m nan", kNanColour);
    } else {
        std::string ramp(kRamp);
        if (diverging)
            legend += fmt::format("|v|: 0 \"{}\" {}", ramp, legend_number(hi, lo, hi));
        else
            legend += fmt::format("{} \"{}\" {}", legend_number(lo, lo, hi), ramp, legend_number(hi, lo, hi));
        if (any_nan) legend += "  ?? = nan";
    }
    out += legend + '\n';
    return out;
}

bool stdout_is_terminal() {
    if (!::isatty(STDOUT_FILENO)) return false;
    const char* term = std::getenv("TERM");
    if (!term || !*term || std::string_view(term) == "dumb") return false;
    const char* no_color = std::getenv("NO_COLOR");
    return !(no_color && *no_color);
}

// ---- progress bar -------------------------------------------------------------------------------

ProgressBar::ProgressBar(long total, std::string label, std::ostream& out, ProgressOptions opt)
    : total_(total), label_(std::move(label)), out_(out), opt_(std::move(opt)) {
    if (total_ <= 0) fail("ProgressBar: total steps must be positive, got {}", total_);
    opt_.plain_every_percent = std::clamp(opt_.plain_every_percent, 1, 100);
    opt_.bar_width = std::max(opt_.bar_width, 1);
    next_percent_ = opt_.plain_every_percent;
    start_ = now();
}

ProgressBar::~ProgressBar() {
    try {
        if (!finished_ && opt_.interactive && drawn_step_ >= 0) out_ << '\n' << std::flush;
    } catch (...) {
        // A destructor must not throw; a lost newline is harmless.
    }
}

double ProgressBar::now() const {
    if (opt_.clock) return opt_.clock();
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string ProgressBar::status_line(long step, const Metrics& metrics, double elapsed) const {
    double frac = std::clamp(static_cast<double>(step) / static_cast<double>(total_), 0.0, 1.0);
    std::string line = label_.empty() ? "" : label_ + ' ';
    if (opt_.interactive) {
        int filled = static_cast<int>(frac * opt_.bar_width);
        std::string bar(static_cast<size_t>(filled), '=');
        if (filled < opt_.bar_width) bar += step > 0 ? ">" : " ";
        bar.resize(static_cast<size_t>(opt_.bar_width), ' ');
        line += "[" + bar + "] ";
    }
    line += fmt::format("{:3}% {}/{}", static_cast<int>(frac * 100), step, total_);
    for (const auto& [name, value] : metrics) line += fmt::format("  {} {}", name, metric_text(value));
    line += "  elapsed " + format_duration(elapsed);
    if (step < total_) {
        // ETA from the average rate so far: steady for training loops, and unknown before step 1.
        double eta = step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(total_ - step) : -1;
        line += "  eta " + format_duration(eta);
    }
    return line;
}

void ProgressBar::draw(long step, const Metrics& metrics, double elapsed) {
    std::string line = status_line(step, metrics, elapsed);
    if (opt_.interactive) {
        // Cut to the terminal width: a wrapped line cannot be redrawn by '\r'.
        int width = opt_.line_width > 0 ? opt_.line_width : terminal_columns();
        line = truncate_to_width(line, std::max(width - 1, 10));
        size_t len = static_cast<size_t>(display_width(line));
        std::string blank = last_len_ > len ? std::string(last_len_ - len, ' ') : "";
        out_ << '\r' << line << blank << std::flush;
        last_len_ = len;
    } else {
        out_ << line << '\n' << std::flush;
    }
    drawn_step_ = step;
    last_draw_ = elapsed;
}

void ProgressBar::update(long step, const Metrics& metrics) {
    if (finished_) return;
    last_step_ = step;
    last_metrics_ = metrics;
    double elapsed = now() - start_;
    if (opt_.interactive) {
        if (step >= total_ || elapsed - last_draw_ >= opt_.min_redraw_seconds) draw(step, metrics, elapsed);
        return;
    }
    long pct = static_cast<long>(std::min(step, total_) * 100 / total_);
    if ((pct >= next_percent_ || step >= total_) && step != drawn_step_) {
        draw(step, metrics, elapsed);
        next_percent_ = static_cast<int>((pct / opt_.plain_every_percent + 1) * opt_.plain_every_percent);
    }
}

void ProgressBar::finish() {
    if (finished_) return;
    finished_ = true;
    if (last_step_ >= 0 && drawn_step_ != last_step_) draw(last_step_, last_metrics_, now() - start_);
    if (opt_.interactive && drawn_step_ >= 0) out_ << '\n' << std::flush;
}

}  // namespace seqgrad::viz

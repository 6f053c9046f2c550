// line_plot_svg: lines over linear or logarithmic axes with ticks and a legend; see models/viz/svg.h.
#include "models/viz/svg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "core/error.h"
#include "models/viz/svg_style.h"

namespace seqgrad::viz {

// ---- line plot ----------------------------------------------------------------------------------

namespace {

// One axis: maps data values (log10 first, when logarithmic) onto pixels and chooses its ticks.
struct Axis {
    bool log = false;
    double lo = 0, hi = 1;  // axis ends, in transformed units (log10 for log axes)
    std::vector<double> ticks;  // transformed units
    std::vector<std::string> labels;

    double f(double v) const { return log ? std::log10(v) : v; }
    double frac(double v) const { return (f(v) - lo) / (hi - lo); }
};

Axis make_axis(bool log, double dlo, double dhi, std::optional<double> fixed_lo, std::optional<double> fixed_hi) {
    Axis a;
    a.log = log;
    double lo = fixed_lo ? a.f(*fixed_lo) : dlo;
    double hi = fixed_hi ? a.f(*fixed_hi) : dhi;
    if (lo > hi) std::swap(lo, hi);
    if (log) {
        // Whole decades at the ends unless fixed; ticks at 10^k, plus 2 and 5 times when the axis
        // spans few decades (otherwise it would show only one or two labels).
        a.lo = fixed_lo ? lo : std::floor(lo + 1e-9);
        a.hi = fixed_hi ? hi : std::ceil(hi - 1e-9);
        if (a.hi <= a.lo) a.hi = a.lo + 1;
        int k0 = static_cast<int>(std::floor(a.lo)), k1 = static_cast<int>(std::ceil(a.hi));
        int span = k1 - k0, every = std::max(1, span / 8);
        for (int k = k0; k <= k1; ++k) {
            std::vector<double> mults = {1};
            if (span <= 2) mults = {1, 2, 5};
            if (k % every != 0) continue;
            for (double m : mults) {
                double t = k + std::log10(m);
                if (t < a.lo - 1e-9 || t > a.hi + 1e-9) continue;
                a.ticks.push_back(t);
                a.labels.push_back(fmt::format("{:g}", m * std::pow(10.0, k)));
            }
        }
        return a;
    }
    std::vector<double> t = nice_ticks(lo, hi, 5, true);
    a.lo = fixed_lo ? lo : t.front();
    a.hi = fixed_hi ? hi : t.back();
    if (a.hi <= a.lo) a.hi = a.lo + 1;
    double eps = (a.hi - a.lo) * 1e-9;
    std::vector<double> kept;
    for (double v : t)
        if (v >= a.lo - eps && v <= a.hi + eps) kept.push_back(v);
    a.ticks = kept;
    a.labels = tick_labels(kept);
    return a;
}

}  // namespace

std::string line_plot_svg(const std::vector<Series>& series, const LinePlotOptions& opt) {
    if (series.empty()) fail("line_plot_svg: no series to plot");
    double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
    for (size_t i = 0; i < series.size(); ++i) {
        const Series& s = series[i];
        if (s.x.size() != s.y.size())
            fail("line_plot_svg: series '{}' (#{}) has {} x values but {} y values", s.name, i, s.x.size(), s.y.size());
        if (s.x.empty()) fail("line_plot_svg: series '{}' (#{}) is empty (0 points)", s.name, i);
        for (size_t k = 0; k < s.x.size(); ++k) {
            double x = s.x[k], y = s.y[k];
            if (opt.log_x && x <= 0)
                fail("line_plot_svg: log-scale x needs values > 0; series '{}' has x[{}] = {}", s.name, k, x);
            if (opt.log_y && y <= 0)
                fail("line_plot_svg: log-scale y needs values > 0; series '{}' has y[{}] = {}", s.name, k, y);
            if (!std::isfinite(x) || !std::isfinite(y)) continue;
            double fx = opt.log_x ? std::log10(x) : x, fy = opt.log_y ? std::log10(y) : y;
            xlo = std::min(xlo, fx), xhi = std::max(xhi, fx), ylo = std::min(ylo, fy), yhi = std::max(yhi, fy);
        }
    }
    for (auto [name, v, is_log] : {std::tuple{"x_min", opt.x_min, opt.log_x}, std::tuple{"x_max", opt.x_max, opt.log_x},
                                   std::tuple{"y_min", opt.y_min, opt.log_y}, std::tuple{"y_max", opt.y_max, opt.log_y}})
        if (v && (!std::isfinite(*v) || (is_log && *v <= 0)))
            fail("line_plot_svg: {} = {} is not usable{}", name, *v, is_log ? " on a log axis" : "");
    if (xlo > xhi) {
        if (!(opt.x_min && opt.x_max && opt.y_min && opt.y_max))
            fail("line_plot_svg: no finite (x, y) point in {} series; nothing to scale the axes to", series.size());
        xlo = xhi = ylo = yhi = 0;
    }
    Axis ax = make_axis(opt.log_x, xlo, xhi, opt.x_min, opt.x_max);
    Axis ay = make_axis(opt.log_y, ylo, yhi, opt.y_min, opt.y_max);

    const double fs = opt.font_size, tick_fs = fs * 0.9, title_fs = fs * 1.3, margin = 12;
    double ytick_w = 0;
    for (const auto& l : ay.labels) ytick_w = std::max(ytick_w, text_width(l, tick_fs));
    std::vector<std::string> names;
    double name_w = 0;
    for (const auto& s : series) {
        names.push_back(truncate_to_width(s.name.empty() ? "(unnamed)" : s.name, 30));
        name_w = std::max(name_w, text_width(names.back(), fs));
    }
    const double legend_w = 16 + 24 + 6 + name_w + margin;
    const double left = margin + (opt.y_label.empty() ? 0 : fs * 1.8) + ytick_w + 8;
    const double top = margin + (opt.title.empty() ? fs * 0.5 : title_fs * 1.8);
    const double bottom = tick_fs * 1.6 + 6 + (opt.x_label.empty() ? 0 : fs * 1.8) + margin;
    const double width = std::max(opt.width, left + 120 + legend_w);
    const double height = std::max({opt.height, top + 100 + bottom, top + series.size() * fs * 1.5 + bottom});
    const double pw = width - left - legend_w, ph = height - top - bottom;
    auto px = [&](double x) { return left + ax.frac(x) * pw; };
    auto py = [&](double y) { return top + ph - ay.frac(y) * ph; };

    SvgWriter w(width, height);
    w.comment("seqgrad line plot");
    w.element("rect", {{"width", "100%"}, {"height", "100%"}, {"fill", "#ffffff"}});
    if (!opt.title.empty()) {
        double tw = text_width(opt.title, title_fs);
        double tx = std::clamp(left + pw / 2, margin + tw / 2, std::max(margin + tw / 2, width - margin - tw / 2));
        w.text("text", {{"x", tx}, {"y", margin + title_fs}, {"font-size", title_fs}, {"font-weight", "bold"},
                        {"text-anchor", "middle"}},
               opt.title);
    }

    // Grid lines and tick labels.
    w.open("g", {{"class", "grid"}, {"stroke", "#e6e6e6"}, {"stroke-width", 1}, {"shape-rendering", "crispEdges"}});
    for (double t : ax.ticks) {
        double x = left + (t - ax.lo) / (ax.hi - ax.lo) * pw;
        w.element("line", {{"x1", x}, {"y1", top}, {"x2", x}, {"y2", top + ph}});
    }
    for (double t : ay.ticks) {
        double y = top + ph - (t - ay.lo) / (ay.hi - ay.lo) * ph;
        w.element("line", {{"x1", left}, {"y1", y}, {"x2", left + pw}, {"y2", y}});
    }
    w.close();
    w.open("g", {{"class", "x-ticks"}, {"font-size", tick_fs}, {"fill", "#222"}, {"text-anchor", "middle"}});
    for (size_t i = 0; i < ax.ticks.size(); ++i) {
        double x = left + (ax.ticks[i] - ax.lo) / (ax.hi - ax.lo) * pw;
        w.element("line", {{"x1", x}, {"y1", top + ph}, {"x2", x}, {"y2", top + ph + 4}, {"stroke", "#333"}});
        w.text("text", {{"class", "tick"}, {"x", x}, {"y", top + ph + 6 + tick_fs}}, ax.labels[i]);
    }
    w.close();
    w.open("g", {{"class", "y-ticks"}, {"font-size", tick_fs}, {"fill", "#222"}, {"text-anchor", "end"}});
    for (size_t i = 0; i < ay.ticks.size(); ++i) {
        double y = top + ph - (ay.ticks[i] - ay.lo) / (ay.hi - ay.lo) * ph;
        w.element("line", {{"x1", left - 4}, {"y1", y}, {"x2", left}, {"y2", y}, {"stroke", "#333"}});
        w.text("text", {{"class", "tick"}, {"x", left - 6}, {"y", y + tick_fs * 0.35}}, ay.labels[i]);
    }
    w.close();
    if (!opt.x_label.empty())
        w.text("text", {{"x", left + pw / 2}, {"y", top + ph + 6 + tick_fs * 1.6 + fs * 1.4}, {"font-size", fs},
                        {"text-anchor", "middle"}, {"fill", "#333"}},
               opt.x_label);
    if (!opt.y_label.empty()) {
        double x = margin + fs, y = top + ph / 2;
        w.text("text", {{"x", x}, {"y", y}, {"font-size", fs}, {"text-anchor", "middle"}, {"fill", "#333"},
                        {"transform", fmt::format("rotate(-90 {} {})", svg_number(x), svg_number(y))}},
               opt.y_label);
    }

    // Curves, clipped to the plot area (fixed axis ends may cut them). The clip id encodes the
    // geometry, so an id shared by two inlined plots also means the same rectangle.
    std::string clip_id = fmt::format("seqgrad-clip-{}-{}-{}-{}", std::lround(left), std::lround(top), std::lround(pw),
                                      std::lround(ph));
    w.open("defs");
    w.open("clipPath", {{"id", clip_id}});
    w.element("rect", {{"x", left}, {"y", top}, {"width", pw}, {"height", ph}});
    w.close();
    w.close();
    w.open("g", {{"class", "series"}, {"clip-path", fmt::format("url(#{})", clip_id)}});
    for (size_t i = 0; i < series.size(); ++i) {
        const Series& s = series[i];
        std::string colour = kLineColours[i % 10];
        // After ten colours, repeat them dashed so every series still looks different.
        std::string dash = i < 10 ? "none" : i < 20 ? "6 3" : "2 3";
        w.open("g", {{"class", "line"}, {"stroke", colour}, {"fill", "none"}, {"stroke-width", 2},
                     {"stroke-linejoin", "round"}, {"stroke-linecap", "round"}, {"stroke-dasharray", dash}});
        // Split at non-finite points: each finite run is one polyline; a run of one point is a dot.
        std::string pts;
        size_t run = 0;
        auto flush = [&] {
            if (run >= 2) w.element("polyline", {{"points", pts}});
            pts.clear();
            run = 0;
        };
        for (size_t k = 0; k < s.x.size(); ++k) {
            if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) {
                flush();
                continue;
            }
            if (!pts.empty()) pts += ' ';
            pts += svg_number(px(s.x[k])) + "," + svg_number(py(s.y[k]));
            ++run;
        }
        flush();
        w.close();
        // Markers carry hover titles; on very long series (per-step losses) they would only bloat
        // the file, so they are left out there, except for isolated points that need a dot to show.
        bool all_markers = opt.markers && s.x.size() <= 200;
        w.open("g", {{"class", "markers"}, {"fill", colour}});
        for (size_t k = 0; k < s.x.size(); ++k) {
            if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) continue;
            bool isolated = (k == 0 || !std::isfinite(s.y[k - 1]) || !std::isfinite(s.x[k - 1])) &&
                            (k + 1 == s.x.size() || !std::isfinite(s.y[k + 1]) || !std::isfinite(s.x[k + 1]));
            if (!all_markers && !isolated) continue;
            w.element("circle", {{"cx", px(s.x[k])}, {"cy", py(s.y[k])}, {"r", 3}},
                      fmt::format("{}: x = {}, y = {}", s.name, value_text(s.x[k]), value_text(s.y[k])));
        }
        w.close();
    }
    w.close();
    w.element("rect", {{"x", left}, {"y", top}, {"width", pw}, {"height", ph}, {"fill", "none"}, {"stroke", "#333"},
                       {"stroke-width", 1}, {"shape-rendering", "crispEdges"}});

    // Legend, right of the plot area, so it can never hide a curve.
    const double lx = left + pw + 16;
    w.open("g", {{"class", "legend"}, {"font-size", fs}, {"fill", "#222"}});
    for (size_t i = 0; i < series.size(); ++i) {
        double ly = top + 6 + i * fs * 1.5 + fs * 0.5;
        std::string dash = i < 10 ? "none" : i < 20 ? "6 3" : "2 3";
        w.element("line", {{"x1", lx}, {"y1", ly}, {"x2", lx + 24}, {"y2", ly}, {"stroke", kLineColours[i % 10]},
                           {"stroke-width", 2.5}, {"stroke-dasharray", dash}});
        w.text("text", {{"x", lx + 30}, {"y", ly + fs * 0.35}}, names[i]);
    }
    w.close();
    return w.str();
}

}  // namespace seqgrad::viz

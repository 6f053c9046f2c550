// Colour ramps (viridis, a blue-white-red diverging map), text contrast, the colour range of a
// matrix, and axis ticks and numbers; see models/viz/svg.h.
#include "models/viz/svg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include <fmt/format.h>

#include "core/error.h"
#include "models/viz/svg_style.h"

namespace seqgrad::viz {

namespace {

Rgb parse_hex(std::uint32_t v) {
    return Rgb{static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}

// viridis, 9 equally spaced samples (as in R's viridisLite::viridis(9)).
constexpr std::uint32_t kViridis[] = {0x440154, 0x472D7B, 0x3B528B, 0x2C728E, 0x21908C,
                                      0x27AD81, 0x5DC863, 0xAADC32, 0xFDE725};
// ColorBrewer RdBu with 9 classes, reversed so that low = blue, 0 = near-white, high = red.
constexpr std::uint32_t kBlueWhiteRed[] = {0x2166AC, 0x4393C3, 0x92C5DE, 0xD1E5F0, 0xF7F7F7,
                                           0xFDDBC7, 0xF4A582, 0xD6604D, 0xB2182B};

}  // namespace

// ---- colour -------------------------------------------------------------------------------------

Rgb colour_at(ColourScale scale, double t) {
    const std::uint32_t* stops = scale == ColourScale::Sequential ? kViridis : kBlueWhiteRed;
    constexpr int n = 9;
    if (std::isnan(t)) t = 0;
    t = std::clamp(t, 0.0, 1.0);
    double pos = t * (n - 1);
    int i = std::min(static_cast<int>(pos), n - 2);
    double f = pos - i;
    Rgb a = parse_hex(stops[i]), b = parse_hex(stops[i + 1]);
    auto mix = [f](std::uint8_t x, std::uint8_t y) {
        return static_cast<std::uint8_t>(std::lround(x + (static_cast<double>(y) - x) * f));
    };
    return Rgb{mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

std::string hex(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

Rgb contrast_text(Rgb bg) {
    // WCAG relative luminance; 0.179 is where black and white text have equal contrast.
    auto lin = [](std::uint8_t c) {
        double s = c / 255.0;
        return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
    };
    double L = 0.2126 * lin(bg.r) + 0.7152 * lin(bg.g) + 0.0722 * lin(bg.b);
    return L > 0.179 ? Rgb{0, 0, 0} : Rgb{255, 255, 255};
}

std::pair<double, double> colour_range(const Matrix& values, ColourScale scale, std::optional<double> vmin,
                                       std::optional<double> vmax, std::string_view fn) {
    if (vmin && vmax && !(*vmin < *vmax))
        fail("{}: vmin must be below vmax, got vmin {} and vmax {}", fn, *vmin, *vmax);
    if ((vmin && !std::isfinite(*vmin)) || (vmax && !std::isfinite(*vmax)))
        fail("{}: vmin and vmax must be finite", fn);
    double dlo = std::numeric_limits<double>::infinity(), dhi = -dlo;
    for (const auto& row : values)
        for (double v : row)
            if (std::isfinite(v)) dlo = std::min(dlo, v), dhi = std::max(dhi, v);
    if (dlo > dhi) dlo = 0, dhi = 1;  // no finite value at all
    double lo = vmin.value_or(dlo), hi = vmax.value_or(dhi);
    if (scale == ColourScale::Diverging) {
        double m = std::max(std::fabs(lo), std::fabs(hi));
        if (!(m > 0)) m = 1;
        return {-m, m};
    }
    if (lo < hi) return {lo, hi};
    // Degenerate: all values equal, or one given bound lies beyond all data.
    if (vmin && !vmax) return {lo, lo + 1};
    if (vmax && !vmin) return {hi - 1, hi};
    if (lo >= 0 && lo <= 1) return {0, 1};  // e.g. a uniform attention row: keep the usual 0..1 scale
    return {lo - 1, lo + 1};
}

double colour_position(double v, double lo, double hi) {
    if (std::isnan(v)) return v;
    return std::clamp((v - lo) / (hi - lo), 0.0, 1.0);
}

// ---- ticks and numbers --------------------------------------------------------------------------

std::vector<double> nice_ticks(double lo, double hi, int target, bool extend) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) fail("nice_ticks: range must be finite, got [{}, {}]", lo, hi);
    if (lo > hi) std::swap(lo, hi);
    if (lo == hi) {
        double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
        lo -= d, hi += d;
    }
    target = std::max(target, 1);
    double raw = (hi - lo) / target;
    int e = static_cast<int>(std::floor(std::log10(raw)));
    double norm = raw / std::pow(10.0, e);
    int s = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
    if (s == 10) s = 1, ++e;
    // value of tick i = i * s * 10^e, computed so that negative exponents divide by an exact power of
    // ten: 3 * 1 / 10 is the double nearest 0.3, whereas 3 * 0.1 is not.
    auto at = [&](long long i) {
        return e >= 0 ? static_cast<double>(i) * s * std::pow(10.0, e) : static_cast<double>(i) * s / std::pow(10.0, -e);
    };
    double step = e >= 0 ? s * std::pow(10.0, e) : s / std::pow(10.0, -e);
    const double eps = 1e-9;
    long long i0 = extend ? static_cast<long long>(std::floor(lo / step + eps)) : static_cast<long long>(std::ceil(lo / step - eps));
    long long i1 = extend ? static_cast<long long>(std::ceil(hi / step - eps)) : static_cast<long long>(std::floor(hi / step + eps));
    std::vector<double> ticks;
    for (long long i = i0; i <= i1; ++i) {
        double v = at(i);
        ticks.push_back(v == 0 ? 0.0 : v);  // no "-0"
    }
    return ticks;
}

std::vector<std::string> tick_labels(const std::vector<double>& ticks) {
    std::vector<std::string> out;
    if (ticks.size() < 2) {
        for (double t : ticks) out.push_back(fmt::format("{:g}", t));
        return out;
    }
    double step = std::fabs(ticks[1] - ticks[0]);
    double biggest = std::max(std::fabs(ticks.front()), std::fabs(ticks.back()));
    int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
    for (double t : ticks) {
        if (decimals > 6 || biggest >= 1e7)
            out.push_back(fmt::format("{:g}", t));
        else
            out.push_back(fmt::format("{:.{}f}", t, decimals));
    }
    return out;
}

std::string svg_number(double v) {
    if (!std::isfinite(v)) return "0";
    std::string s = fmt::format("{:.2f}", v);
    if (auto dot = s.find('.'); dot != std::string::npos) {
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
    }
    if (s == "-0") s = "0";
    return s;
}

}  // namespace seqgrad::viz

// Tests for models/viz/svg.h: heatmap_svg and line_plot_svg produce well-formed XML (checked by a small
// tag-balance checker here, and by xmllint when it is installed), one titled rect per cell with the
// right value, escaped but unmangled UTF-8 labels, a colour bar, 1-2-5 ticks, and ShapeErrors that
// name the function and the sizes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/error.h"
#include "models/viz/svg.h"

using namespace seqgrad;
using namespace seqgrad::viz;

namespace {

// A small XML well-formedness check: balanced and properly nested tags, quoted attributes, no raw
// '<' in text or attributes, every '&' starting a known entity, one root element. Returns "" when
// fine, else a description of the first problem.
std::string xml_problem(const std::string& s) {
    std::vector<std::string> stack;
    int roots = 0;
    auto entity_ok = [&](size_t i) {
        static const char* names[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
        for (const char* n : names)
            if (s.compare(i, std::char_traits<char>::length(n), n) == 0) return true;
        // numeric: &#123; or &#x1F;
        size_t k = i + 1;
        if (k >= s.size() || s[k] != '#') return false;
        bool hexa = k + 1 < s.size() && s[k + 1] == 'x';
        size_t d = k + (hexa ? 2 : 1), e = d;
        while (e < s.size() && (hexa ? std::isxdigit(static_cast<unsigned char>(s[e])) : std::isdigit(static_cast<unsigned char>(s[e])))) ++e;
        return e > d && e < s.size() && s[e] == ';';
    };
    size_t i = 0;
    while (i < s.size()) {
        if (s[i] == '&') {
            if (!entity_ok(i)) return "bad entity at " + std::to_string(i);
            ++i;
            continue;
        }
        if (s[i] == '>') return "stray '>' in text at " + std::to_string(i);  // legal XML, but we always escape it
        if (s[i] != '<') {
            ++i;
            continue;
        }
        if (s.compare(i, 5, "<?xml") == 0) {
            size_t e = s.find("?>", i);
            if (e == std::string::npos) return "unterminated declaration";
            i = e + 2;
            continue;
        }
        if (s.compare(i, 4, "<!--") == 0) {
            size_t e = s.find("-->", i + 4);
            if (e == std::string::npos) return "unterminated comment";
            if (s.substr(i + 4, e - i - 4).find("--") != std::string::npos) return "'--' inside a comment";
            i = e + 3;
            continue;
        }
        bool closing = s[i + 1] == '/';
        size_t p = i + (closing ? 2 : 1);
        size_t name_end = s.find_first_of(" \t\n/>", p);
        if (name_end == std::string::npos) return "unterminated tag";
        std::string name = s.substr(p, name_end - p);
        if (name.empty()) return "empty tag name at " + std::to_string(i);
        p = name_end;
        if (closing) {
            while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
            if (p >= s.size() || s[p] != '>') return "bad closing tag " + name;
            if (stack.empty() || stack.back() != name)
                return "closing </" + name + "> but open is <" + (stack.empty() ? std::string("none") : stack.back()) + ">";
            stack.pop_back();
            i = p + 1;
            continue;
        }
        // attributes: name="value"
        for (;;) {
            while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
            if (p >= s.size()) return "unterminated tag " + name;
            if (s[p] == '>' || s.compare(p, 2, "/>") == 0) break;
            size_t eq = s.find('=', p);
            if (eq == std::string::npos || s[eq + 1] != '"') return "unquoted attribute in <" + name + ">";
            size_t close = s.find('"', eq + 2);
            if (close == std::string::npos) return "unterminated attribute in <" + name + ">";
            for (size_t k = eq + 2; k < close; ++k) {
                if (s[k] == '<') return "raw '<' in an attribute of <" + name + ">";
                if (s[k] == '&' && !entity_ok(k)) return "bad entity in an attribute of <" + name + ">";
            }
            p = close + 1;
        }
        bool self_closing = s[p] == '/';
        if (stack.empty()) ++roots;
        if (!self_closing) stack.push_back(name);
        i = p + (self_closing ? 2 : 1);
    }
    if (!stack.empty()) return "unclosed <" + stack.back() + ">";
    if (roots != 1) return "expected one root element, found " + std::to_string(roots);
    return "";
}

// xmllint, when installed, as a second opinion from a real parser.
void check_with_xmllint(const std::string& svg) {
    if (std::system("command -v xmllint >/dev/null 2>&1") != 0) return;
    auto path = std::filesystem::temp_directory_path() / ("seqgrad-test-svg-" + std::to_string(::getpid()) + ".svg");
    std::ofstream(path, std::ios::binary) << svg;
    int rc = std::system(("xmllint --noout '" + path.string() + "' 2>/dev/null").c_str());
    std::filesystem::remove(path);
    CHECK(rc == 0);
}

void require_well_formed(const std::string& svg) {
    INFO(svg.substr(0, 400));
    REQUIRE(xml_problem(svg) == "");
    check_with_xmllint(svg);
}

size_t count(const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
    return n;
}

template <typename E, typename F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    FAIL("expected an exception");
    return "";
}

// For every occurrence of `marker`: the text between the next `open` and the `close` after it.
std::vector<std::string> contents_after(const std::string& s, const std::string& marker, const std::string& open,
                                        const std::string& close) {
    std::vector<std::string> out;
    for (size_t p = s.find(marker); p != std::string::npos; p = s.find(marker, p + 1)) {
        size_t a = s.find(open, p);
        size_t b = a == std::string::npos ? a : s.find(close, a + open.size());
        if (b == std::string::npos) break;
        out.push_back(s.substr(a + open.size(), b - a - open.size()));
    }
    return out;
}

// The texts of <text class="tick"> inside the group with the given class.
std::vector<std::string> tick_texts(const std::string& svg, const std::string& group) {
    size_t start = svg.find("class=\"" + group + "\"");
    REQUIRE(start != std::string::npos);
    std::string part = svg.substr(start, svg.find("</g>", start) - start);
    return contents_after(part, "class=\"tick\"", ">", "<");
}

// True when step = m * 10^k with m in {1, 2, 5}.
bool is_125(double step) {
    double k = std::floor(std::log10(step) + 1e-9);
    double m = step / std::pow(10.0, k);
    return std::fabs(m - 1) < 1e-6 || std::fabs(m - 2) < 1e-6 || std::fabs(m - 5) < 1e-6;
}

}  // namespace

TEST_CASE("svg: heatmap is well-formed with one titled rect per cell") {
    Matrix m = {{0.7, 0.2, 0.1, 0.0}, {0.1, 0.25, 0.6, 0.05}, {0.0, 0.0, 0.125, 0.875}};
    std::vector<std::string> src = {"le", "chat", "noir", "<eos>"};
    std::vector<std::string> out = {"the", "black", "cat"};
    HeatmapOptions opt;
    opt.title = "attention";
    opt.x_label = "source";
    opt.y_label = "output";
    std::string svg = heatmap_svg(m, src, out, opt);
    require_well_formed(svg);

    REQUIRE(count(svg, "class=\"cell\"") == 12);
    // Every cell rect carries its own title with the labels and the value.
    std::vector<std::string> titles = contents_after(svg, "<rect class=\"cell\"", "><title>", "</title></rect>");
    REQUIRE(titles.size() == 12);
    CHECK(titles[0] == "the → le: 0.7");
    CHECK(titles[5] == "black → chat: 0.25");
    CHECK(titles[11] == "cat → &lt;eos&gt;: 0.875");

    CHECK(svg.find(">attention</text>") != std::string::npos);
    CHECK(svg.find(">source</text>") != std::string::npos);
    CHECK(svg.find(">output</text>") != std::string::npos);
    // Small matrix: values are written in the cells.
    CHECK(svg.find(">0.88</text>") != std::string::npos);
    CHECK(svg.find("rotate(-45") != std::string::npos);
}

TEST_CASE("svg: heatmap escapes labels and keeps UTF-8 intact") {
    Matrix m = {{0.5, 0.5, 0.0}, {0.1, 0.2, 0.7}};
    std::vector<std::string> src = {"<unk>", "a&b", "l'été"};
    std::vector<std::string> out = {"\"quoted\"", "中文«ç»"};
    std::string svg = heatmap_svg(m, src, out, {});
    require_well_formed(svg);
    CHECK(svg.find("&lt;unk&gt;") != std::string::npos);
    CHECK(svg.find("a&amp;b") != std::string::npos);
    CHECK(svg.find("l&apos;été") != std::string::npos);
    CHECK(svg.find("&quot;quoted&quot;") != std::string::npos);
    CHECK(svg.find("中文«ç»") != std::string::npos);
    CHECK(svg.find("<unk>") == std::string::npos);
    CHECK(svg.find("中文«ç» → l&apos;été: 0.7") != std::string::npos);
}

TEST_CASE("svg: xml_escape replaces invalid UTF-8 and control characters") {
    CHECK(xml_escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&apos;");
    CHECK(xml_escape("été 中 🙂") == "été 中 🙂");
    CHECK(xml_escape("bad\xff byte") == "bad\xEF\xBF\xBD byte");
    CHECK(xml_escape("cut \xC3") == "cut \xEF\xBF\xBD");
    CHECK(xml_escape("overlong \xC0\xAF") == "overlong \xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(xml_escape(std::string("nul\0x", 5)) == "nul\xEF\xBF\xBDx");
    CHECK(xml_escape("bell\x07") == "bell\xEF\xBF\xBD");
    CHECK(xml_escape("tab\tnl\n") == "tab\tnl\n");
}

TEST_CASE("svg: svg_number is compact") {
    CHECK(svg_number(12) == "12");
    CHECK(svg_number(12.5) == "12.5");
    CHECK(svg_number(1.0 / 3) == "0.33");
    CHECK(svg_number(-0.001) == "0");
    CHECK(svg_number(-2.25) == "-2.25");
}

TEST_CASE("svg: heatmap colour bar has ticks for both scales") {
    Matrix m = {{0.0, 0.5}, {0.25, 1.0}};
    std::string svg = heatmap_svg(m, {"a", "b"}, {"x", "y"}, {});
    require_well_formed(svg);
    CHECK(svg.find("class=\"colorbar\"") != std::string::npos);
    CHECK(svg.find("<linearGradient") != std::string::npos);
    CHECK(tick_texts(svg, "colorbar") == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
    // Sequential ends: viridis dark purple for 0, yellow for 1.
    CHECK(svg.find("fill=\"#440154\"><title>x → a: 0</title>") != std::string::npos);
    CHECK(svg.find("fill=\"#fde725\"><title>y → b: 1</title>") != std::string::npos);

    // Diverging: symmetric around 0 (max |v| = 2), 0 is the near-white middle colour.
    HeatmapOptions opt;
    opt.scale = ColourScale::Diverging;
    Matrix g = {{-0.5, 0.0}, {2.0, 1.0}};
    std::string div = heatmap_svg(g, {"a", "b"}, {"x", "y"}, opt);
    require_well_formed(div);
    CHECK(tick_texts(div, "colorbar") == std::vector<std::string>{"-2", "-1", "0", "1", "2"});
    CHECK(div.find("fill=\"#f7f7f7\"><title>x → b: 0</title>") != std::string::npos);
    CHECK(div.find("fill=\"#b2182b\"><title>y → a: 2</title>") != std::string::npos);

    // Fixed range: values beyond it are clamped to the end colours.
    HeatmapOptions fixed;
    fixed.vmin = 0;
    fixed.vmax = 0.5;
    std::string f = heatmap_svg(m, {"a", "b"}, {"x", "y"}, fixed);
    CHECK(f.find("fill=\"#fde725\"><title>y → b: 1</title>") != std::string::npos);
    fixed.vmin = 1;
    fixed.vmax = 1;
    CHECK_THROWS_AS(heatmap_svg(m, {"a", "b"}, {"x", "y"}, fixed), ShapeError);
}

TEST_CASE("svg: heatmap draws NaN cells grey with nan in the title") {
    Matrix m = {{0.5, std::nan("")}, {0.2, 0.3}};
    std::string svg = heatmap_svg(m, {"a", "b"}, {"x", "y"}, {});
    require_well_formed(svg);
    CHECK(svg.find("fill=\"#b0b0b0\"><title>x → b: nan</title>") != std::string::npos);
    CHECK(svg.find(">nan</text>") != std::string::npos);  // legend swatch
    // The range comes from the finite values only.
    CHECK(svg.find("fill=\"#fde725\"><title>x → a: 0.5</title>") != std::string::npos);
}

TEST_CASE("svg: heatmap shape errors name the function and sizes") {
    Matrix ragged = {{1, 2, 3}, {4, 5}};
    std::string msg = message_of<ShapeError>([&] { heatmap_svg(ragged, {"a", "b", "c"}, {"x", "y"}, {}); });
    CHECK_THAT(msg, Catch::Contains("heatmap_svg") && Catch::Contains("row 1 has 2") && Catch::Contains("row 0 has 3"));

    Matrix m = {{1, 2, 3, 4}, {5, 6, 7, 8}};
    msg = message_of<ShapeError>([&] { heatmap_svg(m, {"a", "b", "c"}, {"x", "y"}, {}); });
    CHECK_THAT(msg, Catch::Contains("heatmap_svg") && Catch::Contains("3 column labels for 4 columns"));
    msg = message_of<ShapeError>([&] { heatmap_svg(m, {"a", "b", "c", "d"}, {"x"}, {}); });
    CHECK_THAT(msg, Catch::Contains("1 row labels for 2 rows"));
    msg = message_of<ShapeError>([&] { heatmap_svg({}, {}, {}, {}); });
    CHECK_THAT(msg, Catch::Contains("heatmap_svg: empty matrix"));
}

TEST_CASE("svg: heatmap shortens long labels but keeps them whole in titles") {
    std::string long_label(60, 'x');
    HeatmapOptions opt;
    opt.max_label_chars = 10;
    std::string svg = heatmap_svg({{1.0}}, {long_label}, {"y"}, opt);
    require_well_formed(svg);
    CHECK(svg.find(">xxxxxxxxx…</text>") != std::string::npos);
    CHECK(svg.find("y → " + long_label + ": 1") != std::string::npos);
    opt.vertical_col_labels = true;
    CHECK(heatmap_svg({{1.0}}, {"a"}, {"y"}, opt).find("rotate(-90") != std::string::npos);
}

TEST_CASE("svg: nice_ticks use 1-2-5 steps and exact decimals") {
    auto t = nice_ticks(0, 1);
    REQUIRE(t.size() == 6);
    CHECK(t[3] == 0.6);
    CHECK(tick_labels(t) == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});
    auto u = nice_ticks(0, 0.7);
    REQUIRE(u.size() == 8);
    CHECK(u[3] == 0.3);  // not 0.30000000000000004
    CHECK(nice_ticks(0.13, 9.7) == std::vector<double>{0, 2, 4, 6, 8, 10});
    CHECK(nice_ticks(0.13, 9.7, 5, false) == std::vector<double>{2, 4, 6, 8});
    CHECK(nice_ticks(-3.2, 7.9) == std::vector<double>{-4, -2, 0, 2, 4, 6, 8});
    CHECK(tick_labels(nice_ticks(0, 1000)) == std::vector<std::string>{"0", "200", "400", "600", "800", "1000"});

    for (auto [lo, hi] : std::vector<std::pair<double, double>>{
             {0, 1}, {0.001, 0.0047}, {3, 3.5}, {-170, 5}, {1, 12345}, {2.5e-7, 9e-7}, {42, 42}}) {
        auto ticks = nice_ticks(lo, hi);
        INFO(lo << " .. " << hi);
        REQUIRE(ticks.size() >= 2);
        CHECK(ticks.front() <= lo);
        CHECK(ticks.back() >= hi);
        double step = ticks[1] - ticks[0];
        CHECK(is_125(step));
        for (size_t i = 1; i < ticks.size(); ++i) CHECK(ticks[i] - ticks[i - 1] == Approx(step));
        CHECK(ticks.size() <= 12);
    }
}

TEST_CASE("svg: line plot draws series, legend and nice ticks") {
    Series train{"train", {}, {}}, valid{"valid <dev>", {}, {}};
    for (int e = 1; e <= 12; ++e) {
        train.x.push_back(e);
        train.y.push_back(2.9 * std::exp(-e / 4.0) + 0.13);
        valid.x.push_back(e);
        valid.y.push_back(3.1 * std::exp(-e / 5.0) + 0.4);
    }
    LinePlotOptions opt;
    opt.title = "loss";
    opt.x_label = "epoch";
    opt.y_label = "cross-entropy";
    std::string svg = line_plot_svg({train, valid}, opt);
    require_well_formed(svg);
    CHECK(count(svg, "<polyline") == 2);
    CHECK(count(svg, "<circle") == 24);
    CHECK(svg.find("class=\"legend\"") != std::string::npos);
    CHECK(svg.find(">train</text>") != std::string::npos);
    CHECK(svg.find(">valid &lt;dev&gt;</text>") != std::string::npos);
    CHECK(svg.find("stroke=\"#1f77b4\"") != std::string::npos);
    CHECK(svg.find("stroke=\"#ff7f0e\"") != std::string::npos);
    CHECK(svg.find("<title>train: x = 1, y = ") != std::string::npos);

    for (const char* axis : {"x-ticks", "y-ticks"}) {
        auto labels = tick_texts(svg, axis);
        INFO(axis);
        REQUIRE(labels.size() >= 3);
        std::vector<double> v;
        for (const auto& l : labels) v.push_back(std::stod(l));
        double step = v[1] - v[0];
        CHECK(is_125(step));
        for (size_t i = 1; i < v.size(); ++i) CHECK(v[i] - v[i - 1] == Approx(step));
    }
    // The y axis covers the data: from at most the smallest loss to at least the largest.
    auto y = tick_texts(svg, "y-ticks");
    CHECK(std::stod(y.front()) <= 0.13);
    CHECK(std::stod(y.back()) >= 3.1 * std::exp(-0.2) + 0.4);

    opt.markers = false;
    CHECK(count(line_plot_svg({train}, opt), "<circle") == 0);
}

TEST_CASE("svg: line plot breaks lines at NaN and uses log axes") {
    Series s{"valid", {1, 2, 3, 4, 5}, {3, 2, std::nan(""), 1.5, 1.2}};
    std::string svg = line_plot_svg({s}, {});
    require_well_formed(svg);
    CHECK(count(svg, "<polyline") == 2);

    LinePlotOptions log;
    log.log_x = log.log_y = true;
    Series t{"step time", {32, 64, 128, 256, 512}, {0.8, 1.9, 5.5, 19, 70}};
    std::string lsvg = line_plot_svg({t}, log);
    require_well_formed(lsvg);
    CHECK(tick_texts(lsvg, "y-ticks") == std::vector<std::string>{"0.1", "1", "10", "100"});
    CHECK(tick_texts(lsvg, "x-ticks") == std::vector<std::string>{"10", "20", "50", "100", "200", "500", "1000"});

    Series bad{"loss", {1, 2}, {1, 0}};
    std::string msg = message_of<ShapeError>([&] { line_plot_svg({bad}, log); });
    CHECK_THAT(msg, Catch::Contains("line_plot_svg") && Catch::Contains("log-scale y") && Catch::Contains("y[1] = 0"));
}

TEST_CASE("svg: line plot shape errors name the series and sizes") {
    CHECK_THAT(message_of<ShapeError>([] { line_plot_svg({}, {}); }), Catch::Contains("line_plot_svg: no series"));
    Series empty{"train", {}, {}};
    CHECK_THAT(message_of<ShapeError>([&] { line_plot_svg({empty}, {}); }),
               Catch::Contains("line_plot_svg") && Catch::Contains("'train'") && Catch::Contains("empty"));
    Series mismatch{"valid", {1, 2, 3}, {1, 2}};
    CHECK_THAT(message_of<ShapeError>([&] { line_plot_svg({mismatch}, {}); }),
               Catch::Contains("'valid'") && Catch::Contains("3 x values but 2 y values"));
}

TEST_CASE("svg: line plot with fixed axis ends and a single point") {
    LinePlotOptions opt;
    opt.y_min = 0;
    opt.y_max = 1;
    Series one{"exact match", {10}, {0.75}};
    std::string svg = line_plot_svg({one}, opt);
    require_well_formed(svg);
    CHECK(count(svg, "<circle") == 1);  // a lone point still shows
    auto y = tick_texts(svg, "y-ticks");
    CHECK(y.front() == "0.0");
    CHECK(y.back() == "1.0");
    // Many series cycle colours and then dash.
    std::vector<Series> many;
    for (int i = 0; i < 12; ++i) many.push_back({"s" + std::to_string(i), {0, 1}, {0, double(i)}});
    std::string m = line_plot_svg(many, {});
    require_well_formed(m);
    CHECK(count(m, "<polyline") == 12);
    CHECK(m.find("stroke-dasharray=\"6 3\"") != std::string::npos);
}

// Gradients of ~1e-4 (the ∂L/∂e row of `seqgrad inspect`) once read "0.00" in every cell: the cells
// now show value / 10^k and the title names the factor; ordinary values are written as they are.
TEST_CASE("svg: heatmap cells stay readable for tiny and huge values, with the factor in the title") {
    HeatmapOptions opt;
    opt.title = "dL/de";
    opt.scale = ColourScale::Diverging;
    opt.show_values = HeatmapOptions::Values::Always;
    const std::string tiny = heatmap_svg({{1.2e-4, -3.4e-5, 5e-4, 0.0}}, {"a", "b", "c", "d"}, {"e"}, opt);
    require_well_formed(tiny);
    CHECK(tiny.find(">dL/de (cell values ×1e-4)</text>") != std::string::npos);
    for (const char* shown : {">1.20</text>", ">-0.34</text>", ">5.00</text>", ">0.00</text>"}) {
        INFO(shown);
        CHECK(tiny.find(shown) != std::string::npos);
    }
    CHECK(count(tiny, ">0.00</text>") == 1);  // only the true zero
    // Tooltips keep the value itself.
    CHECK(tiny.find("e → a: 0.00012") != std::string::npos);

    const std::string huge = heatmap_svg({{2500.0, -12.0}}, {"a", "b"}, {"r"}, opt);
    CHECK(huge.find("(cell values ×1e3)") != std::string::npos);
    CHECK(huge.find(">2.50</text>") != std::string::npos);
    CHECK(huge.find(">-0.01</text>") != std::string::npos);

    const std::string plain = heatmap_svg({{0.25, -0.5}}, {"a", "b"}, {"r"}, opt);
    CHECK(plain.find("cell values") == std::string::npos);
    CHECK(plain.find(">0.25</text>") != std::string::npos);
    opt.title.clear();
    CHECK(heatmap_svg({{1e-5}}, {"a"}, {"r"}, opt).find(">(cell values ×1e-5)</text>") != std::string::npos);
}

TEST_CASE("svg: figure_svg lays pictures out in rows and refuses what is not a picture") {
    const Matrix m = {{0.5, 0.5}, {1.0, 0.0}};
    HeatmapOptions first, second;
    first.title = "first";
    second.title = "second";
    const std::string a = heatmap_svg(m, {"a", "b"}, {"x", "y"}, first);
    const std::string b = heatmap_svg(m, {"a", "b"}, {"x", "y"}, second);
    const std::string fig = figure_svg({{"section one", {{a, b}}}, {"section two", {{a}, {b}}}}, "the figure");
    require_well_formed(fig);
    CHECK(count(fig, "<svg x=") == 4);
    CHECK(count(fig, "<?xml") == 1);  // the pictures' own declarations are dropped
    CHECK(fig.find(">section one</text>") != std::string::npos);
    CHECK(fig.find(">section two</text>") != std::string::npos);
    CHECK(fig.find(">the figure</text>") != std::string::npos);
    // Side by side in a row, one below the other across rows: the second picture of the first row
    // starts to the right of the first, the first row's pictures share their y.
    const auto xs = contents_after(fig, "<svg x=", "x=\"", "\"");
    const auto ys = contents_after(fig, "<svg x=", "y=\"", "\"");
    REQUIRE(xs.size() == 4);
    REQUIRE(ys.size() == 4);
    CHECK(std::stod(xs[1]) > std::stod(xs[0]));
    CHECK(ys[0] == ys[1]);
    CHECK(xs[2] == xs[3]);
    CHECK(std::stod(ys[3]) > std::stod(ys[2]));

    CHECK_THROWS_WITH(figure_svg({{"empty", {}}}), "figure_svg: no picture to lay out");
    CHECK_THROWS_WITH(figure_svg({{"", {{"<p>not a picture</p>"}}}}),
                      "figure_svg: a picture is not an SVG document (no <svg> tag)");
    CHECK_THROWS_WITH(figure_svg({{"", {{"<svg width=\"3\""}}}}), "figure_svg: a picture's <svg> tag is not closed");
    CHECK_THROWS_WITH(figure_svg({{"", {{"<svg width=\"3\"></svg>"}}}}), "figure_svg: a picture's <svg> tag has no height");
    CHECK_THROWS_WITH(figure_svg({{"", {{"<svg width=\"3cm\" height=\"2\"></svg>"}}}}),
                      "figure_svg: a picture's width is '3cm', not a positive number");
}

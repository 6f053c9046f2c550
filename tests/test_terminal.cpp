// Tests for models/viz/terminal.h: UTF-8 display width, the plain and colour text heatmaps (0 -> ' ',
// 1 -> '@', labels aligned by display width, no escape sequences smuggled in through labels), the
// NO_COLOR check, and the progress bar in both modes with a fake clock.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/viz/terminal.h"

using namespace seqgrad;
using namespace seqgrad::viz;

namespace {

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

size_t count(const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
    return n;
}

// A clock the test moves by hand.
struct FakeClock {
    double t = 100;
    std::function<double()> fn() {
        return [this] { return t; };
    }
    // Progress options that read this clock, interactive (redrawing one line) or plain.
    ProgressOptions options(bool interactive) {
        ProgressOptions opt;
        opt.interactive = interactive;
        opt.clock = fn();
        return opt;
    }
};

}  // namespace

TEST_CASE("terminal: display width counts code points and wide characters") {
    CHECK(display_width("abc") == 3);
    CHECK(display_width("été") == 3);
    CHECK(display_width("e\xCC\x81") == 1);  // e + combining acute
    CHECK(display_width("中文") == 4);
    CHECK(display_width("«ç»") == 3);
    CHECK(display_width("한국") == 4);
    CHECK(display_width("ｆｕｌｌ") == 8);  // fullwidth forms
    CHECK(display_width("") == 0);

    CHECK(truncate_to_width("hello world", 5) == "hell…");
    CHECK(truncate_to_width("hello", 5) == "hello");
    CHECK(truncate_to_width("中文字", 4) == "中…");  // never half a wide character
    CHECK(truncate_to_width("fenêtre", 4) == "fen…");
    CHECK(display_width(truncate_to_width("中文字中文字", 7)) <= 7);
}

TEST_CASE("terminal: plain heatmap maps 0 to ' ' and 1 to '@'") {
    Matrix m = {{0.0, 1.0}, {0.5, 1.0}};
    std::string s = heatmap_terminal(m, {"a", "b"}, {"x", "y"}, {.color = false});
    auto lines = lines_of(s);
    REQUIRE(lines.size() == 4);  // 1 label line, 2 rows, legend
    CHECK(lines[0] == "  a b");
    CHECK(lines[1] == "x   @@");
    CHECK(lines[2] == "y ++@@");
    CHECK_THAT(lines[3], Catch::Contains("\" .:-=+*#%@\""));
    CHECK_THAT(lines[3], Catch::Contains("0.00") && Catch::Contains("1.00"));
    CHECK(s.find('\x1b') == std::string::npos);

    // Fixed range: values outside clamp to the ends.
    TerminalOptions fixed;
    fixed.vmin = 0;
    fixed.vmax = 0.5;
    CHECK(lines_of(heatmap_terminal(m, {"a", "b"}, {"x", "y"}, fixed))[2] == "y @@@@");
}

TEST_CASE("terminal: heatmap aligns UTF-8 labels by display width") {
    Matrix m = {{1, 1}, {1, 1}, {1, 1}, {1, 1}};
    std::vector<std::string> rows = {"猫", "chat", "é", "e\xCC\x81t\xC3\xA9"};
    std::string s = heatmap_terminal(m, {"ab", "中"}, rows, {});
    auto lines = lines_of(s);
    REQUIRE(lines.size() == 2 + 4 + 1);
    // Column labels are written downwards, bottom-aligned over their two-column cells.
    CHECK(lines[0] == "     a");
    CHECK(lines[1] == "     b 中");
    for (int r = 2; r < 6; ++r) {
        auto pos = lines[r].find('@');
        REQUIRE(pos != std::string::npos);
        CHECK(display_width(lines[r].substr(0, pos)) == 5);  // label width 4 + one space
        CHECK(lines[r].substr(pos) == "@@@@");
    }
    CHECK(lines[2] == "  猫 @@@@");

    // Long labels are cut to max_label_width columns.
    TerminalOptions opt;
    opt.max_label_width = 4;
    auto cut = lines_of(heatmap_terminal({{1}}, {"x"}, {"fenêtre"}, opt));
    CHECK(cut[1] == "fen… @@");
}

TEST_CASE("terminal: colour heatmap uses 256-colour backgrounds and resets every row") {
    Matrix m = {{0.0, 0.3}, {0.6, 1.0}};
    std::string s = heatmap_terminal(m, {"a", "b"}, {"\x1b[31mred", "y"}, {.color = true});
    auto lines = lines_of(s);
    REQUIRE(lines.size() == 4);
    CHECK(count(s, "\x1b[48;5;") == 4 + 10);  // 4 cells + 10 legend blocks
    CHECK(lines[1].substr(lines[1].size() - 4) == "\x1b[0m");
    CHECK(lines[2].substr(lines[2].size() - 4) == "\x1b[0m");
    // A label cannot inject its own escape sequence.
    CHECK(s.find("\x1b[31m") == std::string::npos);
    CHECK_THAT(lines[1], Catch::StartsWith("?[31mred "));
    // Low and high ends use different colours.
    CHECK(lines[1].substr(lines[1].find("\x1b[48;5;"), 12) != lines[2].substr(lines[2].rfind("\x1b[48;5;"), 12));
}

TEST_CASE("terminal: heatmap shows NaN and diverging magnitudes") {
    Matrix m = {{std::nan(""), -2.0, 0.0, 2.0}};
    TerminalOptions opt;
    opt.scale = ColourScale::Diverging;
    auto lines = lines_of(heatmap_terminal(m, {"a", "b", "c", "d"}, {"g"}, opt));
    CHECK(lines[1] == "g ??@@  @@");
    CHECK_THAT(lines[2], Catch::Contains("|v|") && Catch::Contains("?? = nan"));
    opt.color = true;
    CHECK_THAT(heatmap_terminal(m, {"a", "b", "c", "d"}, {"g"}, opt), Catch::Contains("\x1b[48;5;201m") && Catch::Contains("nan"));
}

TEST_CASE("terminal: heatmap shape errors name the function and sizes") {
    try {
        heatmap_terminal({{1, 2}, {3}}, {"a", "b"}, {"x", "y"}, {});
        FAIL("no exception");
    } catch (const ShapeError& e) {
        CHECK_THAT(e.what(), Catch::Contains("heatmap_terminal") && Catch::Contains("row 1 has 1") &&
                                 Catch::Contains("row 0 has 2"));
    }
    try {
        heatmap_terminal({{1, 2}}, {"a"}, {"x"}, {});
        FAIL("no exception");
    } catch (const ShapeError& e) {
        CHECK_THAT(e.what(), Catch::Contains("heatmap_terminal: 1 column labels for 2 columns"));
    }
}

TEST_CASE("terminal: stdout_is_terminal honours NO_COLOR") {
    const char* old = std::getenv("NO_COLOR");
    std::string saved = old ? old : "";
    ::setenv("NO_COLOR", "1", 1);
    CHECK_FALSE(stdout_is_terminal());
    if (old)
        ::setenv("NO_COLOR", saved.c_str(), 1);
    else
        ::unsetenv("NO_COLOR");
}

TEST_CASE("terminal: plain progress prints every 10 percent") {
    std::ostringstream out;
    FakeClock clock;
    {
        ProgressOptions opt = clock.options(false);
        ProgressBar bar(1000, "train", out, opt);
        for (long step = 1; step <= 1000; ++step) {
            clock.t += 0.01;
            bar.update(step, {{"loss", 5.0 / step}, {"tok/s", 12345}});
        }
        bar.finish();
        bar.finish();  // idempotent
    }
    auto lines = lines_of(out.str());
    REQUIRE(lines.size() == 10);
    CHECK(out.str().find('\r') == std::string::npos);
    CHECK(lines[0] == "train  10% 100/1000  loss 0.05  tok/s 12.3k  elapsed 00:01  eta 00:09");
    CHECK_THAT(lines[4], Catch::StartsWith("train  50% 500/1000"));
    CHECK(lines[9] == "train 100% 1000/1000  loss 0.005  tok/s 12.3k  elapsed 00:10");
}

TEST_CASE("terminal: plain progress prints the last step on finish") {
    std::ostringstream out;
    FakeClock clock;
    ProgressOptions opt = clock.options(false);
    opt.plain_every_percent = 25;
    ProgressBar bar(100, "eval", out, opt);
    for (long step = 1; step <= 60; ++step) bar.update(step, {{"acc", 0.5}});
    bar.finish();
    auto lines = lines_of(out.str());
    REQUIRE(lines.size() == 3);  // 25%, 50%, and the final 60
    CHECK_THAT(lines[0], Catch::StartsWith("eval  25% 25/100"));
    CHECK_THAT(lines[2], Catch::StartsWith("eval  60% 60/100  acc 0.5"));
}

TEST_CASE("terminal: interactive progress redraws one line") {
    std::ostringstream out;
    FakeClock clock;
    ProgressOptions opt = clock.options(true);
    opt.bar_width = 10;
    opt.line_width = 200;
    opt.min_redraw_seconds = 0;
    ProgressBar bar(4, "train", out, opt);
    bar.update(1, {{"loss", 2.5}, {"learning_rate", 0.0001}});
    clock.t += 10;
    bar.update(2, {{"loss", 2.0}});
    std::string before = out.str();
    CHECK(before.find('\n') == std::string::npos);
    CHECK(count(before, "\r") == 2);
    CHECK_THAT(before, Catch::Contains("\rtrain [==>       ]  25% 1/4  loss 2.5  learning_rate 1.00e-04  elapsed 00:00  eta 00:00"));
    // The second, shorter line blanks what is left of the first.
    std::string second = before.substr(before.rfind('\r'));
    CHECK_THAT(second, Catch::StartsWith("\rtrain [=====>    ]  50% 2/4  loss 2  elapsed 00:10  eta 00:10 "));
    CHECK(second.size() == before.find('\r', 1));  // same width as the first line
    clock.t += 10;
    bar.update(4, {{"loss", 1.5}});
    bar.finish();
    std::string all = out.str();
    CHECK(all.back() == '\n');
    CHECK(count(all, "\n") == 1);
    CHECK_THAT(all, Catch::Contains("[==========] 100% 4/4  loss 1.5  elapsed 00:20"));
}

TEST_CASE("terminal: interactive progress is rate-limited and cut to the line width") {
    std::ostringstream out;
    FakeClock clock;
    ProgressOptions opt = clock.options(true);
    opt.line_width = 40;
    opt.min_redraw_seconds = 1.0;
    {
        ProgressBar bar(100, "train", out, opt);
        for (long step = 1; step <= 100; ++step) {
            clock.t += 0.1;
            bar.update(step, {{"loss", 1.0}});
        }
        // No finish(): the destructor still ends the line.
    }
    std::string s = out.str();
    size_t redraws = count(s, "\r");
    CHECK(redraws >= 10);
    CHECK(redraws <= 12);
    CHECK(s.back() == '\n');
    size_t start = 0;
    while ((start = s.find('\r', start)) != std::string::npos) {
        size_t end = s.find_first_of("\r\n", start + 1);
        CHECK(display_width(s.substr(start + 1, end - start - 1)) <= 39);
        start = end;
    }
}

TEST_CASE("terminal: progress bar rejects a non-positive total") {
    std::ostringstream out;
    CHECK_THROWS_AS(ProgressBar(0, "x", out), ShapeError);
    ProgressOptions opt;
    opt.interactive = false;
    ProgressBar bar(100, "x", out, opt);
    CHECK(bar.status_line(25, {}, 10.0) == "x  25% 25/100  elapsed 00:10  eta 00:30");
    CHECK(bar.status_line(0, {}, 0.0) == "x   0% 0/100  elapsed 00:00  eta --:--");
    CHECK(bar.status_line(50, {}, 4000.0) == "x  50% 50/100  elapsed 1:06:40  eta 1:06:40");
}

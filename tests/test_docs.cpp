// The docs show the code that runs: the code blocks of docs/adding-a-layer.md are, read in order,
// the files of examples/add_a_layer/ (the build also compiles and runs the blocks themselves, as
// the test doc_adding_a_layer); seqgrad.h declares the public API it says it does.
#include <filesystem>
#include <map>
#include <string>

#include "helpers.h"
#include "models/fileio.h"

namespace fs = std::filesystem;

namespace {
// The blocks that name a file ("```cpp glu.h"), each file's blocks one blank line apart, as
// tests/extract_doc_code.cmake joins them.
std::map<std::string, std::string> named_blocks(const std::string& text) {
    std::map<std::string, std::string> files;
    std::size_t pos = 0;
    const std::string open = "```cpp ";
    while ((pos = text.find(open, pos)) != std::string::npos) {
        const std::size_t eol = text.find('\n', pos);
        const std::string name = text.substr(pos + open.size(), eol - pos - open.size());
        const std::size_t stop = text.find("```", eol + 1);
        REQUIRE(stop != std::string::npos);
        std::string& f = files[name];
        if (!f.empty()) f += "\n";
        f += text.substr(eol + 1, stop - eol - 1);
        pos = stop + 3;
    }
    return files;
}
}  // namespace

TEST_CASE("docs: adding-a-layer.md's code blocks are the worked example's files", "[docs]") {
    const fs::path root = SEQGRAD_SOURCE_DIR;
    const auto files = named_blocks(seqgrad::read_file((root / "docs" / "adding-a-layer.md").string()));
    REQUIRE(files.size() == 3);
    for (const char* name : {"glu.h", "glu.cpp", "main.cpp"}) {
        INFO(name);
        REQUIRE(files.count(name) == 1);
        CHECK(files.at(name) == seqgrad::read_file((root / "examples" / "add_a_layer" / name).string()));
    }
}

TEST_CASE("docs: seqgrad.h declares the layers, optimizers and models it says it does", "[docs]") {
    // Compiles only when seqgrad.h brings these in (tests/helpers.h includes it).
    seqgrad::Generator gen(1);
    seqgrad::nn::Linear linear({.in_features = 2, .out_features = 3, .generator = &gen});
    seqgrad::nn::GRUCell cell({.input_size = 3, .hidden_size = 2, .generator = &gen});
    seqgrad::optim::Adam adam(linear.parameters(), {.lr = 1e-3});
    seqgrad::models::ModelConfig config;
    config.set_vocab_sizes(8, 8);
    CHECK(seqgrad::models::make_model(config, &gen)->num_parameters() > 0);
    CHECK(linear.num_parameters() == 9);
    CHECK(cell.num_parameters() > 0);
    CHECK(adam.lr() == Approx(1e-3));
}

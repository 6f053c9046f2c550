// `seqgrad gradcheck [LAYER ...]`: the double-precision gradient check of every layer (or the named
// ones), over the input and all parameters, printed as a table. Each layer registers its own case in
// its .cpp (layers/gradcheck_cases.h), so this file lists none of them.
#include <algorithm>

#include "apps/commands.h"
#include "layers/gradcheck_cases.h"

namespace seqgrad::apps {

void add_gradcheck(CLI::App& app) {
    auto* cmd = app.add_subcommand("gradcheck", "Double-precision gradient check of every built-in layer (or the named ones)");
    auto layers = std::make_shared<std::vector<std::string>>();
    cmd->add_option("layers", *layers, "Layer names, e.g. GRU LSTMCell 'Attention(additive)'; none = all");
    cmd->callback([layers] {
        const std::vector<nn::NamedLayerCheck> all = nn::gradcheck_cases();
        std::vector<nn::NamedLayerCheck> chosen;
        if (layers->empty()) chosen = all;
        for (const auto& name : *layers) {
            auto it = std::find_if(all.begin(), all.end(), [&](const auto& c) { return c.name == name; });
            if (it == all.end()) {
                std::vector<std::string> names;
                for (const auto& c : all) names.push_back(c.name);
                fail("gradcheck: unknown layer '{}' (known: {})", name, fmt::join(names, ", "));
            }
            chosen.push_back(*it);
        }
        fmt::print("{:<24} {:>10} {:>14} {:>14}  {}\n", "layer", "params", "max abs err", "max rel err", "result");
        bool all_ok = true;
        for (const auto& [name, run] : chosen) {
            const nn::LayerCheck c = run();
            all_ok = all_ok && c.result.ok;
            fmt::print("{:<24} {:>10} {:>14.3g} {:>14.3g}  {}\n", name, c.parameters, c.result.max_abs_error,
                       c.result.max_rel_error, c.result.ok ? "pass" : "FAIL");
            if (!c.result.ok) fmt::print("    {}\n", c.result.message);
        }
        if (!all_ok) set_exit_code(1);
    });
}

}  // namespace seqgrad::apps

// Registers every subcommand and holds the exit code a subcommand asks for.
#include "apps/commands.h"

namespace seqgrad::apps {

namespace {
int g_exit_code = 0;
}

int exit_code() { return g_exit_code; }
void set_exit_code(int code) { g_exit_code = code; }

void register_commands(CLI::App& app) {
    add_demo(app);
    add_train(app);
    add_translate(app);
    add_eval(app);
    add_experiment(app);
    add_bench(app);
    add_gradcheck(app);
    add_inspect(app);
    add_graph(app);
    add_serve(app);
}

}  // namespace seqgrad::apps

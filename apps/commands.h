// Registration of the `seqgrad` subcommands; each lives in its own apps/cmd_*.cpp file.
#pragma once
#include <CLI/CLI.hpp>

namespace seqgrad::apps {

void register_commands(CLI::App& app);
// The exit code a subcommand asked for (0 unless it set one).
int exit_code();
void set_exit_code(int code);

// While alive, Ctrl-C (SIGINT) asks training to stop at the next batch (models::stop_requested()):
// the trainer saves a checkpoint and returns with stop_reason "interrupted". Restores the default
// handler (a second Ctrl-C then kills the process) when destroyed. Defined in apps/cmd_train.cpp.
// The signal never interrupts the computing thread: SIGINT is blocked in it (and in the threads it
// starts) and a watcher thread takes it with sigwait. A signal landing inside oneDNN's sgemm
// corrupted its heap (seen with Debian's libdnnl 2.6: "malloc(): unaligned tcache chunk detected"
// after Ctrl-C in about one run of three; tests/test_cli.cpp interrupts runs).
class StopOnCtrlC {
public:
    StopOnCtrlC();
    ~StopOnCtrlC();
    StopOnCtrlC(const StopOnCtrlC&) = delete;
    StopOnCtrlC& operator=(const StopOnCtrlC&) = delete;

private:
    struct Watcher;
    Watcher* watcher_;
};

void add_demo(CLI::App& app);
void add_train(CLI::App& app);
void add_translate(CLI::App& app);
void add_eval(CLI::App& app);
void add_experiment(CLI::App& app);
// `experiment hard-vs-soft` (apps/cmd_hard_vs_soft.cpp), added to the `experiment` subcommand.
void add_hard_vs_soft(CLI::App& experiment);
// `experiment visual-attention` (apps/cmd_visual_attention.cpp), likewise.
void add_visual_attention(CLI::App& experiment);
// `experiment implicit-vs-explicit` (apps/cmd_implicit_vs_explicit.cpp), likewise.
void add_implicit_vs_explicit(CLI::App& experiment);
void add_bench(CLI::App& app);
void add_gradcheck(CLI::App& app);
void add_inspect(CLI::App& app);
void add_graph(CLI::App& app);
void add_serve(CLI::App& app);

}  // namespace seqgrad::apps

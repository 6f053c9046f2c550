// The `seqgrad` command line: one subcommand per file (apps/cmd_*.cpp), registered here.
// Misuse — an unknown flag, a missing file, a bad model folder, an empty corpus — gives one clear
// line on stderr and exit code 2; --help works on every subcommand.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>

#include "apps/commands.h"
#include "core/error.h"

namespace {
// One thread pool, idle threads asleep. OpenMP's idle workers spin by default: on a small machine
// shared with other jobs a spinning worker takes the core the other thread needs, and 2 threads ran
// 2-3x slower than 1 (bench/RESULTS.md). Passive waiting fixes that. And OpenBLAS keeps a pool of
// its own whose threads spin after start-up; seqgrad runs OpenBLAS single-threaded and splits large
// products over the OpenMP threads instead (core/matmul.cpp), so OpenBLAS needs no threads at all.
// Both libraries read these settings once, when they are loaded, before main: so when the user has
// set neither, run this program again once with both set (if exec fails, carry on as we are).
void one_quiet_thread_pool(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);  // the real path keeps the process name
    if (n <= 0) return;
    path[n] = '\0';
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0 || setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0) return;
    execv(path, argv);
}
}  // namespace

int main(int argc, char** argv) {
    one_quiet_thread_pool(argv);
    CLI::App app{"seqgrad: a from-scratch autograd framework and an attention translator that trains on the CPU"};
    app.require_subcommand(1);
    app.fallthrough(false);
    app.option_defaults()->always_capture_default();  // every --help shows each option's default
    seqgrad::apps::register_commands(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "seqgrad: error: %s (see seqgrad --help)\n", e.what());
        return 2;
    } catch (const std::invalid_argument& e) {  // seqgrad::ShapeError: bad values, shapes
        std::fprintf(stderr, "seqgrad: error: %s\n", e.what());
        return 2;
    } catch (const std::out_of_range& e) {  // seqgrad::IndexError
        std::fprintf(stderr, "seqgrad: error: %s\n", e.what());
        return 2;
    } catch (const seqgrad::Error& e) {  // files, formats, misuse
        std::fprintf(stderr, "seqgrad: error: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "seqgrad: internal error: %s\n", e.what());
        return 1;
    }
    return seqgrad::apps::exit_code();
}

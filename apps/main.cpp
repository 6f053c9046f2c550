// The `seqgrad` command line: one subcommand per file (apps/cmd_*.cpp), registered here.
// Misuse — an unknown flag, a missing file, a bad model folder, an empty corpus — gives one clear
// line on stderr and exit code 2; --help works on every subcommand.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>

#include "apps/commands.h"
#include "core/blas.h"
#include "core/error.h"

int main(int argc, char** argv) {
    // One thread pool, idle threads asleep: runs the program again once with OMP_WAIT_POLICY=passive
    // and OPENBLAS_NUM_THREADS=1 unless the user set them (core/blas.h says why).
    seqgrad::blas::one_quiet_thread_pool(argv);
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

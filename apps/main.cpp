// The `seqgrad` command line: one subcommand per file (apps/cmd_*.cpp), registered here.
// Misuse — an unknown flag, a missing file, a bad model folder, an empty corpus — gives one clear
// line on stderr and exit code 2; --help works on every subcommand.
//
// Under mpirun (core/distributed.h) every rank runs this program. An error that the ranks agreed on
// (dist::agree) ends each of them normally: the failing rank prints its line, the others nothing. Any
// other error on one rank ends that rank at once (dist::abort), and the launcher stops the rest.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include <fmt/format.h>

#include "apps/commands.h"
#include "core/blas.h"
#include "core/distributed.h"
#include "core/error.h"

int main(int argc, char** argv) {
    // One thread pool, idle threads asleep after a short spin: runs the program again once with
    // OMP_WAIT_POLICY=passive, GOMP_SPINCOUNT=3000 and OPENBLAS_NUM_THREADS=1 unless the user set them
    // (core/blas.h says why).
    seqgrad::blas::one_quiet_thread_pool(argv);
    seqgrad::dist::init(&argc, &argv);
    // One error line and the exit code; under mpirun only the rank that must speak prints it.
    auto failed = [](std::string line, int code) {
        if (seqgrad::dist::active())  // which rank's error: "seqgrad: error: rank 1: ..."
            line.insert(line.find(": ", line.find(": ") + 1) + 2, fmt::format("rank {}: ", seqgrad::dist::rank()));
        if (seqgrad::dist::report_failure()) std::fprintf(stderr, "%s\n", line.c_str());
        seqgrad::dist::end_failed(code);
        return code;
    };
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
    } catch (const seqgrad::dist::PeerFailed&) {  // another rank failed and printed why
        return 2;
    } catch (const CLI::ParseError& e) {
        return failed(fmt::format("seqgrad: error: {} (see seqgrad --help)", e.what()), 2);
    } catch (const std::invalid_argument& e) {  // seqgrad::ShapeError: bad values, shapes
        return failed(fmt::format("seqgrad: error: {}", e.what()), 2);
    } catch (const std::out_of_range& e) {  // seqgrad::IndexError
        return failed(fmt::format("seqgrad: error: {}", e.what()), 2);
    } catch (const seqgrad::Error& e) {  // files, formats, misuse
        return failed(fmt::format("seqgrad: error: {}", e.what()), 2);
    } catch (const std::exception& e) {
        return failed(fmt::format("seqgrad: internal error: {}", e.what()), 1);
    }
    return seqgrad::apps::exit_code();
}

// Shared by the tests that run a built program (tests/test_cli.cpp, test_serve.cpp,
// test_distributed.cpp): starting it with posix_spawn, its stdout and stderr captured in files, and
// waiting for it to end.
#pragma once
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "models/fileio.h"

extern char** environ;

namespace seqgrad::testing {

// The seqgrad binary under test.
inline std::string seqgrad_binary() { return std::string(SEQGRAD_BINARY_DIR) + "/seqgrad"; }

// Starts the program argv[0] (a path) with its arguments, stdin from the file `in`, stdout and
// stderr into the files out and err (both into the one file when err is out). The process id, or
// 0 when it could not be started.
inline pid_t try_spawn(std::vector<std::string> argv, const std::string& out, const std::string& err,
                       const std::string& in = "/dev/null") {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | (err == out ? O_APPEND : O_TRUNC), 0644);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : 0;
}

// The same; fails the test unless the program started.
inline pid_t spawn_program(std::vector<std::string> argv, const std::string& out, const std::string& err,
                           const std::string& in = "/dev/null") {
    const pid_t pid = try_spawn(std::move(argv), out, err, in);
    REQUIRE(pid > 0);
    return pid;
}

// How a process ended and what it wrote.
struct Outcome {
    int exit_code = -1;  // -1 when killed by a signal
    int signal = 0;
    std::string out, err;
    double seconds = 0;  // from the start of the wait
};

// Waits for `pid` to end, at most `limit` seconds when limit > 0 (then kills it and fails the test:
// a hang), and reads its output files.
inline Outcome finish(pid_t pid, const std::string& out, const std::string& err, double limit = 0) {
    const auto t0 = std::chrono::steady_clock::now();
    int status = 0;
    if (limit <= 0) {
        REQUIRE(::waitpid(pid, &status, 0) == pid);
    } else {
        for (;;) {
            const pid_t done = ::waitpid(pid, &status, WNOHANG);
            REQUIRE(done >= 0);
            if (done == pid) break;
            if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > limit) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, &status, 0);
                FAIL("the run did not end within " << limit << " s: " << read_file(err));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    Outcome r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    r.out = read_file(out);
    r.err = read_file(err);
    return r;
}

}  // namespace seqgrad::testing

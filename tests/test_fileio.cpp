// Tests for models/fileio.h: read_file / write_file_atomic round trips, and every failure (missing
// directory, unwritable directory, target that is a directory, a write cut short by a file-size
// limit) throws seqgrad::Error naming the path while the old file stays intact and no temporary
// file is left behind.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/fileio.h"
#include "helpers.h"

namespace fs = std::filesystem;
using seqgrad::read_file;
using seqgrad::write_file_atomic;

namespace {

// A fresh directory per test, removed afterwards (made writable again first).
using seqgrad::testing::TempDir;

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const seqgrad::Error& e) {
        return e.what();
    }
    FAIL("expected seqgrad::Error");
    return "";
}

}  // namespace

TEST_CASE("fileio: write_file_atomic then read_file round-trips and replaces") {
    TempDir dir;
    std::string path = dir.file("report.json");
    write_file_atomic(path, "first");
    CHECK(read_file(path) == "first");
    write_file_atomic(path, "second, longer contents\n");
    CHECK(read_file(path) == "second, longer contents\n");
    write_file_atomic(path, "");
    CHECK(read_file(path).empty());

    std::string binary("a\0b\xff\n\r", 6);
    binary += std::string(200000, 'z');  // larger than one read buffer
    write_file_atomic(path, binary);
    CHECK(read_file(path) == binary);
    CHECK(dir.listing() == std::vector<std::string>{"report.json"});  // no temporary left over

    // A path without a directory part lands in the current directory.
    auto old_cwd = fs::current_path();
    fs::current_path(dir.path);
    write_file_atomic("plain.txt", "x");
    fs::current_path(old_cwd);
    CHECK(read_file(dir.file("plain.txt")) == "x");
}

TEST_CASE("fileio: write_file_atomic keeps the permissions of the file it replaces") {
    TempDir dir;
    std::string path = dir.file("secret.txt");
    write_file_atomic(path, "v1");
    ::chmod(path.c_str(), 0640);
    write_file_atomic(path, "v2");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    CHECK(read_file(path) == "v2");
}

TEST_CASE("fileio: read_file errors name the path and the reason") {
    TempDir dir;
    std::string missing = dir.file("nope.txt");
    std::string msg = error_of([&] { read_file(missing); });
    CHECK(msg == "cannot open " + missing + ": No such file or directory");
    msg = error_of([&] { read_file(dir.path.string()); });
    CHECK_THAT(msg, Catch::Contains("cannot read " + dir.path.string()) && Catch::Contains("Is a directory"));
}

TEST_CASE("fileio: writing into a missing directory names the path") {
    TempDir dir;
    std::string path = dir.file("no/such/dir/out.svg");
    std::string msg = error_of([&] { write_file_atomic(path, "x"); });
    CHECK_THAT(msg, Catch::Contains(path) && Catch::Contains("No such file or directory"));
    // A regular file where a directory should be.
    write_file_atomic(dir.file("plainfile"), "x");
    msg = error_of([&] { write_file_atomic(dir.file("plainfile/out.svg"), "y"); });
    CHECK_THAT(msg, Catch::Contains(dir.file("plainfile/out.svg")) && Catch::Contains("Not a directory"));
    CHECK(dir.listing() == std::vector<std::string>{"plainfile"});
}

TEST_CASE("fileio: a directory in the way is not replaced") {
    TempDir dir;
    fs::create_directory(dir.path / "target");
    write_file_atomic(dir.file("target/keep.txt"), "keep");
    std::string msg = error_of([&] { write_file_atomic(dir.file("target"), "new"); });
    CHECK_THAT(msg, Catch::Contains(dir.file("target")) && Catch::Contains("rename failed"));
    CHECK(read_file(dir.file("target/keep.txt")) == "keep");
    CHECK(dir.listing() == std::vector<std::string>{"target"});  // temporary removed
}

TEST_CASE("fileio: an unwritable directory leaves the old file unchanged") {
    TempDir dir;
    std::string path = dir.file("model.ckpt");
    write_file_atomic(path, "old contents");
    fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                  fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
    std::string msg;
    if (::geteuid() != 0) {
        msg = error_of([&] { write_file_atomic(path, "new contents"); });
    } else {
        // Root may write anywhere, so try as user "nobody" in a child process; the child sends the
        // error message back through a pipe.
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            std::string m = "no error";
            if (::setgid(65534) == 0 && ::setuid(65534) == 0) {
                try {
                    write_file_atomic(path, "new contents");
                } catch (const seqgrad::Error& e) {
                    m = e.what();
                }
            } else {
                m = "setuid failed";
            }
            ssize_t ignored = ::write(fds[1], m.data(), m.size());
            (void)ignored;
            ::_exit(0);
        }
        ::close(fds[1]);
        char buf[512];
        for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
        ::close(fds[0]);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (msg == "setuid failed") {
            WARN("cannot drop root privileges here: skipping the read-only directory check");
            return;
        }
    }
    fs::permissions(dir.path, fs::perms::owner_all);
    CHECK_THAT(msg, Catch::Contains(path) && Catch::Contains("Permission denied"));
    CHECK(read_file(path) == "old contents");
    CHECK(dir.listing() == std::vector<std::string>{"model.ckpt"});
}

TEST_CASE("fileio: a write cut short leaves the old file unchanged") {
    // RLIMIT_FSIZE makes write() fail half-way with EFBIG (even for root), like a full disk would.
    TempDir dir;
    std::string path = dir.file("model.ckpt");
    write_file_atomic(path, "old contents");

    struct rlimit old_limit {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old_limit;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string msg;
    try {
        write_file_atomic(path, std::string(1 << 20, 'n'));
    } catch (const seqgrad::Error& e) {
        msg = e.what();
    }
    // Restore before any assertion can fail and write a report under the limit.
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    std::signal(SIGXFSZ, old_handler);

    CHECK_THAT(msg, Catch::Contains(path) && Catch::Contains("write failed") && Catch::Contains("File too large"));
    CHECK(read_file(path) == "old contents");
    CHECK(dir.listing() == std::vector<std::string>{"model.ckpt"});
}

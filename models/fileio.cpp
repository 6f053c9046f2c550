// read_file and write_file_atomic on plain POSIX calls: open/read/write/fsync/rename give us errno
// at every step, which std::ofstream hides, and the error messages are meant to say what went wrong.
#include "models/fileio.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <system_error>

#include "core/error.h"

namespace seqgrad {

namespace {

// std::system_category().message is the thread-safe spelling of strerror(err).
std::string reason(int err) { return std::system_category().message(err); }

// Closes a file descriptor on every exit path (exceptions included).
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    // Closes now and reports close()'s own error: on NFS and some full disks the write error only
    // shows up here, so a file is not known to be written until close succeeded.
    int close_now() {
        int rc = ::close(fd);
        fd = -1;
        return rc == 0 ? 0 : errno;
    }
};

// Splits "a/b/c.txt" into the directory "a" ("." when there is none, "/" for "/c.txt") and "c.txt".
std::pair<std::string, std::string> split_path(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return {".", path};
    std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    return {dir, path.substr(slash + 1)};
}

}  // namespace

std::string read_file(const std::string& path) {
    Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (f.fd < 0) fail<Error>("cannot open {}: {}", path, reason(errno));
    std::string out;
    struct stat st {};
    if (::fstat(f.fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(f.fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail<Error>("cannot read {}: {}", path, reason(errno));
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

void write_file_atomic(const std::string& path, const std::string& contents) {
    if (path.empty()) fail<Error>("cannot write an empty path");
    if (path.back() == '/') fail<Error>("cannot write {}: {}", path, reason(EISDIR));
    auto [dir, base] = split_path(path);

    // The temporary name is hidden (leading dot), unique per process and call, and created with
    // O_EXCL so two writers can never share one; mode 0666 lets the kernel apply the umask for us
    // (reading the umask from a library is racy in a threaded program).
    static std::atomic<unsigned long> counter{0};
    std::string tmp;
    int fd = -1;
    // The clock only makes a clash with a stale file from an earlier process (same pid) unlikely.
    auto salt = static_cast<unsigned long>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        tmp = fmt::format("{}/.{}.tmp-{}-{}-{:x}", dir, base, ::getpid(), counter++, (salt >> 4) & 0xffffu);
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) fail<Error>("cannot write {}: cannot create a temporary file in {}: {}", path, dir, reason(errno));
    Fd f(fd);

    // From here on any failure must remove the temporary file before throwing.
    auto give_up = [&](const char* what, int err) {
        if (f.fd >= 0) f.close_now();
        ::unlink(tmp.c_str());
        fail<Error>("cannot write {}: {}: {}", path, what, reason(err));
    };

    // Keep the permissions of the file being replaced (a user who chmod-ed a config to 0600
    // does not want it to become world-readable on the next save).
    struct stat old {};
    if (::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode)) {
        if (::fchmod(f.fd, old.st_mode & 07777) != 0) give_up("chmod failed", errno);
    }

    const char* p = contents.data();
    size_t left = contents.size();
    while (left > 0) {
        ssize_t n = ::write(f.fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            give_up("write failed", errno);
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    // fsync before rename: otherwise after a power cut the rename may be on disk but the data not,
    // which leaves an empty file where the old good one was.
    if (::fsync(f.fd) != 0 && errno != EINVAL && errno != EROFS) give_up("fsync failed", errno);
    if (int err = f.close_now(); err != 0) give_up("close failed", err);
    if (::rename(tmp.c_str(), path.c_str()) != 0) give_up("rename failed", errno);

    // Make the rename itself durable. Best effort: some file systems refuse fsync on a directory,
    // and the file is already complete and in place.
    Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.fd >= 0) ::fsync(d.fd);
}

}  // namespace seqgrad

// read_file on plain POSIX calls (errno at every step, which std::ifstream hides); write_file_atomic
// is core/atomic_file.h's AtomicFile, the one crash-safe write of the project.
#include "models/fileio.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <system_error>

#include "core/atomic_file.h"
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

// The one atomic write of the project is core/atomic_file.h; this is its whole-string form.
void write_file_atomic(const std::string& path, const std::string& contents) {
    AtomicFile file(path);
    file.write(contents.data(), contents.size());
    file.commit();
}

}  // namespace seqgrad

// AtomicFile (core/atomic_file.h) on plain POSIX calls: open/write/fsync/rename give errno at every
// step, which std::ofstream hides, and the messages are meant to say what went wrong.
#include "core/atomic_file.h"

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
}  // namespace

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
    if (path.empty()) fail<Error>("cannot write an empty path");
    if (path.back() == '/') fail<Error>("cannot write {}: {}", path, reason(EISDIR));
    // "a/b/c.txt" -> directory "a/b" and name "c.txt" ("." when there is no directory, "/" for "/c").
    const auto slash = path.find_last_of('/');
    dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);

    // Hidden (leading dot), unique per process and call, created with O_EXCL so two writers never
    // share one; mode 0666 lets the kernel apply the umask (reading the umask from a library is racy
    // in a threaded program). The clock only makes a clash with a stale file of an earlier process
    // with the same pid unlikely.
    static std::atomic<unsigned long> counter{0};
    const auto salt = static_cast<unsigned long>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
        tmp_ = fmt::format("{}/.{}.tmp-{}-{}-{:x}", dir_, base, ::getpid(), counter++, (salt >> 4) & 0xffffu);
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) fail<Error>("cannot write {}: cannot create a temporary file in {}: {}", path, dir_, reason(errno));
    // Keep the permissions of the file being replaced (a user who chmod-ed a checkpoint to 0600
    // does not want it to become world-readable on the next save).
    struct stat old {};
    if (::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode) && ::fchmod(fd_, old.st_mode & 07777) != 0)
        give_up("chmod failed", errno);
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::give_up(const char* what, int err) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_.c_str());
    committed_ = true;  // nothing left for the destructor to remove
    fail<Error>("cannot write {}: {}: {}", path_, what, reason(err));
}

void AtomicFile::write(const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t k = ::write(fd_, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            give_up("write failed", errno);
        }
        if (k == 0) give_up("write failed", EIO);  // no progress on a regular file: treat as an I/O error
        p += k;
        n -= static_cast<std::size_t>(k);
    }
}

void AtomicFile::commit() {
    // fsync before rename: otherwise after a power cut the rename may be on disk but the data not,
    // which leaves an empty file where the old good one was. EINVAL / EROFS: a file system that
    // cannot sync (a special file, a read-only overlay that still took the write) is not an error.
    if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) give_up("fsync failed", errno);
    const int fd = fd_;
    fd_ = -1;
    // close()'s own error: on NFS and some full disks the write error only shows up here.
    if (::close(fd) != 0) give_up("close failed", errno);
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) give_up("rename failed", errno);
    committed_ = true;
    // Make the rename itself durable. Best effort: some file systems refuse fsync on a directory,
    // and the file is already complete and in place.
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace seqgrad

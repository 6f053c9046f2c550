// The one crash-safe file write of the project. Everything seqgrad saves (checkpoints through
// core/safetensors.cpp, vocabularies, configs, SVG pictures, JSON reports through
// models/fileio.h's write_file_atomic) goes through AtomicFile, so that an interrupted run, a full
// disk or an unwritable directory never leaves a half-written file behind or damages the old one.
//
// The bytes go to a new hidden temporary file in the target's directory ("DIR/.NAME.tmp-PID-N-SALT",
// created with O_EXCL); commit() fsyncs it, closes it, renames it over the target (atomic within one
// directory on POSIX file systems: readers see the complete old file or the complete new one) and
// fsyncs the directory. On any failure, and when an AtomicFile is destroyed uncommitted, the
// temporary is removed and the target is left as it was. Failures throw seqgrad::Error with one
// line, "cannot write PATH: WHAT: REASON" (the operating system's reason).
// An existing file keeps its permission bits; a new one gets 0666 minus the umask, like fopen.
#pragma once
#include <cstddef>
#include <string>

namespace seqgrad {

class AtomicFile {
public:
    explicit AtomicFile(const std::string& path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t n);
    // fsync, close, rename over the target, fsync the directory (best effort).
    void commit();

private:
    [[noreturn]] void give_up(const char* what, int err);
    std::string path_, dir_, tmp_;
    int fd_ = -1;
    bool committed_ = false;
};

}  // namespace seqgrad

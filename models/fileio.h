// Whole-file reading and crash-safe writing. Everything seqgrad saves (checkpoints, vocabularies,
// SVG pictures, JSON reports) goes through write_file_atomic so that an interrupted run, a full disk
// or an unwritable directory never leaves a half-written file behind or damages the previous one.
// Failures throw seqgrad::Error with one line naming the path and the operating system's reason.
#pragma once
#include <string>

namespace seqgrad {

// Reads the whole file (binary-safe: bytes are returned as they are, NULs included).
// Throws seqgrad::Error "cannot open FILE: reason" or "cannot read FILE: reason".
std::string read_file(const std::string& path);

// Writes `contents` through AtomicFile (core/atomic_file.h, which checkpoints use too): a new
// temporary file in the same directory as `path`, flushed to disk and renamed over `path`. rename() within one directory is atomic on POSIX file systems, so readers
// see either the complete old file or the complete new one. If anything fails the temporary file is
// removed, the old file is left untouched, and seqgrad::Error names the path and the reason.
// An existing file keeps its permission bits; a new one gets 0666 minus the umask, like fopen.
void write_file_atomic(const std::string& path, const std::string& contents);

}  // namespace seqgrad

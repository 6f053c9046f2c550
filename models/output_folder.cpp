// The checks on a command's output folder and the step that creates it (see models/output_folder.h).
#include "models/output_folder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "models/fileio.h"

namespace seqgrad::models {

namespace fs = std::filesystem;

namespace {

std::string reason(int err) { return std::system_category().message(err); }

// "a/b/" -> "a/b": a trailing slash would make "b" look like a file name of "".
fs::path normal(const std::string& path) {
    fs::path p = fs::path(path).lexically_normal();
    if (p.filename().empty() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
    return p;
}

// True for a folder with no entries (one that cannot be listed counts as not empty: it is refused).
bool is_empty_folder(const fs::path& dir) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    return !ec && it == fs::directory_iterator();
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string marker_line(std::string_view command) { return fmt::format("written by: seqgrad {}", command); }

}  // namespace

const std::vector<std::string>& model_folder_files() {
    static const std::vector<std::string> files = {
        "config.json",       "source_vocab.json", "target_vocab.json",     "split.json",
        "model.safetensors", "last.safetensors",  "optimizer.safetensors", "interrupted.safetensors",
        "metrics.jsonl",     "loss.svg",          "source.spm",            "target.spm"};
    return files;
}

bool holds_model(const std::string& dir) {
    std::error_code ec;
    for (const auto& f : model_folder_files())
        if (fs::exists(fs::path(dir) / f, ec)) return true;
    return false;
}

void check_writable_folder(const std::string& path, std::string_view who) {
    const fs::path p = normal(path);
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (fs::exists(st)) {
        if (!fs::is_directory(st)) fail<Error>("{}: --out {} is a file, not a folder", who, path);
        if (::access(p.c_str(), W_OK | X_OK) != 0)
            fail<Error>("{}: --out {}: the folder is not writable ({})", who, path, reason(errno));
        return;
    }
    // The first missing folder on the way to p: create it and remove it again. What stops it (a
    // read-only file system, /proc, a regular file in the way, no permission) would stop the command.
    fs::path missing = p, parent = p.parent_path();
    while (!parent.empty() && !fs::exists(parent, ec)) {
        missing = parent;
        parent = parent.parent_path();
    }
    if (::mkdir(missing.c_str(), 0777) != 0) {
        const int err = errno;
        fail<Error>("{}: --out {}: cannot create a folder in {} ({})", who, path,
                    parent.empty() ? std::string(".") : parent.string(), reason(err));
    }
    ::rmdir(missing.c_str());
}

void check_output_folder(const std::string& path, const OutputFolderOptions& o, std::string_view who) {
    const fs::path p = normal(path);
    std::error_code ec;
    if (o.resume && !fs::exists(p, ec))
        fail<Error>("{}: --resume: --out {} does not exist (drop --resume to start a new run there)", who, path);
    check_writable_folder(path, who);
    if (o.resume || o.force || !fs::exists(p, ec) || is_empty_folder(p)) return;
    if (holds_model(p.string()))
        fail<Error>("{}: --out {} already holds a model; give --resume to continue its run or --force to replace it",
                    who, path);
    fail<Error>("{}: --out {} is not empty and holds no model to --resume; choose a new or empty folder, or give "
                "--force to write the model there (its other files are kept)",
                who, path);
}

void prepare_output_folder(const std::string& path, const OutputFolderOptions& o, std::string_view who) {
    if (o.resume) return;
    const fs::path p = normal(path);
    std::error_code ec;
    if (o.force)
        for (const auto& f : model_folder_files()) fs::remove(p / f, ec);  // missing files are no error
    fs::create_directories(p, ec);
    if (ec) fail<Error>("{}: --out {}: cannot create the folder ({})", who, path, ec.message());
}

void check_command_folder(const std::string& path, std::string_view command, bool force) {
    check_writable_folder(path, command);
    const fs::path p = normal(path);
    std::error_code ec;
    if (force || !fs::exists(p, ec) || is_empty_folder(p)) return;
    const fs::path marker = p / kOutputMarker;
    if (fs::is_regular_file(marker, ec) && first_line(read_file(marker.string())) == marker_line(command)) return;
    fail<Error>("{}: --out {} is not empty and was not written by seqgrad {} (it has no {} naming it); choose a new "
                "or empty folder, or give --force to let seqgrad {} write its files there",
                command, path, command, kOutputMarker, command);
}

void claim_command_folder(const std::string& path, std::string_view command) {
    const fs::path p = normal(path);
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec) fail<Error>("{}: --out {}: cannot create the folder ({})", command, path, ec.message());
    write_file_atomic((p / kOutputMarker).string(),
                      marker_line(command) + "\nThis folder holds the output of `seqgrad " + std::string(command) +
                          "`. Running it again with the same --out replaces the files it wrote here.\n");
}

}  // namespace seqgrad::models

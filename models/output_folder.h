// The folder a command writes (`train --out`, `demo --out`, `experiment ... --out`): the checks made
// before any data is read, so that a command that cannot or must not write there fails at once, with
// one line, and creates or changes nothing; and the one step that then creates the folder or clears
// seqgrad's own files from it.
//
// The rules:
//   - `--out` must be a folder this process can write into, or a path whose missing folders can be
//     created (the first missing one is created and removed again to find out: /proc and /sys
//     refuse it, a regular file in the way refuses it);
//   - `train` writes into a new or empty folder. A folder that holds a model is refused unless the
//     run resumes it (--resume) or replaces it (--force); so is any other non-empty folder, unless
//     --force. --force removes only the files a model folder consists of (model_folder_files()),
//     never anything else, and only once the data has been read;
//   - `train --resume` needs the folder to exist: it is never created;
//   - a command that fills a folder with several runs (the demo, the experiments) marks it with
//     `seqgrad-output.txt` naming the command; it replaces its own earlier output (that marker, the
//     same command) and refuses any other non-empty folder unless --force.
// Every refusal is a seqgrad::Error naming the command, the folder and what to do. The checks are
// made by the commands (apps/); models::train only calls prepare_output_folder.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace seqgrad::models {

// The files `seqgrad train` writes into a model folder (models/translator.h lists what each holds).
const std::vector<std::string>& model_folder_files();
// True when `dir` holds one of model_folder_files().
bool holds_model(const std::string& dir);

// Throws "<who>: --out <path> ..." unless `path` is a writable folder or can be created. Creates and
// changes nothing (a probe folder is created and removed when `path` does not exist yet).
void check_writable_folder(const std::string& path, std::string_view who);

struct OutputFolderOptions {
    bool resume = false;  // continue the run in the folder: it must exist
    bool force = false;   // replace a model or write into a non-empty folder
};
// The checks `train` makes on --out before it reads any data (the rules above).
void check_output_folder(const std::string& path, const OutputFolderOptions& options, std::string_view who = "train");
// Creates the folder (not when resuming) and, with force, first removes the model files an earlier
// run left there. models::train calls it just before it writes the first file; the checks are
// check_output_folder's, which the commands make before any data is read (the library's train()
// writes where it is told, as tests and programs that reuse a folder expect).
void prepare_output_folder(const std::string& path, const OutputFolderOptions& options, std::string_view who = "train");

// The marker file of a folder a command owns, and the command it names ("demo", "experiment bottleneck").
inline constexpr std::string_view kOutputMarker = "seqgrad-output.txt";
// Throws unless `path` is writable and either missing, empty, marked by `command`, or force is set.
void check_command_folder(const std::string& path, std::string_view command, bool force);
// Creates the folder and writes the marker naming `command` (after check_command_folder).
void claim_command_folder(const std::string& path, std::string_view command);

}  // namespace seqgrad::models

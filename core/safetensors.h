// Tensor files in the Hugging Face safetensors format, so that numpy, PyTorch and the `safetensors`
// Python package read what seqgrad writes and the other way round:
//
//   [8 bytes]  N, the header length, unsigned little-endian
//   [N bytes]  JSON, UTF-8, padded with trailing spaces so the data starts 8-byte aligned:
//              { "<name>": {"dtype": "F32"|"F64"|"I64", "shape": [d0, d1, ...],
//                           "data_offsets": [begin, end]},            // relative to the data section
//                ...,
//                "__metadata__": {"<key>": "<value>", ...} }          // optional, strings only
//   [rest]     the tensors' raw little-endian bytes, row-major, back to back with no holes
//
// seqgrad adds three metadata keys of its own (other readers ignore them):
//   "format": "seqgrad", "format_version": "1", "checksum": CRC-32C of the data section (8 hex digits).
// They are checked on load when "format" is "seqgrad"; files from other writers (no "format", or
// "format": "pt" from PyTorch) load without them.
//
// Saving is atomic: the bytes go to a temporary file next to the target, which is fsynced and then
// renamed over it. A crash or an error part-way leaves any existing file untouched.
// Loading validates everything against the real byte count before allocating, so a truncated,
// corrupted or hostile file gives one seqgrad::Error naming the file (and the tensor), never a crash.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/tensor.h"

namespace seqgrad {

// The newest format_version this build reads and the one it writes.
inline constexpr int kSafetensorsFormatVersion = 1;

struct SafetensorsFile {
    std::map<std::string, Tensor> tensors;
    std::map<std::string, std::string> metadata;  // includes "format", "format_version", "checksum" if present
};

// Writes every tensor (any shape, including 0-d and empty; float32, float64 or int64) and the
// metadata. The keys "format", "format_version" and "checksum" are always set by seqgrad and
// override values of the same name in `metadata`. Throws seqgrad::Error naming `path` when a tensor
// is undefined, a name is "__metadata__" or not valid UTF-8, or the file cannot be written.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates a file. Errors start with the path.
SafetensorsFile load_safetensors(const std::string& path);

// The same from bytes already in memory (the fuzz target's entry point). Errors start with
// name_for_errors. The tensors returned own their data (nothing points into `bytes`).
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& name_for_errors);

// Copies each tensor of `f` into the target of the same name in place (Tensor::copy_), so handles
// held elsewhere (a module's parameters, an optimizer's state) see the new values. The names must
// match exactly and every shape and dtype must agree; otherwise nothing is copied and one
// seqgrad::Error lists every missing, unexpected and mismatched tensor, e.g.
//   model.safetensors: tensor 'encoder.weight' has shape [4, 3] in the file but [4, 5] in the model
void load_into(const SafetensorsFile& f, std::map<std::string, Tensor>& targets, const std::string& file_name);

}  // namespace seqgrad

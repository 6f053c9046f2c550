// safetensors reading and writing (format described in core/safetensors.h).
//
// Reading is a chain of checks, each against the real byte count, done before any tensor memory is
// allocated: length prefix -> JSON header -> metadata (format_version) -> each tensor entry (dtype,
// shape, offsets, size) -> the entries tile the data section exactly -> checksum -> copy out.
// Size arithmetic is done in uint64 with explicit overflow checks, so a hostile shape such as
// [2^40, 2^40, 2^40] is rejected instead of wrapping round to a small allocation.
//
// Writing builds the whole header first (so every error that can be found early is found before a
// file is touched), then streams header and tensor bytes through AtomicFile (core/atomic_file.h: a
// temporary beside <path>, fsynced and renamed over it; removed on any failure).
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/checksum.h"

namespace seqgrad {

// The data section is the tensors' in-memory bytes, copied verbatim; that is only the file's
// little-endian layout on a little-endian machine.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

using json = nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";

// ---- dtypes -------------------------------------------------------------------------------------

const char* safetensors_dtype(DType d) {
    switch (d) {
        case DType::Float32: return "F32";
        case DType::Float64: return "F64";
        case DType::Int64: return "I64";
    }
    return "?";
}

bool parse_dtype(const std::string& s, DType& out) {
    if (s == "F32") out = DType::Float32;
    else if (s == "F64") out = DType::Float64;
    else if (s == "I64") out = DType::Int64;
    else return false;
    return true;
}

// A JSON value for an error message, cut short so a hostile 100 MB header gives a one-line error.
std::string excerpt(const json& v) {
    std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

// shape_str, shortened for hostile shapes with thousands of sizes.
std::string short_shape(const Shape& shape) {
    if (shape.size() <= 16) return shape_str(shape);
    return fmt::format("[{}, ... ({} sizes)]", fmt::join(shape.begin(), shape.begin() + 8, ", "), shape.size());
}

std::string errno_text(int err) { return std::strerror(err); }

// ---- reading ------------------------------------------------------------------------------------

// One tensor entry of the header, validated.
struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    std::uint64_t begin, end;
};

// A JSON number that is a non-negative integer fitting in int64 (shape sizes, offsets).
bool as_size(const json& v, std::uint64_t& out) {
    if (!v.is_number_unsigned()) return false;  // negative numbers are number_integer, 2.0 is number_float
    out = v.get<std::uint64_t>();
    return out <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
}

Entry parse_entry(const std::string& file, const std::string& name, const json& v, std::uint64_t data_len) {
    if (!v.is_object())
        fail<Error>("{}: tensor '{}': the header entry must be an object with dtype, shape and data_offsets, got {}",
                    file, name, excerpt(v));
    Entry e{.name = name, .dtype = DType::Float32, .shape = {}, .begin = 0, .end = 0};

    const auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string())
        fail<Error>("{}: tensor '{}': missing or non-string \"dtype\"", file, name);
    if (!parse_dtype(dt->get<std::string>(), e.dtype))
        fail<Error>("{}: unsupported dtype {} for tensor '{}' (seqgrad reads F32, F64 and I64)", file,
                    dt->get<std::string>(), name);

    const auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array())
        fail<Error>("{}: tensor '{}': \"shape\" must be a list of non-negative integers, got {}", file, name,
                    sh == v.end() ? std::string("nothing") : excerpt(*sh));
    // numel = product of the sizes; any zero size makes it 0 whatever the others are, so the
    // overflow check only applies when every size is positive.
    std::uint64_t numel = 1;
    bool overflow = false, has_zero = false;
    e.shape.reserve(sh->size());
    for (const json& d : *sh) {
        std::uint64_t s = 0;
        if (!as_size(d, s))
            fail<Error>("{}: tensor '{}': \"shape\" must be a list of non-negative integers, got {}", file, name,
                        excerpt(*sh));
        e.shape.push_back(static_cast<std::int64_t>(s));
        if (s == 0) has_zero = true;
        else if (__builtin_mul_overflow(numel, s, &numel)) overflow = true;
    }
    std::uint64_t nbytes = 0;
    if (!has_zero && (overflow || numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
                      __builtin_mul_overflow(numel, dtype_size(e.dtype), &nbytes)))
        fail<Error>("{}: tensor '{}': shape {} is too large (its size in bytes overflows 64 bits)", file, name,
                    short_shape(e.shape));

    const auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !as_size((*off)[0], e.begin) ||
        !as_size((*off)[1], e.end) || e.begin > e.end)
        fail<Error>("{}: tensor '{}': \"data_offsets\" must be [begin, end] with 0 <= begin <= end, got {}", file,
                    name, off == v.end() ? std::string("nothing") : excerpt(*off));
    if (e.end > data_len)
        fail<Error>("{}: tensor '{}': data_offsets [{}, {}] go past the end of the data section ({} bytes); the file "
                    "is truncated",
                    file, name, e.begin, e.end, data_len);
    if (e.end - e.begin != nbytes)
        fail<Error>("{}: tensor '{}': data_offsets [{}, {}] hold {} bytes but shape {} of {} needs {}", file, name,
                    e.begin, e.end, e.end - e.begin, short_shape(e.shape), safetensors_dtype(e.dtype), nbytes);
    return e;
}

// "1" -> 1; anything but a plain decimal number -> -1.
long long parse_version(const std::string& s) {
    if (s.empty() || s.size() > 9) return -1;
    long long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// ---- writing ------------------------------------------------------------------------------------

// A temporary file next to the target that is removed unless commit() renamed it into place.
std::size_t tensor_bytes(const Tensor& t) { return static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()); }

}  // namespace

// ---- parse --------------------------------------------------------------------------------------

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& file) {
    const std::uint64_t size = bytes.size();
    if (size < 8)
        fail<Error>("{}: file is too short ({} bytes) to be a safetensors file: it must start with an 8-byte header "
                    "length",
                    file, size);
    std::uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
    if (header_len > size - 8)
        fail<Error>("{}: header length {} is larger than the file ({} bytes); the file is truncated or not a "
                    "safetensors file",
                    file, header_len, size);
    const std::string_view header_text = bytes.substr(8, header_len);
    const std::string_view data = bytes.substr(8 + header_len);

    json header;
    try {
        header = json::parse(header_text.begin(), header_text.end());
    } catch (const json::exception& e) {
        // "[json.exception.parse_error.101] parse error at ..." -> "parse error at ..."
        std::string what = e.what();
        if (const auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos)
            what = what.substr(p + 2);
        fail<Error>("{}: invalid JSON header: {}", file, what);
    }
    if (!header.is_object()) fail<Error>("{}: the header is not a JSON object (got {})", file, excerpt(header));

    SafetensorsFile out;
    if (const auto m = header.find(kMetadataKey); m != header.end()) {
        if (!m->is_object()) fail<Error>("{}: \"__metadata__\" must be an object of strings, got {}", file, excerpt(*m));
        for (const auto& [k, v] : m->items()) {
            if (!v.is_string())
                fail<Error>("{}: \"__metadata__\" must map strings to strings, but '{}' is {}", file, k, excerpt(v));
            out.metadata[k] = v.get<std::string>();
        }
    }

    // Our own keys: a newer layout may mean anything, so the version is checked before the rest.
    const auto meta = [&](const char* key) -> const std::string* {
        const auto it = out.metadata.find(key);
        return it == out.metadata.end() ? nullptr : &it->second;
    };
    const bool ours = meta("format") && *meta("format") == "seqgrad";
    if (ours) {
        const std::string* version = meta("format_version");
        if (!version) fail<Error>("{}: the metadata says format seqgrad but has no format_version", file);
        const long long v = parse_version(*version);
        if (v < 1) fail<Error>("{}: invalid format_version '{}' (expected a positive integer)", file, *version);
        if (v > kSafetensorsFormatVersion)
            fail<Error>("{}: written by a newer seqgrad (format_version {}); this build reads version {}", file, v,
                        kSafetensorsFormatVersion);
        if (!meta("checksum")) fail<Error>("{}: the metadata says format seqgrad but has no checksum", file);
    }

    std::vector<Entry> entries;
    entries.reserve(header.size());
    for (const auto& [name, v] : header.items()) {
        if (name == kMetadataKey) continue;
        entries.push_back(parse_entry(file, name, v, data.size()));
    }

    // The entries must tile [0, data.size()) exactly: sorted by offset, each starts where the last ended.
    std::vector<const Entry*> order;
    order.reserve(entries.size());
    for (const Entry& e : entries) order.push_back(&e);
    std::sort(order.begin(), order.end(),
              [](const Entry* a, const Entry* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
    std::uint64_t at = 0;
    const Entry* prev = nullptr;
    for (const Entry* e : order) {
        if (e->begin < at)
            fail<Error>("{}: tensors '{}' (data_offsets [{}, {}]) and '{}' (data_offsets [{}, {}]) overlap", file,
                        prev->name, prev->begin, prev->end, e->name, e->begin, e->end);
        if (e->begin > at)
            fail<Error>("{}: bytes [{}, {}) of the data section belong to no tensor (a gap before tensor '{}')", file,
                        at, e->begin, e->name);
        at = e->end;
        prev = e;
    }
    if (at < data.size())
        fail<Error>("{}: {} bytes of trailing data after the last tensor (the data section is {} bytes, the tensors "
                    "use {})",
                    file, data.size() - at, data.size(), at);

    if (ours) {
        const std::string expected = lower(*meta("checksum"));
        const std::string actual = crc32c_hex(crc32c(data.data(), data.size()));
        if (expected != actual)
            fail<Error>("{}: corrupted: checksum mismatch (the header says {}, the data hashes to {})", file,
                        excerpt(json(*meta("checksum"))), actual);
    }

    for (const Entry& e : entries) {
        Tensor t = Tensor::empty(e.shape, e.dtype);
        if (e.end > e.begin) std::memcpy(t.raw_data(), data.data() + e.begin, e.end - e.begin);
        out.tensors.emplace(e.name, std::move(t));
    }
    return out;
}

// ---- load ---------------------------------------------------------------------------------------

SafetensorsFile load_safetensors(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail<Error>("{}: cannot open: {}", path, errno_text(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail<Error>("{}: cannot stat: {}", path, errno_text(errno));
    if (S_ISDIR(st.st_mode)) fail<Error>("{}: is a directory, not a safetensors file", path);

    std::string bytes;
    if (S_ISREG(st.st_mode)) bytes.reserve(static_cast<std::size_t>(st.st_size));
    char buf[1 << 16];
    for (;;) {
        const ssize_t k = ::read(fd, buf, sizeof buf);
        if (k < 0) {
            if (errno == EINTR) continue;
            fail<Error>("{}: read failed: {}", path, errno_text(errno));
        }
        if (k == 0) break;
        bytes.append(buf, static_cast<std::size_t>(k));
    }
    return parse_safetensors(bytes, path);
}

// ---- save ---------------------------------------------------------------------------------------

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    // Build the header, and check everything that can be checked, before touching the disk.
    json header = json::object();
    std::uint64_t offset = 0;
    std::uint32_t crc = 0;
    for (const auto& [name, t] : tensors) {
        if (name == kMetadataKey)
            fail<Error>("{}: cannot save a tensor named \"__metadata__\": the name is reserved by the format", path);
        if (!t.defined()) fail<Error>("{}: cannot save tensor '{}': it is undefined", path, name);
        const std::size_t n = tensor_bytes(t);
        header[name] = json{{"dtype", safetensors_dtype(t.dtype())},
                            {"shape", t.shape()},
                            {"data_offsets", json::array({offset, offset + n})}};
        if (n > 0) crc = crc32c(t.raw_data(), n, crc);
        offset += n;
    }
    json meta = json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    meta["format"] = "seqgrad";
    meta["format_version"] = std::to_string(kSafetensorsFormatVersion);
    meta["checksum"] = crc32c_hex(crc);
    header[kMetadataKey] = std::move(meta);

    std::string text;
    try {
        text = header.dump();
    } catch (const json::exception&) {
        fail<Error>("{}: a tensor name or metadata entry is not valid UTF-8", path);
    }
    text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(text.size()) >> (8 * i));

    AtomicFile file(path);
    file.write(len, sizeof len);
    file.write(text.data(), text.size());
    for (const auto& [name, t] : tensors)
        if (const std::size_t n = tensor_bytes(t); n > 0) file.write(t.raw_data(), n);
    file.commit();
}

// ---- load_into ----------------------------------------------------------------------------------

void load_into(const SafetensorsFile& f, std::map<std::string, Tensor>& targets, const std::string& file_name) {
    std::vector<std::string> missing, unexpected, mismatched;
    for (const auto& [name, target] : targets) {
        const auto it = f.tensors.find(name);
        if (!target.defined()) {
            mismatched.push_back(fmt::format("the model's tensor '{}' is undefined", name));
        } else if (it == f.tensors.end()) {
            missing.push_back("'" + name + "'");
        } else if (it->second.shape() != target.shape()) {
            mismatched.push_back(fmt::format("tensor '{}' has shape {} in the file but {} in the model", name,
                                             shape_str(it->second.shape()), shape_str(target.shape())));
        } else if (it->second.dtype() != target.dtype()) {
            mismatched.push_back(fmt::format("tensor '{}' has dtype {} in the file but {} in the model", name,
                                             dtype_name(it->second.dtype()), dtype_name(target.dtype())));
        }
    }
    for (const auto& [name, t] : f.tensors)
        if (!targets.count(name)) unexpected.push_back("'" + name + "'");

    std::vector<std::string> problems = mismatched;
    if (!missing.empty())
        problems.push_back(fmt::format("missing from the file: {}", fmt::join(missing, ", ")));
    if (!unexpected.empty())
        problems.push_back(fmt::format("in the file but not in the model: {}", fmt::join(unexpected, ", ")));
    if (!problems.empty()) fail<Error>("{}: {}", file_name, fmt::join(problems, "; "));

    for (auto& [name, target] : targets) target.copy_(f.tensors.at(name));
}

}  // namespace seqgrad

// safetensors files (core/safetensors.h) and CRC-32C (core/checksum.h): round trips of every dtype,
// the byte layout checked by hand against the format, files from other writers, every validation
// error on hand-corrupted files, robustness against truncation and random corruption, atomic saving
// (a failed save never touches an existing file nor leaves a temporary behind) and load_into.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/checksum.h"
#include "core/safetensors.h"
#include "helpers.h"

using namespace seqgrad;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
using seqgrad::testing::TempDir;

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::string le64(std::uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    return s;
}

std::uint64_t read_le64(const std::string& s) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
}

// A file assembled by hand: length prefix, the header text as given, the data bytes.
std::string st_bytes(const std::string& header, const std::string& data = "") { return le64(header.size()) + header + data; }

std::string raw(const Tensor& t) {
    return {static_cast<const char*>(t.raw_data()), static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype())};
}

// Same shape, dtype and bit pattern (so NaN and -0.0 count as equal to themselves).
void require_identical(const Tensor& a, const Tensor& b) {
    REQUIRE(a.defined());
    REQUIRE(b.defined());
    REQUIRE(a.shape() == b.shape());
    REQUIRE(a.dtype() == b.dtype());
    REQUIRE(raw(a) == raw(b));
}

SafetensorsFile parse(const std::string& bytes) { return parse_safetensors(bytes, "test.safetensors"); }

// A small valid seqgrad file (three tensors of different dtypes) as bytes.
std::string sample_file_bytes(const TempDir& dir) {
    const std::string path = dir.file("sample.safetensors");
    save_safetensors(path,
                     {{"a", Tensor::from({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3})},
                      {"b", Tensor::from({0.5, -0.25}, {2}, {.dtype = DType::Float64})},
                      {"c", Tensor::ids({7, -8, 9}, {3})}},
                     {{"note", "sample"}});
    return read_bytes(path);
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
    const auto p = s.find(from);
    REQUIRE(p != std::string::npos);
    return s.replace(p, from.size(), to);
}

// The file with one piece of its header text replaced, the length prefix fixed up to match.
std::string edit_header(const std::string& file, const std::string& from, const std::string& to) {
    const std::uint64_t n = read_le64(file);
    return st_bytes(replace_once(file.substr(8, n), from, to), file.substr(8 + n));
}

}  // namespace

// ---- checksum -----------------------------------------------------------------------------------

TEST_CASE("crc32c: published check values", "[safetensors][checksum]") {
    // The CRC catalogue's check value and the RFC 3720 (iSCSI) appendix B.4 vectors.
    CHECK(crc32c("123456789", 9) == 0xe3069283u);
    CHECK(crc32c(nullptr, 0) == 0u);
    std::string zeros(32, '\0'), ones(32, '\xff'), inc(32, '\0'), dec(32, '\0');
    for (int i = 0; i < 32; ++i) {
        inc[i] = static_cast<char>(i);
        dec[i] = static_cast<char>(31 - i);
    }
    CHECK(crc32c(zeros.data(), 32) == 0x8a9136aau);
    CHECK(crc32c(ones.data(), 32) == 0x62a8ab43u);
    CHECK(crc32c(inc.data(), 32) == 0x46dd794eu);
    CHECK(crc32c(dec.data(), 32) == 0x113fdb5cu);
    CHECK(crc32c_hex(0xe3069283u) == "e3069283");
    CHECK(crc32c_hex(0x0000abcdu) == "0000abcd");
}

TEST_CASE("crc32c: incremental equals one pass, for every split and odd lengths", "[safetensors][checksum]") {
    std::string s(203, '\0');
    std::mt19937 rng(5);
    for (char& c : s) c = static_cast<char>(rng());
    // The bytewise definition, as a reference for the slicing-by-8 implementation.
    auto reference = [](const std::string& b) {
        std::uint32_t c = 0xffffffffu;
        for (unsigned char x : b) {
            c ^= x;
            for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        }
        return ~c;
    };
    const std::uint32_t whole = crc32c(s.data(), s.size());
    CHECK(whole == reference(s));
    for (std::size_t cut = 0; cut <= s.size(); cut += 7) {
        INFO("cut at " << cut);
        CHECK(crc32c(s.data() + cut, s.size() - cut, crc32c(s.data(), cut)) == whole);
        CHECK(crc32c(s.data(), cut) == reference(s.substr(0, cut)));
    }
}

// ---- round trips --------------------------------------------------------------------------------

TEST_CASE("safetensors: round trip of every dtype, 0-d and empty tensors", "[safetensors]") {
    TempDir dir;
    Generator gen(42);
    std::map<std::string, Tensor> tensors;
    tensors["f32"] = randn({3, 4, 5}, {}, &gen);
    tensors["f64"] = randn({7, 2}, {.dtype = DType::Float64}, &gen);
    tensors["i64"] = Tensor::ids({0, -1, 1, std::numeric_limits<std::int64_t>::min(),
                                  std::numeric_limits<std::int64_t>::max(), 1234567890123LL},
                                 {2, 3});
    tensors["scalar_f32"] = Tensor::scalar(-2.5);
    tensors["scalar_f64"] = Tensor::scalar(1e-300, DType::Float64);
    tensors["scalar_i64"] = Tensor::ids({-42}, {});
    tensors["empty"] = zeros({0});
    tensors["empty_middle"] = zeros({3, 0, 2}, {.dtype = DType::Float64});
    tensors["empty_i64"] = Tensor::ids({}, {0, 4});
    // Special values survive bit for bit.
    Tensor special = Tensor::empty({5}, DType::Float32);
    float* p = special.data<float>();
    p[0] = std::numeric_limits<float>::quiet_NaN();
    p[1] = std::numeric_limits<float>::infinity();
    p[2] = -std::numeric_limits<float>::infinity();
    p[3] = -0.0f;
    p[4] = std::numeric_limits<float>::denorm_min();
    tensors["special"] = special;

    const std::string path = dir.file("all.safetensors");
    save_safetensors(path, tensors);
    const SafetensorsFile f = load_safetensors(path);
    REQUIRE(f.tensors.size() == tensors.size());
    for (const auto& [name, t] : tensors) {
        INFO("tensor " << name);
        REQUIRE(f.tensors.count(name) == 1);
        require_identical(f.tensors.at(name), t);
        // The loaded tensor owns fresh memory, it is not the saved one.
        CHECK(f.tensors.at(name).raw_data() != t.raw_data());
    }
    CHECK(f.tensors.at("scalar_i64").dim() == 0);
    CHECK(f.tensors.at("scalar_i64").item() == -42);
    CHECK(f.tensors.at("empty_middle").shape() == Shape{3, 0, 2});
    CHECK_FALSE(f.tensors.at("f32").requires_grad());
}

TEST_CASE("safetensors: many tensors and an empty map round trip", "[safetensors]") {
    TempDir dir;
    std::map<std::string, Tensor> tensors;
    for (int i = 0; i < 300; ++i) {
        const DType dt = i % 3 == 0 ? DType::Float32 : i % 3 == 1 ? DType::Float64 : DType::Int64;
        Tensor t = arange(i % 17, {.dtype = dt});
        tensors[fmt::format("layer{}.weight", i)] = t;
    }
    const std::string path = dir.file("many.safetensors");
    save_safetensors(path, tensors);
    const SafetensorsFile f = load_safetensors(path);
    REQUIRE(f.tensors.size() == 300);
    for (const auto& [name, t] : tensors) require_identical(f.tensors.at(name), t);

    save_safetensors(dir.file("none.safetensors"), {});
    const SafetensorsFile none = load_safetensors(dir.file("none.safetensors"));
    CHECK(none.tensors.empty());
    CHECK(none.metadata.at("format") == "seqgrad");
}

TEST_CASE("safetensors: metadata round trip - our keys are always written", "[safetensors]") {
    TempDir dir;
    const std::string path = dir.file("meta.safetensors");
    const std::map<std::string, std::string> meta = {
        {"step", "1200"}, {"note", "quotes \" and \\ and\nnewlines"}, {"unicode", "Grüße, 日本"}, {"empty", ""}};
    save_safetensors(path, {{"w", ones({2})}}, meta);
    const SafetensorsFile f = load_safetensors(path);
    for (const auto& [k, v] : meta) CHECK(f.metadata.at(k) == v);
    CHECK(f.metadata.at("format") == "seqgrad");
    CHECK(f.metadata.at("format_version") == "1");
    CHECK(f.metadata.at("checksum").size() == 8);
    CHECK(f.metadata.size() == meta.size() + 3);

    // The reserved keys cannot be forged from the caller's metadata: seqgrad's values win.
    save_safetensors(path, {{"w", ones({2})}}, {{"format", "pt"}, {"format_version", "9"}, {"checksum", "0"}});
    const SafetensorsFile g = load_safetensors(path);
    CHECK(g.metadata.at("format") == "seqgrad");
    CHECK(g.metadata.at("format_version") == "1");
    CHECK(g.metadata.at("checksum") != "0");
}

// ---- the byte layout ----------------------------------------------------------------------------

TEST_CASE("safetensors: the file's bytes follow the format", "[safetensors]") {
    TempDir dir;
    const std::string path = dir.file("layout.safetensors");
    // Saved in name order: "a" (F32, 2 values = 8 bytes), "b" (I64 0-d = 8 bytes), "c" (F64 [1, 2] = 16 bytes).
    save_safetensors(path,
                     {{"c", Tensor::from({0.5, -2.0}, {1, 2}, {.dtype = DType::Float64})},
                      {"a", Tensor::from({1.5, -1.0}, {2})},
                      {"b", Tensor::ids({258}, {})},
                      {"z_empty", zeros({0, 3})}},
                     {{"k", "v"}});
    const std::string bytes = read_bytes(path);
    REQUIRE(bytes.size() >= 8);
    const std::uint64_t n = read_le64(bytes);
    REQUIRE(8 + n <= bytes.size());
    CHECK((8 + n) % 8 == 0);  // the data section starts 8-byte aligned
    const std::string header = bytes.substr(8, n);
    CHECK(header.front() == '{');
    // Only spaces may follow the closing brace.
    const auto close = header.find_last_of('}');
    CHECK(header.find_first_not_of(' ', close + 1) == std::string::npos);
    CHECK(n - (close + 1) < 8);

    const json h = json::parse(header);
    REQUIRE(h.is_object());
    CHECK(h.size() == 5);
    CHECK(h["a"]["dtype"] == "F32");
    CHECK(h["a"]["shape"] == json::array({2}));
    CHECK(h["a"]["data_offsets"] == json::array({0, 8}));
    CHECK(h["b"]["dtype"] == "I64");
    CHECK(h["b"]["shape"] == json::array());
    CHECK(h["b"]["data_offsets"] == json::array({8, 16}));
    CHECK(h["c"]["dtype"] == "F64");
    CHECK(h["c"]["shape"] == json::array({1, 2}));
    CHECK(h["c"]["data_offsets"] == json::array({16, 32}));
    CHECK(h["z_empty"]["shape"] == json::array({0, 3}));
    CHECK(h["z_empty"]["data_offsets"] == json::array({32, 32}));
    CHECK(h["__metadata__"]["k"] == "v");
    CHECK(h["__metadata__"]["format"] == "seqgrad");
    CHECK(h["__metadata__"]["format_version"] == "1");

    const std::string data = bytes.substr(8 + n);
    REQUIRE(data.size() == 32);  // no trailing bytes
    // Little-endian IEEE and two's complement, written out by hand.
    CHECK(data.substr(0, 4) == std::string("\x00\x00\xc0\x3f", 4));           // 1.5f
    CHECK(data.substr(4, 4) == std::string("\x00\x00\x80\xbf", 4));           // -1.0f
    CHECK(data.substr(8, 8) == std::string("\x02\x01\0\0\0\0\0\0", 8));       // 258
    CHECK(data.substr(16, 8) == std::string("\0\0\0\0\0\0\xe0\x3f", 8));      // 0.5
    CHECK(data.substr(24, 8) == std::string("\0\0\0\0\0\0\x00\xc0", 8));      // -2.0
    CHECK(h["__metadata__"]["checksum"] == crc32c_hex(crc32c(data.data(), data.size())));
}

TEST_CASE("safetensors: reads files from other writers (no seqgrad metadata, any key order)", "[safetensors]") {
    // As numpy/PyTorch writers produce them: "format": "pt", no checksum, tensors stored in a different
    // order than their names, padding spaces, extra keys in an entry.
    std::string data;
    const float fv[2] = {3.0f, -4.0f};
    const std::int64_t iv[3] = {1, -2, 3};
    data.append(reinterpret_cast<const char*>(iv), sizeof iv);  // "b" first
    data.append(reinterpret_cast<const char*>(fv), sizeof fv);  // then "a"
    const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},)"
                               R"("__metadata__":{"format":"pt"},)"
                               R"("b":{"dtype":"I64","shape":[3,1],"data_offsets":[0,24],"extra":1}}      )";
    const SafetensorsFile f = parse(st_bytes(header, data));
    CHECK(f.tensors.at("a").to_vector() == std::vector<double>{3.0, -4.0});
    CHECK(f.tensors.at("a").dtype() == DType::Float32);
    CHECK(f.tensors.at("b").to_ids() == std::vector<std::int64_t>{1, -2, 3});
    CHECK(f.tensors.at("b").shape() == Shape{3, 1});
    CHECK(f.metadata == std::map<std::string, std::string>{{"format", "pt"}});

    // No metadata at all, and a file with no tensors.
    CHECK(parse(st_bytes(R"({"x":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})", std::string(8, '\0')))
              .tensors.at("x")
              .item() == 0.0);
    CHECK(parse(st_bytes("{}")).tensors.empty());
}

// ---- errors -------------------------------------------------------------------------------------

TEST_CASE("safetensors: errors for missing, short and oversized files", "[safetensors][errors]") {
    TempDir dir;
    const std::string missing = dir.file("nope.safetensors");
    CHECK_THROWS_AS(load_safetensors(missing), Error);
    CHECK_THROWS_WITH(load_safetensors(missing), Catch::Contains(missing) && Catch::Contains("cannot open") &&
                                                     Catch::Contains("No such file"));
    CHECK_THROWS_WITH(load_safetensors(dir.path.string()), Catch::Contains("is a directory"));

    const std::string short_file = dir.file("short.safetensors");
    write_bytes(short_file, "abc");
    CHECK_THROWS_AS(load_safetensors(short_file), Error);
    CHECK_THROWS_WITH(load_safetensors(short_file), Catch::Contains(short_file) && Catch::Contains("too short") &&
                                                        Catch::Contains("3 bytes"));
    CHECK_THROWS_WITH(parse(""), Catch::Contains("too short"));

    // Header length far larger than the file, and one byte larger than what is there.
    CHECK_THROWS_WITH(parse(le64(~0ull) + "{}"),
                      Catch::Contains("header length 18446744073709551615 is larger than the file (10 bytes)"));
    CHECK_THROWS_WITH(parse(le64(1ull << 62) + "{}"), Catch::Contains("larger than the file"));
    CHECK_THROWS_WITH(parse(le64(3) + "{}"), Catch::Contains("header length 3 is larger than the file"));
}

TEST_CASE("safetensors: errors for bad headers", "[safetensors][errors]") {
    CHECK_THROWS_AS(parse(st_bytes("{\"a\":")), Error);
    CHECK_THROWS_WITH(parse(st_bytes("{\"a\":")), Catch::StartsWith("test.safetensors: invalid JSON header:"));
    CHECK_THROWS_WITH(parse(st_bytes("")), Catch::Contains("invalid JSON header"));
    CHECK_THROWS_WITH(parse(st_bytes("{} x")), Catch::Contains("invalid JSON header"));
    CHECK_THROWS_WITH(parse(st_bytes("{\"\xff\":1}")), Catch::Contains("invalid JSON header"));  // not UTF-8
    CHECK_THROWS_WITH(parse(st_bytes("[1, 2]")), Catch::Contains("header is not a JSON object"));
    CHECK_THROWS_WITH(parse(st_bytes("\"text\"")), Catch::Contains("header is not a JSON object"));
    CHECK_THROWS_WITH(parse(st_bytes(R"({"__metadata__":[1]})")), Catch::Contains("__metadata__"));
    CHECK_THROWS_WITH(parse(st_bytes(R"({"__metadata__":{"step":12}})")),
                      Catch::Contains("\"__metadata__\" must map strings to strings, but 'step' is 12"));
    CHECK_THROWS_WITH(parse(st_bytes(R"({"x":[1,2]})")), Catch::Contains("tensor 'x'") && Catch::Contains("object"));
    CHECK_THROWS_WITH(parse(st_bytes(R"({"x":{"shape":[],"data_offsets":[0,4]}})", "abcd")),
                      Catch::Contains("tensor 'x': missing or non-string \"dtype\""));
    CHECK_THROWS_WITH(parse(st_bytes(R"({"x":{"dtype":"F32","data_offsets":[0,4]}})", "abcd")),
                      Catch::Contains("tensor 'x': \"shape\" must be a list"));
    CHECK_THROWS_WITH(parse(st_bytes(R"({"x":{"dtype":"F32","shape":[1]}})", "abcd")),
                      Catch::Contains("tensor 'x': \"data_offsets\" must be [begin, end]"));
}

TEST_CASE("safetensors: errors for bad dtypes, shapes and offsets", "[safetensors][errors]") {
    auto one = [](const std::string& entry, const std::string& data) {
        return parse(st_bytes(R"({"x":)" + entry + "}", data));
    };
    const std::string four(4, '\0');
    CHECK_THROWS_WITH(one(R"({"dtype":"BF16","shape":[2],"data_offsets":[0,4]})", four),
                      Catch::Contains("test.safetensors: unsupported dtype BF16 for tensor 'x'"));
    CHECK_THROWS_WITH(one(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})", four),
                      Catch::Contains("unsupported dtype f32 for tensor 'x'"));
    CHECK_THROWS_WITH(one(R"({"dtype":7,"shape":[1],"data_offsets":[0,4]})", four), Catch::Contains("dtype"));

    for (const char* bad : {R"([-1])", R"([1.0])", R"([1.5])", R"(["1"])", R"(3)", R"([[1]])", R"([null])",
                            R"([9223372036854775808])"}) {
        INFO("shape " << bad);
        CHECK_THROWS_WITH(one(fmt::format(R"({{"dtype":"F32","shape":{},"data_offsets":[0,4]}})", bad), four),
                          Catch::Contains("tensor 'x': \"shape\" must be a list of non-negative integers"));
    }
    // The product of the sizes overflows: rejected before anything is allocated.
    CHECK_THROWS_WITH(one(R"({"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,4]})",
                          four),
                      Catch::Contains("tensor 'x': shape [1099511627776, 1099511627776, 1099511627776] is too large"));
    CHECK_THROWS_WITH(one(R"({"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]})", four),
                      Catch::Contains("too large"));
    // A hostile shape of 100000 sizes gives a short message, not a 300 KB one.
    std::string ones_list = "[2";
    for (int i = 0; i < 100000; ++i) ones_list += ",1";
    try {
        one(fmt::format(R"({{"dtype":"F32","shape":{}],"data_offsets":[0,4]}})", ones_list), four);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("hold 4 bytes but shape [2, 1, 1, 1, 1, 1, 1, 1, ... (100001 sizes)] of F32 needs 8"));
        CHECK(std::strlen(e.what()) < 200);
    }
    // A zero size makes any other size harmless (and such a tensor holds no bytes).
    CHECK(one(R"({"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]})", "").tensors.at("x").numel() ==
          0);

    CHECK_THROWS_WITH(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", four),
                      Catch::Contains("tensor 'x': data_offsets [0, 4] hold 4 bytes but shape [2] of F32 needs 8"));
    CHECK_THROWS_WITH(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})", four),
                      Catch::Contains("0 <= begin <= end"));
    CHECK_THROWS_WITH(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", four), Catch::Contains("data_offsets"));
    CHECK_THROWS_WITH(one(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", four),
                      Catch::Contains("data_offsets"));
    CHECK_THROWS_WITH(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})", four),
                      Catch::Contains("tensor 'x': data_offsets [0, 8] go past the end of the data section (4 bytes)") &&
                          Catch::Contains("truncated"));
    CHECK_THROWS_WITH(one(R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551616]})",
                          four),
                      Catch::Contains("data_offsets"));
}

TEST_CASE("safetensors: errors for overlapping, gapped and trailing data", "[safetensors][errors]") {
    const std::string data(16, '\0');
    CHECK_THROWS_WITH(parse(st_bytes(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F64","shape":[1],"data_offsets":[4,12]}})",
                                     data.substr(0, 12))),
                      Catch::Contains("tensors 'a' (data_offsets [0, 8]) and 'b' (data_offsets [4, 12]) overlap"));
    // Two tensors on the same bytes (what tied weights would look like) are rejected too.
    CHECK_THROWS_WITH(parse(st_bytes(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})",
                                     data.substr(0, 8))),
                      Catch::Contains("overlap"));
    CHECK_THROWS_WITH(parse(st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                     data.substr(0, 12))),
                      Catch::Contains("bytes [4, 8) of the data section belong to no tensor") &&
                          Catch::Contains("'b'"));
    CHECK_THROWS_WITH(parse(st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data.substr(0, 8))),
                      Catch::Contains("bytes [0, 4)"));
    CHECK_THROWS_WITH(parse(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data)),
                      Catch::Contains("8 bytes of trailing data after the last tensor"));
    CHECK_THROWS_WITH(parse(st_bytes("{}", "x")), Catch::Contains("1 bytes of trailing data"));
}

TEST_CASE("safetensors: corrupted, truncated and newer files", "[safetensors][errors]") {
    TempDir dir;
    const std::string good = sample_file_bytes(dir);
    REQUIRE_NOTHROW(parse(good));
    const std::uint64_t n = read_le64(good);
    const std::size_t data_start = 8 + n;
    const std::string path = dir.file("bad.safetensors");

    SECTION("a flipped bit in the data fails the checksum") {
        for (std::size_t at : {data_start, data_start + 13, good.size() - 1}) {
            std::string bad = good;
            bad[at] = static_cast<char>(bad[at] ^ 0x10);
            write_bytes(path, bad);
            CHECK_THROWS_AS(load_safetensors(path), Error);
            CHECK_THROWS_WITH(load_safetensors(path),
                              Catch::StartsWith(path + ": corrupted: checksum mismatch") &&
                                  Catch::Contains(json::parse(good.substr(8, n))["__metadata__"]["checksum"].get<std::string>()));
        }
        // Upper-case hex digits in the header are accepted.
        std::string upper = good;
        const std::string crc = json::parse(good.substr(8, n))["__metadata__"]["checksum"];
        std::string crc_upper = crc;
        for (char& c : crc_upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (crc_upper != crc) CHECK_NOTHROW(parse(edit_header(upper, crc, crc_upper)));
    }
    SECTION("a truncated file names the problem") {
        write_bytes(path, good.substr(0, good.size() - 3));
        CHECK_THROWS_WITH(load_safetensors(path), Catch::StartsWith(path + ":") && Catch::Contains("truncated"));
        write_bytes(path, good.substr(0, 8 + n / 2));
        CHECK_THROWS_WITH(load_safetensors(path), Catch::Contains("truncated"));
        // Every prefix of the file is rejected with a seqgrad::Error.
        for (std::size_t len = 0; len < good.size(); ++len) {
            INFO("prefix of " << len << " bytes");
            CHECK_THROWS_AS(parse(good.substr(0, len)), Error);
        }
    }
    SECTION("trailing garbage after a good file") {
        CHECK_THROWS_WITH(parse(good + "garbage!"), Catch::Contains("8 bytes of trailing data"));
    }
    SECTION("a newer format_version") {
        const std::string newer = edit_header(good, R"("format_version":"1")", R"("format_version":"2")");
        write_bytes(path, newer);
        CHECK_THROWS_AS(load_safetensors(path), Error);
        CHECK_THROWS_WITH(load_safetensors(path),
                          Catch::Equals(path + ": written by a newer seqgrad (format_version 2); this build reads version 1"));
        CHECK_THROWS_WITH(parse(edit_header(good, R"("format_version":"1")", R"("format_version":"x")")),
                          Catch::Contains("invalid format_version 'x'"));
        CHECK_THROWS_WITH(parse(edit_header(good, R"("format_version":"1")", R"("format_versioX":"1")")),
                          Catch::Contains("has no format_version"));
    }
    SECTION("our checksum key removed") {
        CHECK_THROWS_WITH(parse(edit_header(good, R"("checksum":)", R"("checksuX":)")),
                          Catch::Contains("has no checksum"));
    }
    SECTION("a bad dtype edited into the header") {
        CHECK_THROWS_WITH(parse(edit_header(good, R"("dtype":"F64")", R"("dtype":"U64")")),
                          Catch::Contains("unsupported dtype U64 for tensor 'b'"));
    }
    SECTION("a bad shape edited into the header") {
        CHECK_THROWS_WITH(parse(edit_header(good, R"("shape":[2,3])", R"("shape":[2,-3])")),
                          Catch::Contains("tensor 'a': \"shape\" must be a list of non-negative integers"));
        CHECK_THROWS_WITH(parse(edit_header(good, R"("shape":[2,3])", R"("shape":[3,3])")),
                          Catch::Contains("tensor 'a': data_offsets [0, 24] hold 24 bytes but shape [3, 3] of F32 needs 36"));
    }
    SECTION("overlapping offsets edited into the header") {
        // b holds F64 [2] = 16 bytes at [24, 40]; moving it to [16, 32] makes it overlap a ([0, 24]).
        CHECK_THROWS_WITH(parse(edit_header(good, R"("data_offsets":[24,40])", R"("data_offsets":[16,32])")),
                          Catch::Contains("tensors 'a' (data_offsets [0, 24]) and 'b' (data_offsets [16, 32]) overlap"));
    }
}

TEST_CASE("safetensors: random corruption never crashes, only throws seqgrad::Error", "[safetensors][errors]") {
    TempDir dir;
    const std::string good = sample_file_bytes(dir);
    const std::uint64_t n = read_le64(good);
    std::mt19937_64 rng(2024);
    int rejected = 0, accepted = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::string bad = good;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            // Mostly the header (where structure lives), sometimes the length prefix.
            const std::size_t at = rng() % 4 == 0 ? rng() % 8 : 8 + rng() % n;
            bad[at] = static_cast<char>(rng());
        }
        try {
            parse(bad);
            ++accepted;  // e.g. a byte of padding or a metadata value changed harmlessly
        } catch (const Error&) {
            ++rejected;
        } catch (const std::exception& ex) {
            FAIL("unexpected exception type: " << ex.what());
        }
    }
    CHECK(rejected > 2500);
    CHECK(accepted + rejected == 3000);
}

// ---- atomic saving ------------------------------------------------------------------------------

TEST_CASE("safetensors: saving into a missing directory throws and creates nothing", "[safetensors][atomic]") {
    TempDir dir;
    const std::string path = dir.file("no_such_dir/model.safetensors");
    CHECK_THROWS_AS(save_safetensors(path, {{"w", ones({2})}}), Error);
    CHECK_THROWS_WITH(save_safetensors(path, {{"w", ones({2})}}),
                      Catch::Contains(path) && Catch::Contains("No such file or directory"));
    CHECK_FALSE(fs::exists(dir.path / "no_such_dir"));
    CHECK(dir.listing().empty());
}

TEST_CASE("safetensors: a failed save leaves the existing file byte for byte intact", "[safetensors][atomic]") {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    save_safetensors(path, {{"w", Tensor::from({1, 2, 3}, {3})}}, {{"step", "1"}});
    const std::string before = read_bytes(path);

    SECTION("an undefined tensor") {
        CHECK_THROWS_WITH(save_safetensors(path, {{"a", ones({100})}, {"w", Tensor()}}),
                          Catch::Contains(path) && Catch::Contains("tensor 'w'") && Catch::Contains("undefined"));
    }
    SECTION("a tensor named __metadata__") {
        CHECK_THROWS_WITH(save_safetensors(path, {{"__metadata__", ones({1})}}), Catch::Contains("reserved"));
    }
    SECTION("a name that is not UTF-8") {
        CHECK_THROWS_WITH(save_safetensors(path, {{"w\xff", ones({1})}}), Catch::Contains("not valid UTF-8"));
        CHECK_THROWS_WITH(save_safetensors(path, {{"w", ones({1})}}, {{"k", "\xc3"}}),
                          Catch::Contains("not valid UTF-8"));
    }
    SECTION("the write itself fails part-way (file size limit)") {
        // Only the temporary file can be written to; with a 64-byte limit its write fails with EFBIG
        // after the header has started, so this exercises the clean-up of a half-written temporary.
        struct rlimit old {};
        REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
        const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
        struct rlimit small = old;
        small.rlim_cur = 64;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
        std::string message;
        try {
            save_safetensors(path, {{"big", zeros({1000})}});
        } catch (const Error& e) {
            message = e.what();
        }
        ::setrlimit(RLIMIT_FSIZE, &old);
        std::signal(SIGXFSZ, old_handler);
        CHECK_THAT(message, Catch::Contains(path) && Catch::Contains("write failed"));
    }
    SECTION("the target is a directory, so the final rename fails") {
        const std::string sub = dir.file("sub");
        fs::create_directory(sub);
        write_bytes(dir.file("sub/keep"), "x");
        CHECK_THROWS_WITH(save_safetensors(sub, {{"w", ones({2})}}), Catch::Contains("rename failed"));
        CHECK(fs::is_directory(sub));
        CHECK(read_bytes(dir.file("sub/keep")) == "x");
        fs::remove_all(sub);
    }
    CHECK(read_bytes(path) == before);
    CHECK(dir.listing() == std::vector<std::string>{"model.safetensors"});  // no temporary left behind
    CHECK(load_safetensors(path).tensors.at("w").to_vector() == std::vector<double>{1, 2, 3});
}

TEST_CASE("safetensors: saving over an existing file replaces it", "[safetensors][atomic]") {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    save_safetensors(path, {{"w", Tensor::from({1, 2, 3}, {3})}});
    save_safetensors(path, {{"v", Tensor::from({4, 5}, {2}, {.dtype = DType::Float64})}});
    const SafetensorsFile f = load_safetensors(path);
    CHECK(f.tensors.size() == 1);
    CHECK(f.tensors.at("v").to_vector() == std::vector<double>{4, 5});
    CHECK(dir.listing() == std::vector<std::string>{"model.safetensors"});

    // The replacement keeps the old file's permissions.
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
    save_safetensors(path, {{"v", ones({1})}});
    CHECK(fs::status(path).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    save_safetensors(path, {{"v", ones({1})}});
    CHECK(fs::status(path).permissions() == (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
}

// ---- load_into ----------------------------------------------------------------------------------

TEST_CASE("safetensors: load_into copies in place", "[safetensors][load_into]") {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    save_safetensors(path, {{"encoder.weight", Tensor::from({1, 2, 3, 4, 5, 6}, {2, 3})},
                            {"encoder.bias", Tensor::from({7, 8}, {2}, {.dtype = DType::Float64})},
                            {"steps", Tensor::ids({5}, {})}});
    Tensor w = zeros({2, 3}, {.requires_grad = true});
    Tensor b = zeros({2}, {.dtype = DType::Float64});
    Tensor s = Tensor::ids({0}, {});
    const void* w_data = w.raw_data();
    std::map<std::string, Tensor> targets{{"encoder.weight", w}, {"encoder.bias", b}, {"steps", s}};
    load_into(load_safetensors(path), targets, path);
    CHECK(w.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6});
    CHECK(w.raw_data() == w_data);  // same storage: other handles see the new values
    CHECK(w.requires_grad());
    CHECK(b.to_vector() == std::vector<double>{7, 8});
    CHECK(s.item() == 5);
}

TEST_CASE("safetensors: load_into lists every mismatch and copies nothing", "[safetensors][load_into][errors]") {
    SafetensorsFile f;
    f.tensors["encoder.weight"] = ones({4, 3});
    f.tensors["encoder.bias"] = ones({4}, {.dtype = DType::Float64});
    f.tensors["old.extra"] = ones({1});
    f.tensors["ok"] = full({2}, 9.0);

    SECTION("one shape mismatch: the exact message") {
        std::map<std::string, Tensor> t{{"encoder.weight", zeros({4, 5})}};
        SafetensorsFile g;
        g.tensors["encoder.weight"] = ones({4, 3});
        CHECK_THROWS_AS(load_into(g, t, "model.safetensors"), Error);
        CHECK_THROWS_WITH(load_into(g, t, "model.safetensors"),
                          Catch::Equals("model.safetensors: tensor 'encoder.weight' has shape [4, 3] in the file but "
                                        "[4, 5] in the model"));
    }
    SECTION("everything at once") {
        Tensor ok = zeros({2});
        std::map<std::string, Tensor> t{{"encoder.weight", zeros({4, 5})},
                                        {"encoder.bias", zeros({4})},
                                        {"decoder.weight", zeros({2})},
                                        {"ok", ok}};
        CHECK_THROWS_WITH(load_into(f, t, "model.safetensors"),
                          Catch::StartsWith("model.safetensors: ") &&
                              Catch::Contains("tensor 'encoder.weight' has shape [4, 3] in the file but [4, 5] in the model") &&
                              Catch::Contains("tensor 'encoder.bias' has dtype float64 in the file but float32 in the model") &&
                              Catch::Contains("missing from the file: 'decoder.weight'") &&
                              Catch::Contains("in the file but not in the model: 'old.extra'"));
        CHECK(ok.to_vector() == std::vector<double>{0, 0});  // nothing copied
    }
    SECTION("an undefined target") {
        std::map<std::string, Tensor> t{{"ok", Tensor()}};
        SafetensorsFile g;
        g.tensors["ok"] = ones({2});
        CHECK_THROWS_WITH(load_into(g, t, "m.safetensors"), Catch::Contains("'ok' is undefined"));
    }
}

// ---- cross-check with numpy (hidden: run by tests/torch_crosscheck_safetensors.py) --------------

// The values both sides agree on: exactly representable, so equality is exact.
namespace {
std::map<std::string, Tensor> crosscheck_tensors() {
    std::vector<double> f32(6), f64(12);
    for (int i = 0; i < 6; ++i) f32[i] = i * 0.5 - 1.0;
    for (int i = 0; i < 12; ++i) f64[i] = i / 3.0;
    return {{"f32", Tensor::from(f32, {2, 3})},
            {"f64", Tensor::from(f64, {3, 2, 2}, {.dtype = DType::Float64})},
            {"i64", Tensor::ids({-(1LL << 62), -1, 0, (1LL << 62) + 7}, {4})},
            {"scalar", Tensor::scalar(3.25, DType::Float64)},
            {"empty", zeros({0, 3})}};
}
}  // namespace

TEST_CASE("safetensors: cross-check with numpy", "[.crosscheck]") {
    const char* env = std::getenv("SEQGRAD_CROSSCHECK_DIR");
    if (!env) FAIL("set SEQGRAD_CROSSCHECK_DIR (run tests/torch_crosscheck_safetensors.py)");
    const fs::path d(env);
    const auto expected = crosscheck_tensors();
    const SafetensorsFile from_numpy = load_safetensors((d / "numpy.safetensors").string());
    REQUIRE(from_numpy.tensors.size() == expected.size());
    for (const auto& [name, t] : expected) {
        INFO("tensor " << name);
        require_identical(from_numpy.tensors.at(name), t);
    }
    CHECK(from_numpy.metadata.at("source") == "numpy");
    save_safetensors((d / "seqgrad.safetensors").string(), expected, {{"source", "seqgrad"}});
}

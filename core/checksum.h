// Checksums for files seqgrad writes. CRC-32C (Castagnoli polynomial, the one iSCSI, ext4 and
// LevelDB use) catches every burst error up to 32 bits and any odd number of flipped bits, which is
// what a torn write or a bad disk sector looks like; it is not a cryptographic hash and does not
// guard against someone editing a file on purpose. Table-driven, eight bytes per step
// ("slicing-by-8"), so hashing a checkpoint costs far less than reading it from disk.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace seqgrad {

// CRC-32C of n bytes. Incremental: crc32c(b, nb, crc32c(a, na)) == crc32c of a followed by b,
// and crc32c(nullptr, 0) == 0.  crc32c("123456789", 9) == 0xe3069283.
std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0);

// Eight lower-case hex digits, e.g. "e3069283".
std::string crc32c_hex(std::uint32_t crc);

}  // namespace seqgrad

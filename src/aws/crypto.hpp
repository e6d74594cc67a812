#pragma once
// Hashes and encodings used by signing and content addressing (OpenSSL).
#include <cstdint>
#include <string>
#include <string_view>

namespace hoist::aws {

std::string sha256_hex(std::string_view data);
// Raw 32-byte HMAC-SHA256.
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string hex(std::string_view bytes);
std::string base64(std::string_view bytes);
std::string base64_decode(std::string_view text);  // throws std::invalid_argument
std::string md5_base64(std::string_view data);

// SHA-256 of a byte range of a file (whole file when length is npos), read in
// fixed-size blocks. Throws std::runtime_error when the file cannot be read.
std::string sha256_file(const std::string& path, std::uint64_t offset = 0, std::uint64_t length = UINT64_MAX);

}  // namespace hoist::aws

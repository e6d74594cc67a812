// Hashes and encodings on OpenSSL 3's EVP interfaces (no deprecated APIs).
#include "aws/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace hoist::aws {
namespace {

// Files are hashed in blocks of this size, like botocore's PAYLOAD_BUFFER.
constexpr std::size_t kFileBuffer = 1024 * 1024;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtx new_digest(const EVP_MD* md) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) throw std::runtime_error("OpenSSL digest init failed");
  return ctx;
}

std::string finish(EVP_MD_CTX* ctx) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &size) != 1) throw std::runtime_error("OpenSSL digest final failed");
  return {reinterpret_cast<const char*>(out.data()), size};
}

std::string digest(const EVP_MD* md, std::string_view data) {
  MdCtx ctx = new_digest(md);
  if (EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1) throw std::runtime_error("OpenSSL digest failed");
  return finish(ctx.get());
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string sha256_hex(std::string_view data) { return hex(digest(EVP_sha256(), data)); }

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int size = 0;
  // One-shot HMAC() is not deprecated in OpenSSL 3 (HMAC_CTX is).
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &size) == nullptr) {
    throw std::runtime_error("OpenSSL HMAC failed");
  }
  return {reinterpret_cast<const char*>(out.data()), size};
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string base64(std::string_view bytes) {
  if (bytes.empty()) return {};
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Strict decoder written out by hand: EVP_DecodeBlock neither rejects bad
// padding nor tells how many bytes the padding removed.
std::string base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) throw std::invalid_argument("base64: length is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      char c = text[i + static_cast<std::size_t>(j)];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0 || (v[j] = base64_value(c)) < 0) throw std::invalid_argument("base64: invalid character");
    }
    const unsigned triple = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                            (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out += static_cast<char>((triple >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((triple >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(triple & 0xff);
  }
  return out;
}

std::string md5_base64(std::string_view data) { return base64(digest(EVP_md5(), data)); }

struct Sha256::Impl {
  MdCtx ctx = new_digest(EVP_sha256());
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;

void Sha256::update(const void* data, std::size_t size) {
  if (EVP_DigestUpdate(impl_->ctx.get(), data, size) != 1) throw std::runtime_error("OpenSSL digest failed");
}

std::string Sha256::hex_digest() { return hex(finish(impl_->ctx.get())); }

std::string sha256_file(const std::string& path, std::uint64_t offset, std::uint64_t length) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path + " to hash it");
  in.seekg(static_cast<std::streamoff>(offset));
  if (!in) throw std::runtime_error("cannot seek in " + path);
  Sha256 hash;
  std::vector<char> buffer(kFileBuffer);
  std::uint64_t left = length;
  while (left > 0) {
    const auto want = static_cast<std::streamsize>(std::min<std::uint64_t>(left, buffer.size()));
    in.read(buffer.data(), want);
    const std::streamsize got = in.gcount();
    if (in.bad()) throw std::runtime_error("read error while hashing " + path);
    if (got > 0) {
      hash.update(buffer.data(), static_cast<std::size_t>(got));
      left -= static_cast<std::uint64_t>(got);
    }
    if (got < want) {
      if (length != UINT64_MAX) throw std::runtime_error("short read while hashing " + path);
      break;  // whole file requested: end of file reached
    }
  }
  return hash.hex_digest();
}

}  // namespace hoist::aws

// Hashes and encodings on OpenSSL 3's EVP interfaces (no deprecated APIs).
#include "aws/crypto.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "util/text.hpp"

namespace hoist::aws {
namespace {

// Files are hashed in blocks of this size, like botocore's PAYLOAD_BUFFER.
constexpr std::size_t kFileBuffer = std::size_t{1024} * 1024;

// Fetched once: OpenSSL 3 looks an algorithm up in its provider store (under
// a lock) on every init that passes EVP_sha256(), which showed as a tenth of
// hoist's CPU when signing a thousand requests from 16 threads.
const EVP_MD* fetched(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) throw std::runtime_error(std::string("OpenSSL has no ") + name);
  return md;
}
const EVP_MD* sha256_md() {
  static const EVP_MD* md = fetched("SHA256");
  return md;
}
const EVP_MD* md5_md() {
  static const EVP_MD* md = fetched("MD5");
  return md;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string finish(EVP_MD_CTX* ctx) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &size) != 1) throw std::runtime_error("OpenSSL digest final failed");
  return {reinterpret_cast<const char*>(out.data()), size};
}

// This thread's context for `md`, initialised afresh. Reused because a new
// EVP_MD_CTX costs allocations every time, and a signed request makes four
// digests. Not re-entrant: finish with one before asking for the next.
EVP_MD_CTX* thread_digest(const EVP_MD* md) {
  thread_local MdCtx sha256_ctx(EVP_MD_CTX_new());
  thread_local MdCtx md5_ctx(EVP_MD_CTX_new());
  EVP_MD_CTX* ctx = md == md5_md() ? md5_ctx.get() : sha256_ctx.get();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, md, nullptr) != 1)
    throw std::runtime_error("OpenSSL digest init failed");
  return ctx;
}

std::string digest(const EVP_MD* md, std::string_view data) {
  EVP_MD_CTX* ctx = thread_digest(md);
  if (EVP_DigestUpdate(ctx, data.data(), data.size()) != 1) throw std::runtime_error("OpenSSL digest failed");
  return finish(ctx);
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

std::string sha256_hex(std::string_view data) {
  return hex(digest(sha256_md(), data));
}

// RFC 2104 on the fetched digest: H((K ^ opad) || H((K ^ ipad) || data)),
// K being the key (hashed first when longer than the 64-byte block) padded
// with zeros. OpenSSL's one-shot HMAC() fetches its algorithms on every call.
std::string hmac_sha256(std::string_view key, std::string_view data) {
  constexpr std::size_t kBlock = 64;
  std::string k = key.size() > kBlock ? digest(sha256_md(), key) : std::string(key);
  k.resize(kBlock, '\0');
  std::string pad(kBlock, '\0');
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<char>(k[i] ^ 0x36);
  EVP_MD_CTX* inner = thread_digest(sha256_md());
  if (EVP_DigestUpdate(inner, pad.data(), pad.size()) != 1 || EVP_DigestUpdate(inner, data.data(), data.size()) != 1)
    throw std::runtime_error("OpenSSL digest failed");
  const std::string inner_hash = finish(inner);
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<char>(k[i] ^ 0x5c);
  return digest(sha256_md(), pad + inner_hash);
}

std::string hex(std::string_view bytes) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
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
    std::array<int, 4> v{};
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

std::string md5_base64(std::string_view data) {
  return base64(digest(md5_md(), data));
}

std::string sha256_file(const std::string& path, std::uint64_t offset, std::uint64_t length) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(errno_text("cannot open", path + " to hash it"));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // One uninitialised block per thread, reused: a fresh zeroed megabyte per
  // file cost more than hashing a thousand small files.
  // A std::array or std::vector would be zeroed: the buffer stays a char[].
  // NOLINTNEXTLINE(modernize-avoid-c-arrays)
  thread_local const auto buffer = std::make_unique_for_overwrite<char[]>(kFileBuffer);
  EVP_MD_CTX* hash = thread_digest(sha256_md());
  std::uint64_t pos = offset;
  std::uint64_t left = length;
  while (left > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, kFileBuffer));
    const ssize_t got = ::pread(fd, buffer.get(), want, static_cast<off_t>(pos));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(errno_text("read error while hashing", path));
    }
    if (got == 0) {
      if (length != UINT64_MAX)
        throw std::runtime_error(path + " got shorter while hoist was reading it: run again once it is written");
      break;  // whole file requested: end of file reached
    }
    if (EVP_DigestUpdate(hash, buffer.get(), static_cast<std::size_t>(got)) != 1)
      throw std::runtime_error("OpenSSL digest failed");
    pos += static_cast<std::uint64_t>(got);
    left -= static_cast<std::uint64_t>(got);
  }
  return hex(finish(hash));
}

}  // namespace hoist::aws

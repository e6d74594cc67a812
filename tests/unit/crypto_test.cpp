// Hashes and encodings against published test vectors (FIPS 180-2, RFC 4231,
// RFC 4648, RFC 1321).
#include "aws/crypto.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace hoist::aws {
namespace {

TEST(Crypto, Sha256Vectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HmacSha256Rfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size.
  EXPECT_EQ(hex(hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Crypto, HexKeepsEveryByte) {
  EXPECT_EQ(hex(std::string("\x00\x7f\x80\xff", 4)), "007f80ff");
}

TEST(Crypto, Base64Rfc4648) {
  const std::array<std::pair<const char*, const char*>, 7> vectors = {{{"", ""},
                                                                       {"f", "Zg=="},
                                                                       {"fo", "Zm8="},
                                                                       {"foo", "Zm9v"},
                                                                       {"foob", "Zm9vYg=="},
                                                                       {"fooba", "Zm9vYmE="},
                                                                       {"foobar", "Zm9vYmFy"}}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), plain);
  }
  const std::string binary("\x00\xff\xfe\x01", 4);
  EXPECT_EQ(base64_decode(base64(binary)), binary);
}

TEST(Crypto, Base64DecodeRejectsGarbage) {
  EXPECT_THROW(base64_decode("Zg="), std::invalid_argument);
  EXPECT_THROW(base64_decode("Z!=="), std::invalid_argument);
  EXPECT_THROW(base64_decode("Zg==Zg=="), std::invalid_argument);
  EXPECT_THROW(base64_decode("Z=g="), std::invalid_argument);
}

TEST(Crypto, Md5Base64) {
  EXPECT_EQ(md5_base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");  // d41d8cd98f00b204e9800998ecf8427e
  EXPECT_EQ(md5_base64("abc"), "kAFQmDzST7DWlj99KOF/cg==");
}

TEST(Crypto, Sha256FileWholeAndRanges) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("hoist_crypto_test_" + std::to_string(::getpid()))).string();
  std::string data;
  // Larger than the 1 MiB block so ranges cross block boundaries.
  for (std::size_t i = 0; i < 3 * 1024 * 1024 + 123; ++i) data += static_cast<char>((i * 31) ^ (i >> 9));
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
  EXPECT_EQ(sha256_file(path), sha256_hex(data));
  EXPECT_EQ(sha256_file(path, 1024 * 1024 - 5, 1024 * 1024 + 10),
            sha256_hex(data.substr(1024 * 1024 - 5, 1024 * 1024 + 10)));
  EXPECT_EQ(sha256_file(path, 10, 0), sha256_hex(""));
  EXPECT_THROW(sha256_file(path, data.size() - 5, 10), std::runtime_error);  // range past the end
  std::filesystem::remove(path);
  EXPECT_THROW(sha256_file(path), std::runtime_error);
}

}  // namespace
}  // namespace hoist::aws

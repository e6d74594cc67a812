// File transfers: a single streamed PUT/GET for small files, multipart upload
// and parallel ranged GETs for large ones. Bodies are always byte ranges of
// the file on disk, so memory stays bounded whatever the size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "aws/error.hpp"
#include "aws/protocols.hpp"
#include "aws/s3.hpp"
#include "aws/s3_detail.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace hoist::aws {

using namespace s3_detail;

namespace {

constexpr std::uint64_t kMinPartSize = 5ull << 20;  // S3: every part but the last
constexpr std::uint64_t kMaxParts = 10'000;

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw Failure(Failure::unreadable_file, errno_text("cannot read", path));
  }
  if (!S_ISREG(st.st_mode)) throw Failure(Failure::unreadable_file, "cannot read " + path + ": not a regular file");
  // The file is opened once here so an unreadable file fails before any request.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Failure(Failure::unreadable_file, errno_text("cannot read", path));
  ::close(fd);
  return static_cast<std::uint64_t>(st.st_size);
}

// The part size actually used: at least the requested one and S3's minimum,
// grown so that the object fits in 10,000 parts.
std::uint64_t effective_part_size(std::uint64_t size, std::uint64_t requested) {
  std::uint64_t part = std::max(requested, kMinPartSize);
  if ((size + part - 1) / part > kMaxParts) part = (size + kMaxParts - 1) / kMaxParts;
  return part;
}

// How a file body is signed: the known hash, UNSIGNED-PAYLOAD over TLS (the
// TLS layer protects it), else left to the signer, which hashes the range.
CallOptions file_body_options(const Client& client, const std::string& sha256_hex) {
  CallOptions options;
  if (!sha256_hex.empty()) {
    options.payload_hash = sha256_hex;
  } else if (client.endpoint().rfind("https://", 0) == 0) {
    options.unsigned_payload = true;
  }
  return options;
}

// A temporary file beside the destination, renamed over it once complete,
// and removed if the download fails.
class PartialFile {
 public:
  explicit PartialFile(const std::string& path) : path_(path), temp_(path + ".hoist-partial") {
    int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) throw Failure(Failure::unwritable_file, errno_text("cannot write", temp_));
    ::close(fd);
  }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;
  ~PartialFile() {
    if (!committed_) ::unlink(temp_.c_str());
  }
  [[nodiscard]] const std::string& temp() const { return temp_; }
  void resize(std::uint64_t size) const {
    if (::truncate(temp_.c_str(), static_cast<off_t>(size)) != 0) {
      throw Failure(Failure::unwritable_file, errno_text("cannot size", temp_));
    }
  }
  void commit(std::uint64_t expected_size) {
    std::error_code ec;
    auto actual = std::filesystem::file_size(temp_, ec);
    if (ec || actual != expected_size) {
      throw Failure(Failure::bad_answer, "download of " + path_ + " is incomplete: " + std::to_string(ec ? 0 : actual) +
                                             " of " + std::to_string(expected_size) + " bytes");
    }
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      throw Failure(Failure::unwritable_file, errno_text("cannot write", path_));
    }
    committed_ = true;
  }

 private:
  std::string path_, temp_;
  bool committed_ = false;
};

void report(const TransferOptions& options, std::uint64_t bytes) {
  if (options.progress.on_bytes) options.progress.on_bytes(bytes);
}

// The client a file's requests go through: the caller's when it is already
// a transfer's (staging's, shared by all its files), else one of its own,
// as wide as the file's parts.
Client transfer_client(const Client& client, const TransferOptions& options) {
  if (client.transfer_limit()) return client;
  return client.for_transfer(std::make_shared<ConcurrencyLimit>(std::max<std::size_t>(options.parallelism, 1)));
}

}  // namespace

void S3::upload_file(const std::string& bucket, const std::string& key, const std::string& path,
                     const TransferOptions& options, const KnownFile& known) {
  // A size that changed since the caller's look fails the read of the body
  // (short file) or, on AWS, the payload hash check.
  const std::uint64_t size = known.size ? *known.size : file_size(path);
  const std::string object = object_path(bucket, key);
  Client client = transfer_client(client_, options);

  if (size < options.multipart_threshold || size == 0) {
    HttpRequest r;
    r.method = "PUT";
    r.path = object;
    r.headers = {{"Content-Type", "application/octet-stream"}};
    r.body.file = path;
    r.body.length = size;
    client.send("PutObject", std::move(r), file_body_options(client, known.sha256_hex));
    report(options, size);
    return;
  }

  const std::uint64_t part_size = effective_part_size(size, options.part_size);
  const auto parts = static_cast<std::size_t>((size + part_size - 1) / part_size);

  HttpRequest create;
  create.method = "POST";
  create.path = object;
  create.query = {{"uploads", ""}};
  create.headers = {{"Content-Type", "application/octet-stream"}};
  auto created = client.send("CreateMultipartUpload", std::move(create));
  pugi::xml_document doc;
  doc.load_buffer(created.body.data(), created.body.size());
  const std::string upload_id = xml_text(doc, "UploadId");
  if (upload_id.empty()) {
    throw AwsError("s3", "CreateMultipartUpload", "MalformedResponse", "no UploadId in the response",
                   created.header("x-amz-request-id"), created.status);
  }
  log::verbose("s3 multipart upload of " + std::to_string(size) + " bytes in " + std::to_string(parts) + " parts");

  try {
    std::vector<std::string> etags(parts);
    // Once a part fails the others stop early instead of sending their bytes.
    std::atomic<bool> failed{false};
    parallel_for(parts, options.parallelism, [&](std::size_t i) {
      if (failed) return;
      try {
        const std::uint64_t offset = i * part_size;
        HttpRequest r;
        r.method = "PUT";
        r.path = object;
        r.query = {{"partNumber", std::to_string(i + 1)}, {"uploadId", upload_id}};
        r.body.file = path;
        r.body.offset = offset;
        r.body.length = std::min(part_size, size - offset);
        auto response = client.send("UploadPart", std::move(r), file_body_options(client, ""));
        etags[i] = response.header("ETag");
        if (etags[i].empty()) {
          throw AwsError("s3", "UploadPart", "MalformedResponse", "no ETag for part " + std::to_string(i + 1),
                         response.header("x-amz-request-id"), response.status);
        }
        report(options, std::min(part_size, size - offset));
      } catch (...) {
        failed = true;
        throw;
      }
    });

    std::string xml = std::string("<CompleteMultipartUpload xmlns=\"") + kXmlns + "\">";
    for (std::size_t i = 0; i < parts; ++i) {
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + xml_escape(etags[i]) +
             "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    HttpRequest complete;
    complete.method = "POST";
    complete.path = object;
    complete.query = {{"uploadId", upload_id}};
    complete.headers = {{"Content-Type", "application/xml"}};
    complete.body.data = std::move(xml);
    auto response = client.send("CompleteMultipartUpload", std::move(complete));
    throw_if_error_body("CompleteMultipartUpload", response);
  } catch (...) {
    // Parts of an unfinished upload are billed until aborted.
    try {
      HttpRequest abort;
      abort.method = "DELETE";
      abort.path = object;
      abort.query = {{"uploadId", upload_id}};
      client_.send("AbortMultipartUpload", std::move(abort));
    } catch (const std::exception& e) {
      log::warn("could not abort the failed multipart upload of s3://" + bucket + "/" + key + ": " + e.what());
    }
    throw;
  }
}

void S3::download_file(const std::string& bucket, const std::string& key, const std::string& path,
                       const TransferOptions& options) {
  S3 transfer(transfer_client(client_, options));
  auto info = transfer.head_object(bucket, key);
  if (!info) throw Failure(Failure::no_such_object, "s3://" + bucket + "/" + key + " does not exist");
  Client& client = transfer.client_;
  const std::uint64_t size = info->size;
  const std::string object = object_path(bucket, key);
  PartialFile file(path);

  if (size < options.multipart_threshold) {
    HttpRequest r;
    r.path = object;
    r.response_file = file.temp();
    auto response = client.send("GetObject", std::move(r));
    // The object may have changed since HEAD: trust what this GET said.
    const std::uint64_t got = byte_count(response.header("Content-Length"), "GetObject", response).value_or(size);
    file.commit(got);
    report(options, got);
    return;
  }

  const std::uint64_t part_size = std::max<std::uint64_t>(options.part_size, 1);
  const auto parts = static_cast<std::size_t>((size + part_size - 1) / part_size);
  file.resize(size);
  std::atomic<bool> failed{false};
  parallel_for(parts, options.parallelism, [&](std::size_t i) {
    if (failed) return;
    try {
      const std::uint64_t first = i * part_size;
      const std::uint64_t length = std::min(part_size, size - first);
      HttpRequest r;
      r.path = object;
      // If-Match: every range must come from the object that HEAD saw.
      r.headers = {{"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(first + length - 1)}};
      if (!info->etag.empty()) r.headers.emplace_back("If-Match", info->etag);
      r.response_file = file.temp();
      r.response_offset = first;
      auto response = client.send("GetObject", std::move(r));
      const auto got = response.header("Content-Length");
      const auto got_bytes = byte_count(got, "GetObject", response);
      if (response.status != 206 || (got_bytes && *got_bytes != length)) {
        throw AwsError("s3", "GetObject", "IncompleteRange",
                       "range at " + std::to_string(first) + " returned status " + std::to_string(response.status) +
                           " and " + (got.empty() ? "no length" : got + " bytes") + ", expected " +
                           std::to_string(length),
                       response.header("x-amz-request-id"), response.status);
      }
      report(options, length);
    } catch (...) {
      failed = true;
      throw;
    }
  });
  file.commit(size);
}

}  // namespace hoist::aws

#pragma once
// Helpers shared by s3.cpp and s3_transfer.cpp: path-style request paths,
// XML bodies and the "200 with an <Error> body" case of S3. Not a public API.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aws/http.hpp"

namespace hoist::aws::s3_detail {

inline constexpr const char* kXmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
inline constexpr const char* kExpectedOwnerHeader = "x-amz-expected-bucket-owner";

// "/bucket" and "/bucket/<key encoded, slashes kept>": S3 signs the path as
// sent, so it is encoded exactly once, here.
std::string bucket_path(const std::string& bucket);
std::string object_path(const std::string& bucket, const std::string& key);
// The bucket a request path names: "b" of "/b" and "/b/key".
std::string_view bucket_of(std::string_view path);

// Decodes S3's encoding-type=url values (%XX, and '+' for a space as real S3
// writes it; moto writes %20, which decodes the same).
std::string url_decode(std::string_view s);

// Element text with XML's five special characters escaped.
std::string xml_escape(std::string_view s);

// Some S3 calls (CompleteMultipartUpload) can fail after sending 200: the
// body is then an <Error> document. Throws AwsError in that case.
void throw_if_error_body(const std::string& operation, const HttpResponse& response);

// A byte count S3 sent (a Content-Length, a listing's <Size>): nullopt when
// absent; anything but digits is a MalformedResponse AwsError, not a crash.
std::optional<std::uint64_t> byte_count(std::string_view text, const std::string& operation,
                                        const HttpResponse& response);

// A bucket policy denying every request that does not come over TLS, to the
// bucket and its objects.
std::string tls_only_policy(const std::string& bucket, const std::string& region);

}  // namespace hoist::aws::s3_detail

// S3 objects: head, put, get, list (v2), batch delete, presigned GET.
// Transfers of files live in s3_transfer.cpp, buckets in s3_bucket.cpp.
#include "aws/s3.hpp"

#include <atomic>
#include <mutex>
#include <pugixml.hpp>

#include "aws/crypto.hpp"
#include "aws/error.hpp"
#include "aws/protocols.hpp"
#include "aws/s3_detail.hpp"
#include "aws/sigv4.hpp"
#include "util/log.hpp"

namespace hoist::aws {

using namespace s3_detail;

S3Uri S3Uri::parse(std::string_view uri) {
  constexpr std::string_view scheme = "s3://";
  if (uri.substr(0, scheme.size()) != scheme) {
    throw Failure(Failure::bad_input, "not an S3 URI: '" + std::string(uri) + "' (expected s3://BUCKET/KEY)");
  }
  uri.remove_prefix(scheme.size());
  S3Uri out;
  auto slash = uri.find('/');
  out.bucket = std::string(uri.substr(0, slash));
  if (slash != std::string_view::npos) out.key = std::string(uri.substr(slash + 1));
  if (out.bucket.empty()) throw Failure(Failure::bad_input, "no bucket in S3 URI: 's3://" + std::string(uri) + "'");
  return out;
}

std::string S3Uri::str() const {
  return "s3://" + bucket + "/" + key;
}

S3::S3(const std::shared_ptr<Session>& session) : client_(session, Service{"s3", "s3", Protocol::rest_xml, ""}) {
  // Here, not at each call: every request to a bucket whose owner is known,
  // whatever its operation, has S3 check that owner. (The client holds the
  // session, so the map outlives the hook.)
  client_.before_signing([owners = &session->bucket_owners](HttpRequest& r) {
    if (owners->empty()) return;
    if (auto it = owners->find(bucket_of(r.path)); it != owners->end())
      r.headers.emplace_back(kExpectedOwnerHeader, it->second);
  });
}

std::optional<std::string> S3::expected_owner(const std::string& bucket) const {
  const auto& owners = client_.session().bucket_owners;
  if (auto it = owners.find(bucket); it != owners.end()) return it->second;
  return std::nullopt;
}

S3 S3::for_transfer(std::shared_ptr<ConcurrencyLimit> limit) const {
  return S3(client_.for_transfer(std::move(limit)));
}

std::optional<ObjectInfo> S3::head_object(const std::string& bucket, const std::string& key) {
  HttpRequest r;
  r.method = "HEAD";
  r.path = object_path(bucket, key);
  CallOptions options;
  options.ok_statuses = {404};
  auto response = client_.send("HeadObject", std::move(r), options);
  if (response.status == 404) return std::nullopt;
  ObjectInfo info;
  info.key = key;
  info.size = byte_count(response.header("Content-Length"), "HeadObject", response).value_or(0);
  info.etag = response.header("ETag");
  info.last_modified = response.header("Last-Modified");
  return info;
}

void S3::put_object(const std::string& bucket, const std::string& key, std::string data,
                    const std::string& content_type) {
  HttpRequest r;
  r.method = "PUT";
  r.path = object_path(bucket, key);
  r.headers = {{"Content-Type", content_type}};
  r.body.data = std::move(data);
  client_.send("PutObject", std::move(r));
}

std::string S3::get_object(const std::string& bucket, const std::string& key) {
  HttpRequest r;
  r.path = object_path(bucket, key);
  return client_.send("GetObject", std::move(r)).body;
}

std::optional<std::string> S3::get_object_if_exists(const std::string& bucket, const std::string& key) {
  HttpRequest r;
  r.path = object_path(bucket, key);
  CallOptions options;
  options.ok_statuses = {404};
  auto response = client_.send("GetObject", std::move(r), options);
  if (response.status == 404) {
    // A 404 for a missing bucket is a real error, not "no such object".
    auto info = parse_error(Protocol::rest_xml, response);
    if (info.code == "NoSuchBucket") {
      throw AwsError("s3", "GetObject", info.code, info.message, info.request_id, response.status);
    }
    return std::nullopt;
  }
  return std::move(response.body);
}

namespace {

// Children of `parent` with this local name (S3 answers in its namespace).
template <typename F>
void each_child(const pugi::xml_node& parent, std::string_view name, F&& f) {
  for (auto child : parent.children()) {
    std::string_view n = child.name();
    if (auto colon = n.find(':'); colon != std::string_view::npos) n.remove_prefix(colon + 1);
    if (n == name) f(child);
  }
}

std::string child_text(const pugi::xml_node& node, const char* name) {
  std::string out;
  each_child(node, name, [&](const pugi::xml_node& c) { out = c.text().as_string(); });
  return out;
}

pugi::xml_node parse_body(pugi::xml_document& doc, const HttpResponse& response, const std::string& operation) {
  if (!doc.load_buffer(response.body.data(), response.body.size())) {
    throw AwsError("s3", operation, "MalformedResponse", "the response is not XML", response.header("x-amz-request-id"),
                   response.status);
  }
  return doc.document_element();
}

// One ListObjectsV2 page; returns the continuation token ("" when done).
std::string list_v2_page(Client& client, const std::string& bucket, const std::string& prefix,
                         const std::string& delimiter, const std::string& start_after, const std::string& token,
                         const std::function<void(const ObjectInfo&)>& each,
                         const std::function<void(const std::string&)>& each_prefix, int max_keys = 0) {
  HttpRequest r;
  r.path = bucket_path(bucket);
  r.query = {{"list-type", "2"}, {"encoding-type", "url"}};
  if (!prefix.empty()) r.query.emplace_back("prefix", prefix);
  if (!delimiter.empty()) r.query.emplace_back("delimiter", delimiter);
  if (!start_after.empty()) r.query.emplace_back("start-after", start_after);
  if (!token.empty()) r.query.emplace_back("continuation-token", token);
  if (max_keys > 0) r.query.emplace_back("max-keys", std::to_string(max_keys));
  auto response = client.send("ListObjectsV2", std::move(r));
  pugi::xml_document doc;
  auto root = parse_body(doc, response, "ListObjectsV2");
  // encoding-type=url lets any key (control characters included) survive
  // XML; every key-like value comes back encoded.
  each_child(root, "Contents", [&](const pugi::xml_node& c) {
    ObjectInfo info;
    info.key = url_decode(child_text(c, "Key"));
    info.size = byte_count(child_text(c, "Size"), "ListObjectsV2", response).value_or(0);
    info.etag = child_text(c, "ETag");
    info.last_modified = child_text(c, "LastModified");
    each(info);
  });
  each_child(root, "CommonPrefixes",
             [&](const pugi::xml_node& c) { each_prefix(url_decode(child_text(c, "Prefix"))); });
  if (child_text(root, "IsTruncated") != "true") return "";
  return child_text(root, "NextContinuationToken");
}

}  // namespace

void S3::list_objects(const std::string& bucket, const std::string& prefix,
                      const std::function<void(const ObjectInfo&)>& each, const std::string& start_after) {
  std::string token;
  do {
    token = list_v2_page(client_, bucket, prefix, "", token.empty() ? start_after : "", token, each,
                         [](const std::string&) {});
  } while (!token.empty());
}

bool S3::list_page(const std::string& bucket, const std::string& prefix, const std::string& start_after, int max_keys,
                   const std::function<void(const ObjectInfo&)>& each) {
  return !list_v2_page(
              client_, bucket, prefix, "", start_after, "", each, [](const std::string&) {}, max_keys)
              .empty();
}

void S3::list_delimited(const std::string& bucket, const std::string& prefix, std::vector<ObjectInfo>& objects,
                        std::vector<std::string>& prefixes) {
  std::string token;
  do {
    token = list_v2_page(
        client_, bucket, prefix, "/", "", token, [&](const ObjectInfo& o) { objects.push_back(o); },
        [&](const std::string& p) { prefixes.push_back(p); });
  } while (!token.empty());
}

std::size_t S3::delete_objects(const std::string& bucket, const std::vector<std::string>& keys) {
  constexpr std::size_t kBatch = 1000;  // S3's limit per DeleteObjects
  const std::size_t batches = (keys.size() + kBatch - 1) / kBatch;
  std::atomic<std::size_t> failed{0};
  std::mutex mutex;
  std::string first_code;
  std::string first_error;
  std::string request_id;

  parallel_for(batches, 4, [&](std::size_t b) {
    const std::size_t begin = b * kBatch;
    const std::size_t end = std::min(keys.size(), begin + kBatch);
    // Quiet: the response lists only the keys that could not be deleted.
    std::string xml = std::string("<Delete xmlns=\"") + kXmlns + "\"><Quiet>true</Quiet>";
    for (std::size_t i = begin; i < end; ++i) xml += "<Object><Key>" + xml_escape(keys[i]) + "</Key></Object>";
    xml += "</Delete>";
    HttpRequest r;
    r.method = "POST";
    r.path = bucket_path(bucket);
    r.query = {{"delete", ""}};
    r.headers = {{"Content-MD5", md5_base64(xml)}, {"Content-Type", "application/xml"}};
    r.body.data = std::move(xml);
    auto response = client_.send("DeleteObjects", std::move(r));
    pugi::xml_document doc;
    auto root = parse_body(doc, response, "DeleteObjects");
    each_child(root, "Error", [&](const pugi::xml_node& e) {
      ++failed;
      std::string line = child_text(e, "Key") + ": " + child_text(e, "Code") + " " + child_text(e, "Message");
      log::verbose("s3 DeleteObjects: not deleted: " + line);
      std::lock_guard lock(mutex);
      if (first_code.empty()) {
        first_code = child_text(e, "Code");
        first_error = line;
        request_id = response.header("x-amz-request-id");
      }
    });
  });

  if (failed > 0) {
    throw AwsError("s3", "DeleteObjects", first_code,
                   std::to_string(failed.load()) + " of " + std::to_string(keys.size()) +
                       " objects were not deleted, e.g. " + first_error,
                   request_id, 200);
  }
  return keys.size();
}

std::string S3::presign_get(const std::string& bucket, const std::string& key, std::chrono::seconds expires) {
  constexpr std::chrono::seconds kMax{604800};  // SigV4's limit: 7 days
  if (expires.count() < 1 || expires > kMax) {
    throw Failure(Failure::bad_input,
                  "the expiry of a presigned URL must be between 1 and 604800 seconds (7 days), not " +
                      std::to_string(expires.count()));
  }
  if (key.empty()) throw Failure(Failure::bad_input, "a presigned URL needs an object key: s3://" + bucket + "/KEY");
  HttpRequest r;
  r.endpoint = client_.endpoint();
  r.path = object_path(bucket, key);
  sigv4::SigningParams params;
  params.region = client_.region();
  params.service = "s3";
  // AWS's time, when the session learnt this computer's clock is off.
  params.time = std::chrono::system_clock::now() + std::chrono::milliseconds(client_.session().clock_offset_ms.load());
  params.s3_rules = true;
  params.unsigned_payload = true;
  return sigv4::presign(r, client_.session().credentials->get(), params, expires);
}

}  // namespace hoist::aws

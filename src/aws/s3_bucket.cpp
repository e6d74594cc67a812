// Bucket lifecycle: create (hardened: public access block, SSE-S3, TLS-only
// policy, lifecycle rule, tags), head, tags, delete.
#include <pugixml.hpp>
#include <thread>

#include "aws/crypto.hpp"
#include "aws/error.hpp"
#include "aws/protocols.hpp"
#include "aws/s3.hpp"
#include "aws/s3_detail.hpp"
#include "util/log.hpp"

namespace hoist::aws {

using namespace s3_detail;

namespace {

std::string public_access_block_xml() {
  return std::string("<PublicAccessBlockConfiguration xmlns=\"") + kXmlns +
         "\"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>"
         "<BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets>"
         "</PublicAccessBlockConfiguration>";
}

std::string encryption_xml() {
  return std::string("<ServerSideEncryptionConfiguration xmlns=\"") + kXmlns +
         "\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
         "</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>";
}

std::string tagging_xml(const std::map<std::string, std::string>& tags) {
  std::string xml = std::string("<Tagging xmlns=\"") + kXmlns + "\"><TagSet>";
  for (const auto& [k, v] : tags)
    xml += "<Tag><Key>" + xml_escape(k) + "</Key><Value>" + xml_escape(v) + "</Value></Tag>";
  return xml + "</TagSet></Tagging>";
}

std::string lifecycle_xml(const BucketSettings& settings) {
  std::string xml = std::string("<LifecycleConfiguration xmlns=\"") + kXmlns + "\">";
  if (settings.abort_incomplete_uploads_days > 0)
    xml +=
        "<Rule><ID>hoist-abort-incomplete-uploads</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>" +
        std::to_string(settings.abort_incomplete_uploads_days) +
        "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>";
  if (settings.expire_days > 0)
    xml += "<Rule><ID>hoist-jobs-retention</ID><Filter><Prefix>" + xml_escape(settings.expire_prefix) +
           "</Prefix></Filter><Status>Enabled</Status><Expiration><Days>" + std::to_string(settings.expire_days) +
           "</Days></Expiration></Rule>";
  return xml + "</LifecycleConfiguration>";
}

// A bucket subresource PUT; S3 requires a body checksum (Content-MD5) for
// all of these (requestChecksumRequired in the service model).
HttpRequest subresource_put(const std::string& bucket, const std::string& subresource, std::string body) {
  HttpRequest r;
  r.method = "PUT";
  r.path = bucket_path(bucket);
  r.query = {{subresource, ""}};
  r.headers = {{"Content-MD5", md5_base64(body)}};
  r.body.data = std::move(body);
  return r;
}

// A bucket of that name that another account owns: nothing may go in.
Failure bucket_taken(const std::string& bucket, const std::string& why) {
  return {Failure::bucket_taken, "the S3 bucket " + bucket + " " + why};
}

}  // namespace

bool S3::create_bucket(const std::string& bucket, const BucketSettings& settings) {
  bool created = false;
  if (!(settings.exists ? *settings.exists : head_bucket(bucket))) {
    HttpRequest r;
    r.method = "PUT";
    r.path = bucket_path(bucket);
    if (client_.region() != "us-east-1") {
      r.body.data = std::string("<CreateBucketConfiguration xmlns=\"") + kXmlns + "\"><LocationConstraint>" +
                    client_.region() + "</LocationConstraint></CreateBucketConfiguration>";
    }
    try {
      client_.send("CreateBucket", std::move(r));
      created = true;
      log::verbose("created bucket " + bucket + " in " + client_.region());
    } catch (const AwsError& e) {
      if (e.is("BucketAlreadyExists"))
        throw bucket_taken(bucket, "belongs to another AWS account (bucket names are global)");
      if (!e.is("BucketAlreadyOwnedByYou")) throw;
    }
  }

  // A just-created bucket can briefly answer NoSuchBucket to its first
  // configuration calls; those are worth a few short waits.
  auto configure = [&](const std::string& operation, const HttpRequest& request) {
    for (int attempt = 1;; ++attempt) {
      try {
        client_.send(operation, request);
        return;
      } catch (const AwsError& e) {
        if (!created || !e.is("NoSuchBucket") || attempt >= 5) throw;
        std::this_thread::sleep_for(std::chrono::seconds(attempt));
      }
    }
  };
  // Applied on every call, so a bucket left half-configured by an
  // interrupted run converges to the same settings.
  if (settings.block_public_access)
    configure("PutPublicAccessBlock", subresource_put(bucket, "publicAccessBlock", public_access_block_xml()));
  if (settings.default_encryption)
    configure("PutBucketEncryption", subresource_put(bucket, "encryption", encryption_xml()));
  if (settings.tls_only_policy && client_.endpoint().rfind("http://", 0) == 0) {
    // Over plain HTTP (an emulator) the policy would deny hoist's own
    // requests, as an S3 that evaluates policies (moto does) shows.
    log::verbose("not setting the TLS-only policy on " + bucket + ": the S3 endpoint is plain http");
  } else if (settings.tls_only_policy) {
    configure("PutBucketPolicy", subresource_put(bucket, "policy", tls_only_policy(bucket, client_.region())));
  }
  // One configuration holds every rule: a PUT replaces them all, so a
  // retention taken out of hoist.toml is taken off the bucket too.
  if (settings.abort_incomplete_uploads_days > 0 || settings.expire_days > 0)
    configure("PutBucketLifecycleConfiguration", subresource_put(bucket, "lifecycle", lifecycle_xml(settings)));
  if (!settings.tags.empty())
    configure("PutBucketTagging", subresource_put(bucket, "tagging", tagging_xml(settings.tags)));
  return created;
}

bool S3::head_bucket(const std::string& bucket) {
  HttpRequest r;
  r.method = "HEAD";
  r.path = bucket_path(bucket);
  CallOptions options;
  options.ok_statuses = {403, 404};
  auto response = client_.send("HeadBucket", std::move(r), options);
  if (response.status == 403) {
    // HEAD has no error body: 403 on a bucket name means it exists but is
    // not ours (bucket names are global), or we lack s3:ListBucket on it.
    if (auto owner = expected_owner(bucket))
      throw bucket_taken(bucket, "is not account " + *owner +
                                     "'s: S3 refused the owner check (another AWS account has that name, or these "
                                     "credentials lack s3:ListBucket on it)");
    throw Failure(Failure::denied, "the S3 bucket " + bucket +
                                       " exists but is not accessible: it belongs to another AWS account, or these "
                                       "credentials lack s3:ListBucket on it");
  }
  return response.status != 404;
}

std::optional<std::map<std::string, std::string>> S3::bucket_tags(const std::string& bucket) {
  HttpRequest r;
  r.path = bucket_path(bucket);
  r.query = {{"tagging", ""}};
  CallOptions options;
  options.ok_statuses = {404};
  auto response = client_.send("GetBucketTagging", std::move(r), options);
  std::map<std::string, std::string> tags;
  if (response.status == 404) {
    // NoSuchTagSet: a bucket without tags; NoSuchBucket: no bucket.
    if (parse_error(Protocol::rest_xml, response).code == "NoSuchTagSet") return tags;
    return std::nullopt;
  }
  pugi::xml_document doc;
  if (!doc.load_buffer(response.body.data(), response.body.size()))
    throw AwsError("s3", "GetBucketTagging", "MalformedResponse", "the response is not XML",
                   response.header("x-amz-request-id"), response.status);
  auto local = [](const pugi::xml_node& n) {
    std::string_view name = n.name();
    return name.substr(name.find(':') == std::string_view::npos ? 0 : name.find(':') + 1);
  };
  for (auto set : doc.document_element().children()) {
    if (local(set) != "TagSet") continue;
    for (auto tag : set.children())
      if (local(tag) == "Tag") tags[xml_text(tag, "Key")] = xml_text(tag, "Value");
  }
  return tags;
}

void S3::delete_bucket(const std::string& bucket) {
  HttpRequest r;
  r.method = "DELETE";
  r.path = bucket_path(bucket);
  client_.send("DeleteBucket", std::move(r));
}

}  // namespace hoist::aws

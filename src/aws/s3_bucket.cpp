// Bucket lifecycle: create (hardened: public access block, SSE-S3, TLS-only
// policy, tags), head, delete.
#include <thread>

#include "aws/crypto.hpp"
#include "aws/error.hpp"
#include "aws/s3.hpp"
#include "aws/s3_detail.hpp"
#include "util/error.hpp"
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

std::string lifecycle_xml(int abort_incomplete_uploads_days) {
  return std::string("<LifecycleConfiguration xmlns=\"") + kXmlns +
         "\"><Rule><ID>hoist-abort-incomplete-uploads</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>"
         "<AbortIncompleteMultipartUpload><DaysAfterInitiation>" +
         std::to_string(abort_incomplete_uploads_days) +
         "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>";
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

}  // namespace

bool S3::create_bucket(const std::string& bucket, const BucketSettings& settings) {
  bool created = false;
  // HEAD first: in us-east-1 S3 answers 200 to re-creating our own bucket,
  // so only HEAD tells "created now" from "already ours".
  if (settings.known_missing || !head_bucket(bucket)) {
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
      if (e.is("BucketAlreadyExists")) {
        throw Fatal(Exit::aws, "the S3 bucket name " + bucket +
                                   " is taken by another AWS account (bucket names are global); choose another name");
      }
      if (!e.is("BucketAlreadyOwnedByYou")) throw;
    }
  }

  // A just-created bucket can briefly answer NoSuchBucket to its first
  // configuration calls; those are worth a few short waits.
  auto configure = [&](const std::string& operation, HttpRequest request) {
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
  if (settings.abort_incomplete_uploads_days > 0)
    configure("PutBucketLifecycleConfiguration",
              subresource_put(bucket, "lifecycle", lifecycle_xml(settings.abort_incomplete_uploads_days)));
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
    throw Fatal(Exit::access_denied, "the S3 bucket " + bucket +
                                         " exists but is not accessible: it belongs to another AWS account, or these "
                                         "credentials lack s3:ListBucket on it");
  }
  return response.status != 404;
}

void S3::delete_bucket(const std::string& bucket) {
  HttpRequest r;
  r.method = "DELETE";
  r.path = bucket_path(bucket);
  client_.send("DeleteBucket", std::move(r));
}

}  // namespace hoist::aws

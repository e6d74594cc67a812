#pragma once
// ECR (JSON 1.1): the per-project image repository hoist/<project>, its
// lifecycle policy, and whether an image for a requirements key exists.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.hpp"

namespace hoist::aws {

using Tags = std::map<std::string, std::string>;

struct Repository {
  std::string name;
  std::string uri;  // <registry>.dkr.ecr.<region>.amazonaws.com/<name>
  std::string arn;
  std::string registry_id;
  std::string tag_mutability;  // "MUTABLE", "IMMUTABLE", ...
};

struct RepositorySpec {
  std::string name;
  Tags tags;
  bool scan_on_push = false;
  std::string image_tag_mutability = "MUTABLE";  // or "IMMUTABLE"
};

struct EcrImageId {
  std::string digest;  // "sha256:..."
  std::string tag;     // "" for an untagged image
};

// An image as DescribeImages gives it.
struct EcrImage {
  std::string digest;
  std::vector<std::string> tags;
  std::uint64_t size = 0;  // imageSizeInBytes: what ECR bills storage for
};

struct EcrAuthorization {
  std::string user;       // "AWS"
  std::string password;   // a secret: never log it
  std::string endpoint;   // https://<registry>.dkr.ecr.<region>.amazonaws.com
  double expires_at = 0;  // seconds since the epoch
};

// A lifecycle policy that expires all but the newest `count` images.
std::string keep_last_images_policy(int count);

class Ecr {
 public:
  explicit Ecr(std::shared_ptr<Session> session);

  // nullopt when there is no such repository.
  std::optional<Repository> describe_repository(const std::string& name);
  // All repositories whose name starts with `prefix` (paginated).
  std::vector<Repository> list_repositories(const std::string& prefix = "");
  // A repository's tags (ListTagsForResource).
  Tags list_tags(const std::string& repository_arn);
  // Creates the repository. `created` is false when it already existed (a
  // concurrent run may have made it first); the repository is returned either way.
  struct CreateResult {
    Repository repository;
    bool created = false;
  };
  CreateResult create_repository(const RepositorySpec& spec);
  // False when the repository does not exist. `force` deletes its images too.
  bool delete_repository(const std::string& name, bool force);

  void put_lifecycle_policy(const std::string& repository, const std::string& policy_json);
  // "MUTABLE" or "IMMUTABLE" (PutImageTagMutability).
  void put_image_tag_mutability(const std::string& repository, const std::string& mutability);
  // nullopt when the repository has none.
  std::optional<std::string> get_lifecycle_policy(const std::string& repository);

  // True when an image with this tag is in the repository.
  bool image_exists(const std::string& repository, const std::string& tag);
  // Every image id (a tagged image appears once per tag), all pages.
  std::vector<EcrImageId> list_images(const std::string& repository);
  // Every image with its size (DescribeImages, all pages); empty when there
  // is no such repository.
  std::vector<EcrImage> describe_images(const std::string& repository);
  // Deletes by tag or digest in batches of 100; returns how many were deleted
  // (ids that do not exist are not an error).
  std::size_t batch_delete_image(const std::string& repository, const std::vector<EcrImageId>& ids);
  // Tags an image from its manifest (retagging without pulling); returns its digest.
  std::string put_image(const std::string& repository, const std::string& tag, const std::string& manifest);

  // Credentials for `docker login` to the account's registry.
  EcrAuthorization get_authorization_token();

  Client& client() { return client_; }

 private:
  Client client_;
};

}  // namespace hoist::aws

#include "aws/ecr.hpp"

#include <algorithm>

#include "aws/crypto.hpp"
#include "aws/error.hpp"
#include "aws/protocols.hpp"

namespace hoist::aws {
namespace {

using nlohmann::json;

Repository parse_repository(const json& r) {
  return Repository{r.value("repositoryName", ""), r.value("repositoryUri", ""), r.value("repositoryArn", ""),
                    r.value("registryId", ""), r.value("imageTagMutability", "")};
}

json image_id_json(const EcrImageId& id) {
  json j = json::object();
  if (!id.digest.empty()) j["imageDigest"] = id.digest;
  if (!id.tag.empty()) j["imageTag"] = id.tag;
  return j;
}

}  // namespace

std::string keep_last_images_policy(int count) {
  json rule = {{"rulePriority", 1},
               {"description", "keep the last " + std::to_string(count) + " images"},
               {"selection", {{"tagStatus", "any"}, {"countType", "imageCountMoreThan"}, {"countNumber", count}}},
               {"action", {{"type", "expire"}}}};
  return json{{"rules", json::array({rule})}}.dump();
}

Ecr::Ecr(std::shared_ptr<Session> session)
    : client_(std::move(session), Service{"ecr", "ecr", Protocol::json, "AmazonEC2ContainerRegistry_V20150921"}) {}

std::optional<Repository> Ecr::describe_repository(const std::string& name) {
  try {
    auto response = json_call(client_, "DescribeRepositories", {{"repositoryNames", json::array({name})}});
    const auto& repos = response.value("repositories", json::array());
    if (repos.empty()) return std::nullopt;
    return parse_repository(repos.front());
  } catch (const AwsError& e) {
    if (e.is("RepositoryNotFoundException")) return std::nullopt;
    throw;
  }
}

std::vector<Repository> Ecr::list_repositories(const std::string& prefix) {
  std::vector<Repository> out;
  json_paginate(client_, "DescribeRepositories", json::object(), "nextToken", [&](const json& page) {
    for (const auto& r : page.value("repositories", json::array()))
      if (r.value("repositoryName", "").rfind(prefix, 0) == 0) out.push_back(parse_repository(r));
  });
  return out;
}

Tags Ecr::list_tags(const std::string& repository_arn) {
  Tags tags;
  auto response = json_call(client_, "ListTagsForResource", {{"resourceArn", repository_arn}});
  for (const auto& t : response.value("tags", json::array())) tags[t.value("Key", "")] = t.value("Value", "");
  return tags;
}

Ecr::CreateResult Ecr::create_repository(const RepositorySpec& spec) {
  json body = {{"repositoryName", spec.name},
               {"imageTagMutability", spec.image_tag_mutability},
               {"imageScanningConfiguration", {{"scanOnPush", spec.scan_on_push}}}};
  if (!spec.tags.empty()) {
    json tags = json::array();
    for (const auto& [key, value] : spec.tags) tags.push_back({{"Key", key}, {"Value", value}});
    body["tags"] = tags;
  }
  try {
    auto response = json_call(client_, "CreateRepository", body);
    return {parse_repository(response.at("repository")), true};
  } catch (const AwsError& e) {
    if (!e.is("RepositoryAlreadyExistsException")) throw;
  }
  auto existing = describe_repository(spec.name);
  // Deleted again between the two calls: vanishingly rare, and worth a retry by the caller.
  if (!existing)
    throw AwsError("ecr", "CreateRepository", "RepositoryNotFoundException",
                   "repository " + spec.name + " existed and then vanished", "", 0);
  return {*existing, false};
}

bool Ecr::delete_repository(const std::string& name, bool force) {
  try {
    json_call(client_, "DeleteRepository", {{"repositoryName", name}, {"force", force}});
    return true;
  } catch (const AwsError& e) {
    if (e.is("RepositoryNotFoundException")) return false;
    throw;
  }
}

void Ecr::put_lifecycle_policy(const std::string& repository, const std::string& policy_json) {
  json_call(client_, "PutLifecyclePolicy", {{"repositoryName", repository}, {"lifecyclePolicyText", policy_json}});
}

void Ecr::put_image_tag_mutability(const std::string& repository, const std::string& mutability) {
  json_call(client_, "PutImageTagMutability", {{"repositoryName", repository}, {"imageTagMutability", mutability}});
}

std::optional<std::string> Ecr::get_lifecycle_policy(const std::string& repository) {
  try {
    auto response = json_call(client_, "GetLifecyclePolicy", {{"repositoryName", repository}});
    return response.value("lifecyclePolicyText", "");
  } catch (const AwsError& e) {
    if (e.is("LifecyclePolicyNotFoundException")) return std::nullopt;
    throw;
  }
}

bool Ecr::image_exists(const std::string& repository, const std::string& tag) {
  try {
    auto response = json_call(client_, "DescribeImages",
                              {{"repositoryName", repository}, {"imageIds", json::array({{{"imageTag", tag}}})}});
    return !response.value("imageDetails", json::array()).empty();
  } catch (const AwsError& e) {
    if (e.is("ImageNotFoundException")) return false;
    throw;
  }
}

std::vector<EcrImageId> Ecr::list_images(const std::string& repository) {
  std::vector<EcrImageId> out;
  json_paginate(client_, "ListImages", {{"repositoryName", repository}, {"maxResults", 1000}}, "nextToken",
                [&](const json& page) {
                  for (const auto& id : page.value("imageIds", json::array()))
                    out.push_back(EcrImageId{id.value("imageDigest", ""), id.value("imageTag", "")});
                });
  return out;
}

std::vector<EcrImage> Ecr::describe_images(const std::string& repository) {
  std::vector<EcrImage> out;
  try {
    json_paginate(client_, "DescribeImages", {{"repositoryName", repository}, {"maxResults", 1000}}, "nextToken",
                  [&](const json& page) {
                    for (const auto& d : page.value("imageDetails", json::array())) {
                      EcrImage image;
                      image.digest = d.value("imageDigest", "");
                      image.size = d.value("imageSizeInBytes", std::uint64_t{0});
                      for (const auto& t : d.value("imageTags", json::array()))
                        image.tags.push_back(t.get<std::string>());
                      out.push_back(std::move(image));
                    }
                  });
  } catch (const AwsError& e) {
    if (!e.is("RepositoryNotFoundException")) throw;
  }
  return out;
}

std::size_t Ecr::batch_delete_image(const std::string& repository, const std::vector<EcrImageId>& ids) {
  std::size_t deleted = 0;
  constexpr std::size_t batch = 100;  // BatchDeleteImage's limit
  for (std::size_t start = 0; start < ids.size(); start += batch) {
    json list = json::array();
    for (std::size_t i = start; i < std::min(ids.size(), start + batch); ++i) list.push_back(image_id_json(ids[i]));
    auto response = json_call(client_, "BatchDeleteImage", {{"repositoryName", repository}, {"imageIds", list}});
    deleted += response.value("imageIds", json::array()).size();
  }
  return deleted;
}

std::string Ecr::put_image(const std::string& repository, const std::string& tag, const std::string& manifest) {
  auto response =
      json_call(client_, "PutImage", {{"repositoryName", repository}, {"imageTag", tag}, {"imageManifest", manifest}});
  return response.at("image").at("imageId").value("imageDigest", "");
}

EcrAuthorization Ecr::get_authorization_token() {
  auto response = json_call(client_, "GetAuthorizationToken", json::object());
  const auto& data = response.at("authorizationData").at(0);
  // The token is base64("AWS:<password>").
  std::string decoded = base64_decode(data.value("authorizationToken", ""));
  auto colon = decoded.find(':');
  EcrAuthorization auth;
  auth.user = decoded.substr(0, colon);
  auth.password = colon == std::string::npos ? "" : decoded.substr(colon + 1);
  auth.endpoint = data.value("proxyEndpoint", "");
  auth.expires_at = data.value("expiresAt", 0.0);
  return auth;
}

}  // namespace hoist::aws

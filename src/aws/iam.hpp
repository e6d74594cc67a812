#pragma once
// IAM (query protocol, one global endpoint): each job's role and instance
// profile, and the managed policies an administrator makes once. Creation is
// race-safe: two hoist runs may create the same thing at once, so "already
// exists" is an answer, not an error (and "no such entity", to a removal).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.hpp"

namespace hoist::aws {

using Tags = std::map<std::string, std::string>;

struct Role {
  std::string name;
  std::string arn;
  std::string path;
  std::string role_id;
  std::string assume_role_policy;    // JSON, decoded
  std::string permissions_boundary;  // the boundary policy's ARN; get_role only
  std::string create_date;           // ISO 8601
  Tags tags;                         // filled by get_role only (ListRoles returns none)
};

struct RoleSpec {
  std::string name;
  std::string path = "/";
  std::string assume_role_policy;  // JSON
  std::string description;
  Tags tags;
  int max_session_seconds = 0;       // 0: IAM's default (1 hour)
  std::string permissions_boundary;  // a managed policy's ARN, or none
};

struct ManagedPolicy {
  std::string arn;
  std::string default_version;  // "v3"
};

struct PolicyVersion {
  std::string id;
  bool is_default = false;
  std::string create_date;
};

struct InstanceProfile {
  std::string name;
  std::string arn;
  std::string path;
  std::vector<std::string> roles;  // role names
};

class Iam {
 public:
  explicit Iam(std::shared_ptr<Session> session);

  // nullopt when there is no such role.
  std::optional<Role> get_role(const std::string& name);
  // True when created; false when a role of that name already exists.
  bool create_role(const RoleSpec& spec);
  void tag_role(const std::string& name, const Tags& tags);
  // False when the role does not exist.
  bool delete_role(const std::string& name);
  // Roles whose path starts with the prefix ("/hoist/"), all pages.
  std::vector<Role> list_roles(const std::string& path_prefix = "/", int page_size = 100);

  // Inline policies (creates or replaces).
  void put_role_policy(const std::string& role, const std::string& policy_name, const std::string& policy_json);
  // The policy document as JSON, or nullopt when absent.
  std::optional<std::string> get_role_policy(const std::string& role, const std::string& policy_name);
  // False when the policy (or role) does not exist.
  bool delete_role_policy(const std::string& role, const std::string& policy_name);
  std::vector<std::string> list_role_policies(const std::string& role);

  // Managed policies, by ARN. nullopt when there is no such policy.
  std::optional<ManagedPolicy> get_policy(const std::string& arn);
  // The document of one version (JSON, decoded).
  std::string get_policy_version(const std::string& arn, const std::string& version);
  // True when created; false when a policy of that name and path exists.
  bool create_policy(const std::string& name, const std::string& path, const std::string& policy_json,
                     const std::string& description, const Tags& tags = {});
  void create_policy_version(const std::string& arn, const std::string& policy_json, bool set_default);
  std::vector<PolicyVersion> list_policy_versions(const std::string& arn);
  void delete_policy_version(const std::string& arn, const std::string& version);

  std::optional<InstanceProfile> get_instance_profile(const std::string& name);
  // True when created; false when it already exists.
  bool create_instance_profile(const std::string& name, const std::string& path = "/", const Tags& tags = {});
  // True when added; false when the profile already holds a role (a profile
  // holds at most one), e.g. because a concurrent run added it first.
  bool add_role_to_instance_profile(const std::string& profile, const std::string& role);
  // False when the role was not in the profile.
  bool remove_role_from_instance_profile(const std::string& profile, const std::string& role);
  // False when the profile does not exist.
  bool delete_instance_profile(const std::string& name);
  // Profiles whose path starts with the prefix, all pages.
  std::vector<InstanceProfile> list_instance_profiles(const std::string& path_prefix = "/", int page_size = 100);

  Client& client() { return client_; }

 private:
  Client client_;
};

}  // namespace hoist::aws

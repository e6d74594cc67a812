#include "aws/iam.hpp"

#include <algorithm>
#include <string_view>

#include "aws/error.hpp"
#include "aws/protocols.hpp"

namespace hoist::aws {
namespace {

Service iam_service() {
  return Service{"iam", "iam", Protocol::query, "2010-05-08", /*global=*/true};
}

std::string text(const pugi::xml_node& node, const char* name) {
  return node.child(name).child_value();
}

// "<Action>Result" under the response element.
pugi::xml_node result(const pugi::xml_document& doc, const std::string& action) {
  return doc.document_element().child((action + "Result").c_str());
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// IAM returns policy documents percent-encoded (RFC 3986, spaces as %20).
// '+' stays '+': it is never used for a space there.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

void add_tags(QueryParams& params, const Tags& tags) {
  std::size_t n = 0;
  for (const auto& [key, value] : tags) {
    std::string p = "Tags.member." + std::to_string(++n);
    params.emplace_back(p + ".Key", key);
    params.emplace_back(p + ".Value", value);
  }
}

Role parse_role(const pugi::xml_node& node) {
  Role r;
  r.name = text(node, "RoleName");
  r.arn = text(node, "Arn");
  r.path = text(node, "Path");
  r.role_id = text(node, "RoleId");
  r.assume_role_policy = percent_decode(text(node, "AssumeRolePolicyDocument"));
  r.permissions_boundary = node.child("PermissionsBoundary").child_value("PermissionsBoundaryArn");
  r.create_date = text(node, "CreateDate");
  for (auto m : node.child("Tags").children("member")) r.tags[text(m, "Key")] = text(m, "Value");
  return r;
}

InstanceProfile parse_profile(const pugi::xml_node& node) {
  InstanceProfile p;
  p.name = text(node, "InstanceProfileName");
  p.arn = text(node, "Arn");
  p.path = text(node, "Path");
  for (auto m : node.child("Roles").children("member")) p.roles.push_back(text(m, "RoleName"));
  return p;
}

bool no_such_entity(const AwsError& e) {
  return e.is("NoSuchEntity");
}

// Makes the call: true when it did what was asked, false when IAM answers
// with one of `already` (what was asked is already so: made by a concurrent
// run, or gone before).
bool call_unless(Client& client, const std::string& action, const QueryParams& params,
                 std::initializer_list<std::string_view> already) {
  try {
    query_call(client, action, params);
    return true;
  } catch (const AwsError& e) {
    if (std::ranges::any_of(already, [&](std::string_view code) { return e.is(code); })) return false;
    throw;
  }
}

}  // namespace

Iam::Iam(std::shared_ptr<Session> session) : client_(std::move(session), iam_service()) {}

std::optional<Role> Iam::get_role(const std::string& name) {
  try {
    auto doc = query_call(client_, "GetRole", {{"RoleName", name}});
    return parse_role(result(*doc, "GetRole").child("Role"));
  } catch (const AwsError& e) {
    if (no_such_entity(e)) return std::nullopt;
    throw;
  }
}

bool Iam::create_role(const RoleSpec& spec) {
  QueryParams p{{"RoleName", spec.name},
                {"Path", spec.path.empty() ? "/" : spec.path},
                {"AssumeRolePolicyDocument", spec.assume_role_policy}};
  if (!spec.description.empty()) p.emplace_back("Description", spec.description);
  if (spec.max_session_seconds > 0) p.emplace_back("MaxSessionDuration", std::to_string(spec.max_session_seconds));
  if (!spec.permissions_boundary.empty()) p.emplace_back("PermissionsBoundary", spec.permissions_boundary);
  add_tags(p, spec.tags);
  return call_unless(client_, "CreateRole", p, {"EntityAlreadyExists"});
}

void Iam::tag_role(const std::string& name, const Tags& tags) {
  if (tags.empty()) return;
  QueryParams p{{"RoleName", name}};
  add_tags(p, tags);
  query_call(client_, "TagRole", p);
}

bool Iam::delete_role(const std::string& name) {
  return call_unless(client_, "DeleteRole", {{"RoleName", name}}, {"NoSuchEntity"});
}

std::vector<Role> Iam::list_roles(const std::string& path_prefix, int page_size) {
  std::vector<Role> out;
  query_paginate(client_, "ListRoles",
                 {{"PathPrefix", path_prefix.empty() ? "/" : path_prefix}, {"MaxItems", std::to_string(page_size)}},
                 "Marker", "Marker", [&](const pugi::xml_document& doc) {
                   for (auto m : result(doc, "ListRoles").child("Roles").children("member"))
                     out.push_back(parse_role(m));
                 });
  return out;
}

void Iam::put_role_policy(const std::string& role, const std::string& policy_name, const std::string& policy_json) {
  query_call(client_, "PutRolePolicy",
             {{"RoleName", role}, {"PolicyName", policy_name}, {"PolicyDocument", policy_json}});
}

std::optional<std::string> Iam::get_role_policy(const std::string& role, const std::string& policy_name) {
  try {
    auto doc = query_call(client_, "GetRolePolicy", {{"RoleName", role}, {"PolicyName", policy_name}});
    return percent_decode(text(result(*doc, "GetRolePolicy"), "PolicyDocument"));
  } catch (const AwsError& e) {
    if (no_such_entity(e)) return std::nullopt;
    throw;
  }
}

bool Iam::delete_role_policy(const std::string& role, const std::string& policy_name) {
  return call_unless(client_, "DeleteRolePolicy", {{"RoleName", role}, {"PolicyName", policy_name}}, {"NoSuchEntity"});
}

std::vector<std::string> Iam::list_role_policies(const std::string& role) {
  std::vector<std::string> out;
  query_paginate(client_, "ListRolePolicies", {{"RoleName", role}}, "Marker", "Marker",
                 [&](const pugi::xml_document& doc) {
                   for (auto m : result(doc, "ListRolePolicies").child("PolicyNames").children("member"))
                     out.emplace_back(m.child_value());
                 });
  return out;
}

std::optional<ManagedPolicy> Iam::get_policy(const std::string& arn) {
  try {
    auto doc = query_call(client_, "GetPolicy", {{"PolicyArn", arn}});
    auto node = result(*doc, "GetPolicy").child("Policy");
    return ManagedPolicy{text(node, "Arn"), text(node, "DefaultVersionId")};
  } catch (const AwsError& e) {
    if (no_such_entity(e)) return std::nullopt;
    throw;
  }
}

std::string Iam::get_policy_version(const std::string& arn, const std::string& version) {
  auto doc = query_call(client_, "GetPolicyVersion", {{"PolicyArn", arn}, {"VersionId", version}});
  return percent_decode(text(result(*doc, "GetPolicyVersion").child("PolicyVersion"), "Document"));
}

bool Iam::create_policy(const std::string& name, const std::string& path, const std::string& policy_json,
                        const std::string& description, const Tags& tags) {
  QueryParams p{{"PolicyName", name}, {"Path", path.empty() ? "/" : path}, {"PolicyDocument", policy_json}};
  if (!description.empty()) p.emplace_back("Description", description);
  add_tags(p, tags);
  return call_unless(client_, "CreatePolicy", p, {"EntityAlreadyExists"});
}

void Iam::create_policy_version(const std::string& arn, const std::string& policy_json, bool set_default) {
  query_call(client_, "CreatePolicyVersion",
             {{"PolicyArn", arn}, {"PolicyDocument", policy_json}, {"SetAsDefault", set_default ? "true" : "false"}});
}

std::vector<PolicyVersion> Iam::list_policy_versions(const std::string& arn) {
  std::vector<PolicyVersion> out;
  query_paginate(
      client_, "ListPolicyVersions", {{"PolicyArn", arn}}, "Marker", "Marker", [&](const pugi::xml_document& doc) {
        for (auto m : result(doc, "ListPolicyVersions").child("Versions").children("member"))
          out.push_back(
              {text(m, "VersionId"), text(m, "IsDefaultVersion") == std::string("true"), text(m, "CreateDate")});
      });
  return out;
}

void Iam::delete_policy_version(const std::string& arn, const std::string& version) {
  query_call(client_, "DeletePolicyVersion", {{"PolicyArn", arn}, {"VersionId", version}});
}

std::optional<InstanceProfile> Iam::get_instance_profile(const std::string& name) {
  try {
    auto doc = query_call(client_, "GetInstanceProfile", {{"InstanceProfileName", name}});
    return parse_profile(result(*doc, "GetInstanceProfile").child("InstanceProfile"));
  } catch (const AwsError& e) {
    if (no_such_entity(e)) return std::nullopt;
    throw;
  }
}

bool Iam::create_instance_profile(const std::string& name, const std::string& path, const Tags& tags) {
  QueryParams p{{"InstanceProfileName", name}, {"Path", path.empty() ? "/" : path}};
  add_tags(p, tags);
  return call_unless(client_, "CreateInstanceProfile", p, {"EntityAlreadyExists"});
}

bool Iam::add_role_to_instance_profile(const std::string& profile, const std::string& role) {
  // A profile holds one role; adding a second (or the same again) is
  // LimitExceeded, which after a race means the other run got there first.
  return call_unless(client_, "AddRoleToInstanceProfile", {{"InstanceProfileName", profile}, {"RoleName", role}},
                     {"LimitExceeded", "EntityAlreadyExists"});
}

bool Iam::remove_role_from_instance_profile(const std::string& profile, const std::string& role) {
  return call_unless(client_, "RemoveRoleFromInstanceProfile", {{"InstanceProfileName", profile}, {"RoleName", role}},
                     {"NoSuchEntity"});
}

bool Iam::delete_instance_profile(const std::string& name) {
  return call_unless(client_, "DeleteInstanceProfile", {{"InstanceProfileName", name}}, {"NoSuchEntity"});
}

std::vector<InstanceProfile> Iam::list_instance_profiles(const std::string& path_prefix, int page_size) {
  std::string prefix = path_prefix.empty() ? "/" : path_prefix;
  std::vector<InstanceProfile> out;
  query_paginate(client_, "ListInstanceProfiles", {{"PathPrefix", prefix}, {"MaxItems", std::to_string(page_size)}},
                 "Marker", "Marker", [&](const pugi::xml_document& doc) {
                   for (auto m : result(doc, "ListInstanceProfiles").child("InstanceProfiles").children("member")) {
                     auto p = parse_profile(m);
                     // Filtered here too: moto ignores PathPrefix for this call.
                     if (p.path.starts_with(prefix)) out.push_back(std::move(p));
                   }
                 });
  return out;
}

}  // namespace hoist::aws

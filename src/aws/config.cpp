#include "aws/config.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "aws/error.hpp"
#include "aws/partition.hpp"
#include "util/text.hpp"

namespace hoist::aws {
namespace {

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// "~/x" -> "$HOME/x", as botocore's os.path.expanduser.
std::string expand_home(const std::string& path) {
  if (path.empty() || path[0] != '~') return path;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + path.substr(1);
}

// A missing file is an empty one, as for the aws CLI.
IniFile read_ini(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_ini(ss.str(), path);
}

// The id botocore uses for AWS_ENDPOINT_URL_<ID> and `services` sections:
// the service id snake-cased ("logs" is "CloudWatch Logs").
std::string endpoint_id(const std::string& service) {
  if (service == "logs") return "cloudwatch_logs";
  std::string id = service;
  std::replace(id.begin(), id.end(), '-', '_');
  std::replace(id.begin(), id.end(), ' ', '_');
  return ascii_lower(id);
}

bool truthy(const std::optional<std::string>& v) {
  return v && ascii_lower(trim(*v)) == "true";
}

}  // namespace

IniFile parse_ini(const std::string& text, const std::string& file_name) {
  IniFile out;
  IniSection* section = nullptr;
  std::string nested;    // the key whose indented sub-keys follow ("s3 =")
  std::string last_key;  // for configparser's continuation lines
  std::istringstream in(text);
  std::string line;
  int number = 0;
  auto fail = [&](const std::string& why) {
    throw Failure(Failure::config, file_name + ":" + std::to_string(number) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++number;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    bool indented = std::isspace(static_cast<unsigned char>(line[0])) != 0;
    if (!indented && t[0] == '[') {
      if (t.back() != ']') fail("section header without a closing ']'");
      section = &out[trim(t.substr(1, t.size() - 2))];
      nested.clear();
      last_key.clear();
      continue;
    }
    if (!section) fail("a setting before any [section]");
    auto eq = t.find('=');
    if (indented && !last_key.empty()) {
      if (!nested.empty() && eq != std::string::npos) {
        (*section)[nested + "." + ascii_lower(trim(t.substr(0, eq)))] = trim(t.substr(eq + 1));
      } else {
        (*section)[last_key] += "\n" + t;  // a continued value
      }
      continue;
    }
    if (eq == std::string::npos) fail("expected 'key = value'");
    std::string key = ascii_lower(trim(t.substr(0, eq)));
    if (key.empty()) fail("empty key");
    std::string value = trim(t.substr(eq + 1));
    (*section)[key] = value;
    last_key = key;
    nested = value.empty() ? key : std::string();
  }
  return out;
}

Config Config::load(const Overrides& overrides) {
  Config c;
  c.overrides = overrides;
  c.config_path = expand_home(c.env("AWS_CONFIG_FILE").value_or("~/.aws/config"));
  c.credentials_path = expand_home(c.env("AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"));
  c.config_file = read_ini(c.config_path);
  c.credentials_file = read_ini(c.credentials_path);

  if (!overrides.profile.empty()) {
    c.profile_name_ = overrides.profile;
  } else if (auto p = c.env("AWS_DEFAULT_PROFILE")) {
    c.profile_name_ = *p;
  } else if (auto q = c.env("AWS_PROFILE")) {
    c.profile_name_ = *q;
  } else {
    c.profile_name_ = "default";
  }
  c.profile_explicit_ = !overrides.profile.empty() || c.env("AWS_PROFILE") || c.env("AWS_DEFAULT_PROFILE");
  // botocore: ProfileNotFound for a named profile that is in neither file
  // (an unnamed default may be absent: there may be no files at all).
  if (c.profile_explicit_ && !c.has_profile(c.profile_name_)) {
    throw Failure(Failure::config, "the AWS profile '" + c.profile_name_ + "' was not found in " + c.config_path +
                                       " or " + c.credentials_path);
  }
  return c;
}

IniSection Config::profile(const std::string& name) const {
  IniSection merged;
  auto add = [&](const IniFile& file, const std::string& section) {
    if (auto it = file.find(section); it != file.end()) {
      for (const auto& [k, v] : it->second) merged[k] = v;
    }
  };
  if (name == "default") add(config_file, "default");
  add(config_file, "profile " + name);
  add(credentials_file, name);
  return merged;
}

std::optional<std::string> Config::get(const std::string& profile_name, const std::string& key) const {
  auto section = profile(profile_name);
  if (auto it = section.find(key); it != section.end()) return it->second;
  return std::nullopt;
}

bool Config::has_profile(const std::string& name) const {
  return credentials_file.contains(name) || config_file.contains("profile " + name) ||
         (name == "default" && config_file.contains("default"));
}

std::optional<std::string> Config::sso_session(const std::string& name, const std::string& key) const {
  auto it = config_file.find("sso-session " + name);
  if (it == config_file.end()) return std::nullopt;
  if (auto k = it->second.find(key); k != it->second.end()) return k->second;
  return std::nullopt;
}

std::optional<std::string> Config::region_if_set() const {
  if (!overrides.region.empty()) return overrides.region;
  if (auto r = env("AWS_REGION")) return r;
  if (auto r = env("AWS_DEFAULT_REGION")) return r;
  if (auto r = get(profile_name_, "region"); r && !r->empty()) return r;
  return std::nullopt;
}

std::string Config::region() const {
  if (auto r = region_if_set()) return *r;
  throw Failure(Failure::config, "no AWS region: pass --region or set AWS_REGION, or `aws configure set region ...`");
}

std::optional<std::string> Config::configured_endpoint(const std::string& service) const {
  if (!overrides.endpoint_url.empty()) return overrides.endpoint_url;
  if (truthy(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) ||
      truthy(get(profile_name_, "ignore_configured_endpoint_urls"))) {
    return std::nullopt;
  }
  std::string id = endpoint_id(service);
  // botocore's order: service env, global env, services section, profile.
  if (auto e = env("AWS_ENDPOINT_URL_" + upper(id))) return e;
  if (auto e = env("AWS_ENDPOINT_URL")) return e;
  if (auto services = get(profile_name_, "services")) {
    auto it = config_file.find("services " + *services);
    if (it == config_file.end()) {
      throw Failure(Failure::config, "the profile '" + profile_name_ + "' uses the services section '" + *services +
                                         "', which " + config_path + " does not define");
    }
    if (auto k = it->second.find(id + ".endpoint_url"); k != it->second.end()) return k->second;
  }
  if (auto e = get(profile_name_, "endpoint_url"); e && !e->empty()) return e;
  return std::nullopt;
}

std::string Config::endpoint(const std::string& service) const {
  std::string url = configured_endpoint(service).value_or("");
  if (!url.empty()) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  }
  const std::string r = region();
  const Partition& p = partition_of(r);
  if (service == "iam") return "https://" + std::string(p.iam_host);
  // The Price List API answers for every region from us-east-1 only.
  if (service == "pricing") return "https://api.pricing.us-east-1." + std::string(p.dns_suffix);
  return "https://" + service + "." + r + "." + std::string(p.dns_suffix);
}

bool Config::custom_endpoint(const std::string& service) const {
  auto url = configured_endpoint(service);
  if (!url) return false;
  // AWS's own endpoints are https://<name>.<partition's DNS suffix>[/...].
  std::string u = ascii_lower(*url);
  if (u.rfind("https://", 0) != 0) return true;
  return !is_aws_host(u.substr(8, u.find_first_of("/:", 8) - 8));
}

// A member, not static: the environment is part of the configuration, and
// every credential source reads it through the Config it is given.
// NOLINTNEXTLINE(readability-convert-member-functions-to-static)
std::optional<std::string> Config::env(const std::string& name) const {
  const char* v = std::getenv(name.c_str());
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

}  // namespace hoist::aws

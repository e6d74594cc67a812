#include "job/project.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "job/ignore.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;

namespace hoist::job {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::string trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  std::size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

bool is_s3_uri(const std::string& s) {
  return s.rfind("s3://", 0) == 0;
}

bool is_ami_id(const std::string& s) {
  if (!s.starts_with("ami-") || (s.size() != 4 + 8 && s.size() != 4 + 17)) return false;
  return std::all_of(s.begin() + 4, s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::chrono::seconds parse_duration(const std::string& text, const std::string& option) {
  auto bad = [&] {
    return Fatal(Exit::bad_option,
                 option + " '" + text + "' is not a duration: use a number with a unit, like 90s, 45m, 4h or 1h30m");
  };
  if (text.empty()) throw bad();
  long long total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i == text.size()) throw bad();
    long long n = std::stoll(text.substr(start, i - start));
    switch (text[i]) {
      case 's':
        total += n;
        break;
      case 'm':
        total += n * 60;
        break;
      case 'h':
        total += n * 3600;
        break;
      case 'd':
        total += n * 86400;
        break;
      default:
        throw bad();
    }
    ++i;
  }
  if (total <= 0) throw Fatal(Exit::bad_option, option + " must be longer than zero");
  if (total > 7LL * 86400)
    throw Fatal(Exit::bad_option, option + " '" + text + "' is over 7 days: pick a shorter limit");
  return std::chrono::seconds(total);
}

std::string format_duration(std::chrono::seconds s) {
  long long t = s.count();
  std::string out;
  if (t >= 3600) out += std::to_string(t / 3600) + "h";
  if (t % 3600 >= 60) out += std::to_string((t % 3600) / 60) + "m";
  if (t % 60 || t == 0) out += std::to_string(t % 60) + "s";
  return out;
}

std::map<std::string, TomlValue> parse_toml(const std::string& text, const std::string& file_name) {
  std::map<std::string, TomlValue> out;
  std::istringstream in(text);
  std::string line;
  std::string section;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto where = [&] { return file_name + ":" + std::to_string(n); };
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t[0] == '[') {
      if (t.back() != ']') throw Fatal(Exit::bad_option, where() + ": unclosed section header; write [name]");
      section = trim(t.substr(1, t.size() - 2)) + ".";
      continue;
    }
    std::size_t eq = t.find('=');
    if (eq == std::string::npos) throw Fatal(Exit::bad_option, where() + ": expected key = value");
    std::string key = section + trim(t.substr(0, eq));
    std::string v = trim(t.substr(eq + 1));
    if (!v.empty() && (v[0] == '"' || v[0] == '\'')) {
      std::size_t close = v.find(v[0], 1);
      if (close == std::string::npos) throw Fatal(Exit::bad_option, where() + ": unterminated string");
      out[key] = v.substr(1, close - 1);
    } else if (!v.empty() && v[0] == '[') {
      std::size_t close = v.rfind(']');
      if (close == std::string::npos) throw Fatal(Exit::bad_option, where() + ": unterminated array");
      std::string arr = v.substr(0, close + 1);
      for (char& c : arr)
        if (c == '\'') c = '"';
      try {
        out[key] = nlohmann::json::parse(arr).dump();
      } catch (const std::exception&) {
        throw Fatal(Exit::bad_option, where() + ": arrays must hold quoted strings");
      }
    } else {
      std::size_t hash = v.find('#');
      out[key] = trim(v.substr(0, hash));
    }
  }
  return out;
}

FileSettings apply_project_file(RunOptions& o) {
  FileSettings fs_out;
  fs::path file = fs::path(o.project_dir) / "hoist.toml";
  std::error_code ec;
  if (fs::exists(file, ec)) {
    auto kv = parse_toml(read_text(file), file.string());
    auto num = [&](const std::string& key, auto& field) {
      if (!kv.contains(key) || field != 0) return;  // already set: the option wins over the file
      try {
        std::size_t used = 0;
        double d = std::stod(kv[key], &used);
        if (used != kv[key].size() || d < 0) throw std::invalid_argument(key);
        field = static_cast<std::remove_reference_t<decltype(field)>>(d);
      } catch (const std::exception&) {
        throw Fatal(Exit::bad_option, file.string() + ": " + key + " must be a non-negative number");
      }
    };
    auto str = [&](const std::string& key, std::string& field) {
      if (kv.contains(key) && field.empty()) field = kv[key];
    };
    str("script", o.script);
    str("instance_type", o.instance_type);
    str("gpu_type", o.gpu_type);
    str("arch", o.arch);
    str("python", o.python);
    str("image", o.image);
    num("cpus", o.cpus);
    num("memory", o.memory_gib);
    num("gpus", o.gpus);
    num("budget", o.budget_usd);
    if (kv.contains("disk") && !o.disk_gib) {
      int disk = 0;
      num("disk", disk);
      o.disk_gib = disk;
    }
    if (kv.contains("spot") && !o.spot) o.spot = kv["spot"] == "true";
    if (kv.contains("spot_retries") && o.spot_retries == 0) num("spot_retries", o.spot_retries);
    if (kv.contains("spot_fallback") && !o.spot_fallback) o.spot_fallback = kv["spot_fallback"] == "true";
    str("checkpoint", o.checkpoint);
    if (kv.contains("notify") && o.notify.empty()) {
      const auto list = nlohmann::json::parse(kv["notify"], nullptr, false);
      if (!list.is_array())
        throw Fatal(Exit::bad_option, file.string() + ": notify must be a list, e.g. notify = [\"you@example.com\"]");
      for (const auto& a : list) o.notify.push_back(a.is_string() ? a.get<std::string>() : a.dump());
    }
    if (kv.contains("keep_instance") && !o.keep_instance) o.keep_instance = kv["keep_instance"] == "true";
    if (kv.contains("checkpoint_every") && o.checkpoint_every.count() == 0)
      o.checkpoint_every = parse_duration(kv["checkpoint_every"], file.string() + ": checkpoint_every");
    if (kv.contains("max_runtime") && o.max_runtime.count() == 0)
      o.max_runtime = parse_duration(kv["max_runtime"], file.string() + ": max_runtime");
    if (kv.contains("args") && o.args.empty()) {
      for (const auto& a : nlohmann::json::parse(kv["args"])) o.args.push_back(a.get<std::string>());
    }
    fs_out.region = kv.contains("region") ? kv["region"] : "";
    fs_out.profile = kv.contains("profile") ? kv["profile"] : "";
    fs_out.bucket = kv.contains("bucket") ? kv["bucket"] : "";
  }
  if (o.script.empty()) o.script = kDefaultScript;
  if (o.python.empty()) o.python = kDefaultPython;
  o.disk_chosen = o.disk_gib.has_value();
  if (!o.disk_gib) o.disk_gib = kDefaultDiskGib;
  if (o.max_runtime.count() == 0) o.max_runtime = kDefaultMaxRuntime;
  if (o.checkpoint_every.count() == 0) o.checkpoint_every = kDefaultCheckpointEvery;
  return fs_out;
}

void validate(const RunOptions& o) {
  std::error_code ec;
  fs::path dir(o.project_dir);
  if (!fs::is_directory(dir, ec))
    throw Fatal(Exit::project_missing, "project folder '" + o.project_dir +
                                           "' does not exist or is not a folder: pass the folder holding your script");
  if (!fs::is_regular_file(dir / "requirements.txt", ec))
    throw Fatal(Exit::requirements_missing,
                "no requirements.txt in '" + o.project_dir +
                    "': add one listing the packages your script imports (it may be empty)");
  if (!safe_relative_name(o.script) || !fs::is_regular_file(dir / o.script, ec))
    throw Fatal(Exit::script_missing, "entry script '" + o.script + "' not found in '" + o.project_dir +
                                          "': pass --script NAME (relative to the project folder)");
  if (o.input.empty()) throw Fatal(Exit::input_missing, "no input given: pass -i FOLDER or -i s3://BUCKET/PREFIX");
  if (!is_s3_uri(o.input)) {
    if (!fs::exists(o.input, ec))
      throw Fatal(Exit::input_missing,
                  "input '" + o.input + "' does not exist: pass an existing folder or file, or an s3:// URI");
    if (::access(o.input.c_str(), R_OK) != 0)
      throw Fatal(Exit::input_missing, "input '" + o.input + "' is not readable: check its permissions");
  }
  if (o.output.empty())
    throw Fatal(Exit::output_unwritable, "no output given: pass -o FOLDER or -o s3://BUCKET/PREFIX");
  if (!is_s3_uri(o.output)) {
    fs::path out(o.output);
    if (fs::exists(out, ec)) {
      if (!fs::is_directory(out, ec))
        throw Fatal(Exit::output_unwritable, "output '" + o.output + "' exists and is not a folder: pass a folder");
      if (::access(out.c_str(), W_OK) != 0)
        throw Fatal(Exit::output_unwritable, "output folder '" + o.output + "' is not writable: check its permissions");
    } else {
      fs::path parent = fs::absolute(out, ec).parent_path();
      while (!parent.empty() && !fs::exists(parent, ec)) parent = parent.parent_path();
      if (parent.empty() || ::access(parent.c_str(), W_OK) != 0)
        throw Fatal(Exit::output_unwritable,
                    "cannot create output folder '" + o.output + "': its parent is not writable");
    }
  }
  if (o.cpus < 0 || o.gpus < 0 || o.memory_gib < 0)
    throw Fatal(Exit::bad_option, "--cpus, --memory and --gpus must not be negative");
  if (!o.image.empty() && !is_ami_id(o.image))
    throw Fatal(
        Exit::bad_option,
        "--image '" + o.image + "' is not an AMI id: pass ami- and its 8 or 17 hex digits, e.g. ami-0abcdef1234567890");
  if ((o.spot_retries != 0 || o.spot_fallback) && !o.spot)
    throw Fatal(Exit::bad_option, std::string(o.spot_retries != 0 ? "--spot-retries" : "--spot-fallback") +
                                      " is for spot jobs: add --spot, or leave it out");
  if (o.spot_retries < 0 || o.spot_retries > kMaxSpotRetries)
    throw Fatal(Exit::bad_option, "--spot-retries " + std::to_string(o.spot_retries) + " is out of range: pick 0 to " +
                                      std::to_string(kMaxSpotRetries));
  if (!o.checkpoint.empty()) {
    if (is_s3_uri(o.checkpoint))
      throw Fatal(Exit::bad_option, "--checkpoint " + o.checkpoint +
                                        " is an S3 location: pass a local folder (the job keeps its checkpoint in "
                                        "its own record and brings it back there)");
    const fs::path cp(o.checkpoint);
    if (fs::exists(cp, ec) && !fs::is_directory(cp, ec))
      throw Fatal(Exit::bad_option, "--checkpoint '" + o.checkpoint + "' exists and is not a folder: pass a folder");
    if (o.checkpoint_every < std::chrono::seconds(30))
      throw Fatal(Exit::bad_option, "--checkpoint-every " + format_duration(o.checkpoint_every) +
                                        " is too often: pick 30s or more (each save lists the whole folder)");
  }
  for (const auto& target : o.notify) {
    if (notify_kind(target) != NotifyKind::invalid) continue;
    const bool web = target.starts_with("http:") || target.starts_with("https:");
    throw Fatal(Exit::bad_option,
                "--notify " + (web ? redact_webhook(target) : target) + " is " +
                    (web ? "not a webhook hoist may call: use https:// (plain http only to 127.0.0.1 or localhost)"
                         : "neither an e-mail address nor a webhook: pass you@example.com or https://..."));
  }
  const int disk = o.disk_gib.value_or(kDefaultDiskGib);
  if (disk < kMinDiskGib || disk > kMaxDiskGib)
    throw Fatal(Exit::bad_option, "--disk " + std::to_string(disk) + " is out of range: pick " +
                                      std::to_string(kMinDiskGib) + " to " + std::to_string(kMaxDiskGib) +
                                      " GiB, or leave it out and hoist sizes the disk");
}

NotifyKind notify_kind(const std::string& t) {
  if (t.empty() || t.size() > 254) return NotifyKind::invalid;
  for (char c : t)
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\'' || c == '\\' || c == '<' || c == '>')
      return NotifyKind::invalid;
  auto host_of = [&](std::size_t from) {
    const std::size_t end = t.find_first_of("/?#", from);
    return t.substr(from, end == std::string::npos ? std::string::npos : end - from);
  };
  if (t.starts_with("https://")) return host_of(8).empty() ? NotifyKind::invalid : NotifyKind::webhook;
  if (t.starts_with("http://")) {
    const std::string host = host_of(7);
    const std::string name = host.substr(0, host.rfind(':'));
    return name == "127.0.0.1" || name == "localhost" ? NotifyKind::webhook : NotifyKind::invalid;
  }
  const std::size_t at = t.find('@');
  if (at == 0 || at == std::string::npos || t.find('@', at + 1) != std::string::npos) return NotifyKind::invalid;
  const std::string domain = t.substr(at + 1);
  const std::size_t dot = domain.find('.');
  if (dot == std::string::npos || dot == 0 || domain.back() == '.' || t.find(':') != std::string::npos)
    return NotifyKind::invalid;
  return NotifyKind::email;
}

std::string redact_webhook(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "(a webhook)";
  const std::size_t path = url.find_first_of("/?#", scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path) + "/…";
}

std::string project_name(const RunOptions& o) {
  std::error_code ec;
  std::string name;
  fs::path file = fs::path(o.project_dir) / "hoist.toml";
  if (fs::exists(file, ec)) {
    auto kv = parse_toml(read_text(file), file.string());
    if (kv.contains("name")) name = kv["name"];
  }
  if (name.empty()) name = fs::absolute(o.project_dir, ec).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(o.project_dir, ec).lexically_normal().parent_path().filename().string();
  std::string out;
  for (char c : name) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
    if (ok)
      out += l;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 40) out.resize(40);
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty() || !(out[0] >= 'a' && out[0] <= 'z')) out = "p" + out;
  return out;
}

Manifest code_files(const std::string& project_dir) {
  IgnoreRules rules;
  for (const char* f : {".gitignore", ".hoistignore"}) {
    fs::path p = fs::path(project_dir) / f;
    std::error_code ec;
    if (fs::exists(p, ec)) rules.add(read_text(p));
  }
  auto skip = [&](const std::string& rel, bool is_dir) {
    std::string base = fs::path(rel).filename().string();
    if (is_dir) {
      if (base == ".git" || base == "__pycache__" || base == ".venv" || base == "venv" || base == ".mypy_cache" ||
          base == ".pytest_cache" || base == ".ipynb_checkpoints" || base == "node_modules")
        return true;
      std::error_code ec;
      if (fs::exists(fs::path(project_dir) / rel / "pyvenv.cfg", ec)) return true;  // any virtualenv
    } else if (base.size() > 4 && (base.ends_with(".pyc") || base.ends_with(".pyo"))) {
      return true;
    }
    return rules.ignored(rel, is_dir);
  };
  return list_files(project_dir, skip, Exit::project_missing);
}

}  // namespace hoist::job

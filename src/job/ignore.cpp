#include "job/ignore.hpp"

namespace hoist::job {
namespace {

bool match_class(std::string_view& p, char c) {
  // p starts just after '['; consumes through ']'.
  bool negate = !p.empty() && (p[0] == '!' || p[0] == '^');
  if (negate) p.remove_prefix(1);
  bool hit = false;
  bool first = true;
  while (!p.empty() && (first || p[0] != ']')) {
    first = false;
    char lo = p[0];
    if (p.size() >= 3 && p[1] == '-' && p[2] != ']') {
      if (c >= lo && c <= p[2]) hit = true;
      p.remove_prefix(3);
    } else {
      if (c == lo) hit = true;
      p.remove_prefix(1);
    }
  }
  if (!p.empty()) p.remove_prefix(1);  // ']'
  return hit != negate;
}

bool match(std::string_view p, std::string_view t) {
  while (!p.empty()) {
    if (p.substr(0, 2) == "**") {
      std::string_view rest = p.substr(2);
      if (!rest.empty() && rest[0] == '/') {
        // "**/" matches zero or more whole folders.
        rest.remove_prefix(1);
        if (match(rest, t)) return true;
        for (std::size_t i = 0; i < t.size(); ++i)
          if (t[i] == '/' && match(rest, t.substr(i + 1))) return true;
        return false;
      }
      for (std::size_t i = 0; i <= t.size(); ++i)
        if (match(rest, t.substr(i))) return true;
      return false;
    }
    char pc = p[0];
    if (pc == '*') {
      std::string_view rest = p.substr(1);
      for (std::size_t i = 0; i <= t.size(); ++i) {
        if (match(rest, t.substr(i))) return true;
        if (i < t.size() && t[i] == '/') return false;
      }
      return false;
    }
    if (t.empty()) return false;
    if (pc == '?') {
      if (t[0] == '/') return false;
      p.remove_prefix(1);
    } else if (pc == '[') {
      p.remove_prefix(1);
      if (t[0] == '/' || !match_class(p, t[0])) return false;
    } else {
      if (pc == '\\' && p.size() > 1) p.remove_prefix(1);
      if (p[0] != t[0]) return false;
      p.remove_prefix(1);
    }
    t.remove_prefix(1);
  }
  return t.empty();
}

std::string trim_trailing_spaces(std::string_view s) {
  std::size_t end = s.size();
  while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\r')) {
    if (end >= 2 && s[end - 2] == '\\') break;  // escaped space stays
    --end;
  }
  return std::string(s.substr(0, end));
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  return match(pattern, text);
}

void IgnoreRules::add(std::string_view text, const std::string& base) {
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string line =
        trim_trailing_spaces(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    if (line.empty() || line[0] == '#') continue;
    Rule r;
    r.base = base;
    if (line[0] == '!') {
      r.negate = true;
      line.erase(0, 1);
    } else if (line[0] == '\\') {
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      r.dir_only = true;
      line.pop_back();
    }
    if (line.empty()) continue;
    r.anchored = line.find('/') != std::string::npos;
    if (line[0] == '/') line.erase(0, 1);
    r.pattern = line;
    rules_.push_back(std::move(r));
  }
}

bool IgnoreRules::ignored(std::string_view path, bool is_dir) const {
  bool result = false;
  for (const Rule& r : rules_) {
    if (r.dir_only && !is_dir) continue;
    std::string_view rel = path;
    if (!r.base.empty()) {
      if (rel.size() <= r.base.size() || rel.substr(0, r.base.size()) != r.base || rel[r.base.size()] != '/') continue;
      rel.remove_prefix(r.base.size() + 1);
    }
    bool hit;
    if (r.anchored) {
      hit = match(r.pattern, rel);
    } else {
      std::size_t slash = rel.rfind('/');
      hit = match(r.pattern, slash == std::string_view::npos ? rel : rel.substr(slash + 1));
    }
    if (hit) result = !r.negate;
  }
  return result;
}

}  // namespace hoist::job

#pragma once
// .gitignore-style rules (also used for .hoistignore): globs with *, ?, **,
// [..] classes, a leading / anchoring to the folder, a trailing / matching
// folders only, and ! re-including. The last matching rule wins, as in git.
#include <string>
#include <string_view>
#include <vector>

namespace hoist::job {

class IgnoreRules {
 public:
  // Adds the rules of one file's text; `base` is the folder (relative to the
  // project root, "" for the root) holding that file.
  void add(std::string_view text, const std::string& base = "");
  // True when `path` (relative, '/'-separated) is ignored.
  [[nodiscard]] bool ignored(std::string_view path, bool is_dir) const;

 private:
  struct Rule {
    std::string base;
    std::string pattern;
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // contains a '/' other than a trailing one
  };
  std::vector<Rule> rules_;
};

// Glob match of a whole string: '*' and '?' never match '/', '**' matches
// across folders, [abc] / [!a-z] classes, '\' escapes.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace hoist::job

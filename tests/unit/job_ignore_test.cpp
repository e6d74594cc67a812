#include <gtest/gtest.h>

#include "job/ignore.hpp"

using hoist::job::glob_match;
using hoist::job::IgnoreRules;

TEST(GlobMatch, StarsQuestionMarksAndClasses) {
  EXPECT_TRUE(glob_match("*.py", "main.py"));
  EXPECT_FALSE(glob_match("*.py", "pkg/main.py"));  // '*' stops at '/'
  EXPECT_TRUE(glob_match("**/*.py", "pkg/sub/main.py"));
  EXPECT_TRUE(glob_match("**/*.py", "main.py"));  // "**/" may match nothing
  EXPECT_TRUE(glob_match("data/**", "data/a/b.csv"));
  EXPECT_TRUE(glob_match("a/**/b", "a/x/y/b"));
  EXPECT_TRUE(glob_match("file?.txt", "file1.txt"));
  EXPECT_FALSE(glob_match("file?.txt", "file10.txt"));
  EXPECT_TRUE(glob_match("[abc].txt", "b.txt"));
  EXPECT_FALSE(glob_match("[!abc].txt", "b.txt"));
  EXPECT_TRUE(glob_match("[0-9].txt", "7.txt"));
  EXPECT_TRUE(glob_match("\\*.txt", "*.txt"));
  EXPECT_FALSE(glob_match("\\*.txt", "a.txt"));
}

TEST(IgnoreRules, GitSemantics) {
  IgnoreRules r;
  r.add("# comment\n*.log\n!keep.log\n/build\ndata/\nsecret/*.key\n\n");
  EXPECT_TRUE(r.ignored("a.log", false));
  EXPECT_TRUE(r.ignored("deep/dir/a.log", false));  // no slash: matches at any depth
  EXPECT_FALSE(r.ignored("keep.log", false));       // last matching rule wins
  EXPECT_TRUE(r.ignored("build", true));            // anchored
  EXPECT_FALSE(r.ignored("src/build", true));
  EXPECT_TRUE(r.ignored("data", true));  // dir-only rule
  EXPECT_FALSE(r.ignored("data", false));
  EXPECT_TRUE(r.ignored("secret/a.key", false));
  EXPECT_FALSE(r.ignored("other/secret/a.key", false));
  EXPECT_FALSE(r.ignored("main.py", false));
}

TEST(IgnoreRules, RulesFromASubfolderApplyBelowIt) {
  IgnoreRules r;
  r.add("*.tmp\n", "pkg");
  EXPECT_TRUE(r.ignored("pkg/a.tmp", false));
  EXPECT_FALSE(r.ignored("a.tmp", false));
}

TEST(IgnoreRules, TrailingSpacesAndCarriageReturns) {
  IgnoreRules r;
  r.add("*.bak   \r\nnotes.txt\r\n");
  EXPECT_TRUE(r.ignored("x.bak", false));
  EXPECT_TRUE(r.ignored("notes.txt", false));
}

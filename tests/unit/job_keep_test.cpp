// hoist.toml's [keep] and what hoist down takes from it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "job/account.hpp"
#include "job/keep.hpp"
#include "job/teardown.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;
using namespace hoist;
using namespace hoist::job;

namespace {

struct Project {
  fs::path path;
  explicit Project(const std::string& toml) {
    std::string t = (fs::temp_directory_path() / "hoist-keep-XXXXXX").string();
    path = ::mkdtemp(t.data());
    std::ofstream(path / "hoist.toml") << toml;
  }
  ~Project() { fs::remove_all(path); }
  Project(const Project&) = delete;
  Project& operator=(const Project&) = delete;
};

std::string refusal(const std::string& toml) {
  Project p(toml);
  try {
    read_keep_settings(p.path.string());
  } catch (const Fatal& f) {
    EXPECT_EQ(f.code(), Exit::bad_option) << toml;
    return f.what();
  }
  return "";
}

}  // namespace

TEST(Keep, DefaultsAreTodays) {
  const KeepSettings k = read_keep_settings("/nonexistent/project");
  EXPECT_EQ(k.bucket, KeepUntil::keep);
  EXPECT_EQ(k.repository, KeepUntil::down);
  EXPECT_EQ(k.images_until(), KeepUntil::down);
  EXPECT_EQ(k.topic, KeepUntil::down);
  EXPECT_EQ(k.role, KeepUntil::run);
  EXPECT_EQ(k.jobs_retention_days, 0);
  EXPECT_EQ(k.images_kept, 10);
}

TEST(Keep, ReadsTheSection) {
  Project p(
      "name = \"x\"\njobs_retention = \"ignored outside [keep]\"\n[keep]\nbucket = \"down\"\nrepository = \"keep\"\n"
      "topic = \"keep\"\njobs_retention = \"30d\"\nimages_kept = 3\n");
  const KeepSettings k = read_keep_settings(p.path.string());
  EXPECT_EQ(k.bucket, KeepUntil::down);
  EXPECT_EQ(k.repository, KeepUntil::keep);
  EXPECT_EQ(k.images_until(), KeepUntil::keep);  // as the repository
  EXPECT_EQ(k.topic, KeepUntil::keep);
  EXPECT_EQ(k.jobs_retention_days, 30);
  EXPECT_EQ(k.images_kept, 3);
  EXPECT_EQ(k.role, KeepUntil::run);
  Project r("[keep]\nrole = \"down\"\n");
  EXPECT_EQ(read_keep_settings(r.path.string()).role, KeepUntil::down);
  Project q("[keep]\nimages = \"run\"\n");
  EXPECT_EQ(read_keep_settings(q.path.string()).images_until(), KeepUntil::run);
  EXPECT_EQ(read_keep_settings(q.path.string()).repository, KeepUntil::down);
}

TEST(Keep, RefusesWhatItCannotDo) {
  EXPECT_NE(refusal("[keep]\nbucket = \"run\"\n").find("set jobs_retention"), std::string::npos);
  EXPECT_NE(refusal("[keep]\nrepository = \"never\"\n").find("use \"down\", \"keep\", \"run\""), std::string::npos);
  EXPECT_NE(refusal("[keep]\nimages = \"keep\"\n").find("needs repository = \"keep\""), std::string::npos);
  for (const char* days : {"30", "0d", "3651d", "d", "1.5d", "-3d", "30h"})
    EXPECT_NE(refusal(std::string("[keep]\njobs_retention = \"") + days + "\"\n").find("jobs_retention"),
              std::string::npos)
        << days;
  for (const char* n : {"0", "1001", "2.5", "x"})
    EXPECT_NE(refusal(std::string("[keep]\nimages_kept = ") + n + "\n").find("images_kept"), std::string::npos) << n;
  EXPECT_NE(refusal("[keep]\nroles = \"keep\"\n").find("no setting 'roles'"), std::string::npos);
  EXPECT_NE(refusal("[keep]\nrole = \"forever\"\n").find("role = \"forever\" is not a choice"), std::string::npos);
}

TEST(Keep, ARoleStaysOnlyWhenItsTagSaysHowLong) {
  EXPECT_EQ(role_kept_until({}), std::nullopt);
  EXPECT_EQ(role_kept_until({{"hoist:keep", "down"}}), "down");
  EXPECT_EQ(role_kept_until({{"hoist:keep", "keep"}}), "keep");
  // anything else is not hoist's setting: the role goes with its job
  EXPECT_EQ(role_kept_until({{"hoist:keep", "run"}}), std::nullopt);
  EXPECT_EQ(role_kept_until({{"hoist:keep", "true"}}), std::nullopt);
  EXPECT_NE(kept_role_note("j-1", "down").find("`hoist down` removes it"), std::string::npos);
  EXPECT_NE(kept_role_note("j-1", "keep").find("`hoist down --only role` removes it"), std::string::npos);
}

TEST(Keep, DownOptionsNameKnownResources) {
  DownOptions o;
  o.only = {"repository", "role"};
  EXPECT_NO_THROW(check_down_options(o));
  o.only.insert("repositories");
  EXPECT_THROW(check_down_options(o), Fatal);
  o.only = {"role"};
  o.keep = {"role"};
  EXPECT_THROW(check_down_options(o), Fatal);
}

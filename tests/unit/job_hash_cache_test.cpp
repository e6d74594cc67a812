#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "aws/crypto.hpp"
#include "job/hash_cache.hpp"
#include "job/manifest.hpp"

namespace fs = std::filesystem;
using namespace hoist;
using std::chrono::system_clock;

namespace {

struct HashCacheTest : ::testing::Test {
  fs::path dir, cache_dir, root;
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "hoist-hashcache-XXXXXX").string();
    dir = ::mkdtemp(t.data());
    cache_dir = dir / "cache";
    root = dir / "data";
    fs::create_directories(root);
  }
  void TearDown() override { fs::remove_all(dir); }

  static job::FileEntry entry(std::string sha = std::string(64, 'a')) {
    job::FileEntry e;
    e.size = 10;
    e.dev = 1;
    e.ino = 2;
    e.mtime_ns = 1'000'000'000'000'000'000;  // 2001
    e.ctime_ns = 1'000'000'000'000'000'001;
    e.sha256 = std::move(sha);
    return e;
  }
  job::HashCache open() const { return {cache_dir.string(), root.string()}; }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream(root / name, std::ios::binary) << content;
  }
};

TEST_F(HashCacheTest, FindsAHashOnlyWhileTheStatIsTheSame) {
  const auto e = entry();
  {
    auto c = open();
    c.remember("a", e, system_clock::now());
    c.save();
  }
  auto c = open();
  EXPECT_EQ(c.find("a", e), e.sha256);
  EXPECT_EQ(c.find("b", e), std::nullopt);
  auto changed = [&](auto field) {
    auto f = e;
    field(f);
    return c.find("a", f);
  };
  EXPECT_EQ(changed([](auto& f) { f.size++; }), std::nullopt);
  EXPECT_EQ(changed([](auto& f) { f.dev++; }), std::nullopt);
  EXPECT_EQ(changed([](auto& f) { f.ino++; }), std::nullopt);
  EXPECT_EQ(changed([](auto& f) { f.mtime_ns++; }), std::nullopt);  // nanoseconds count
  EXPECT_EQ(changed([](auto& f) { f.ctime_ns++; }), std::nullopt);  // e.g. rewritten, then its mtime put back
}

TEST_F(HashCacheTest, AFileModifiedJustBeforeItsHashingIsNotRemembered) {
  const auto began = system_clock::now();
  const auto ns = [](system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  auto fresh_mtime = entry();
  fresh_mtime.mtime_ns = ns(began - std::chrono::seconds(1));
  auto fresh_ctime = entry();
  fresh_ctime.ctime_ns = ns(began - std::chrono::milliseconds(1500));
  auto settled = entry();
  settled.mtime_ns = settled.ctime_ns = ns(began - std::chrono::seconds(3));
  {
    auto c = open();
    c.remember("m", fresh_mtime, began);
    c.remember("c", fresh_ctime, began);
    c.remember("s", settled, began);
    c.save();
  }
  auto c = open();
  EXPECT_EQ(c.find("m", fresh_mtime), std::nullopt);
  EXPECT_EQ(c.find("c", fresh_ctime), std::nullopt);
  EXPECT_EQ(c.find("s", settled), settled.sha256);
}

TEST_F(HashCacheTest, KeepsOnlyWhatThisRunSawAndRehashForgets) {
  {
    auto c = open();
    c.remember("a", entry(), system_clock::now());
    c.remember("b", entry(), system_clock::now());
    c.save();
  }
  {
    auto c = open();
    EXPECT_TRUE(c.find("a", entry()));  // "b" is not looked at: deleted since
    c.save();
  }
  {
    auto c = open();
    EXPECT_TRUE(c.find("a", entry()));
    EXPECT_FALSE(c.find("b", entry()));
    c.forget_all();
    EXPECT_FALSE(c.find("a", entry()));
  }
}

TEST_F(HashCacheTest, DamagedOrForeignFilesAreAnEmptyCache) {
  {
    auto c = open();
    c.remember("a", entry(), system_clock::now());
    c.save();
  }
  const std::string path = open().path();
  ASSERT_TRUE(fs::exists(path));
  EXPECT_EQ(fs::status(fs::path(path).parent_path()).permissions() & fs::perms::all, fs::perms::owner_all);
  std::string text;
  {
    std::ifstream in(path);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (const std::string& bad :
       {text.substr(0, text.size() - 3), text + "zzz\n", std::string("junk\n"), std::string(""),
        // a cache that names another folder in its header
        "hoist-hash-cache v1\t/elsewhere\n" + text.substr(text.find('\n') + 1)}) {
    std::ofstream(path, std::ios::trunc) << bad;
    EXPECT_FALSE(open().find("a", entry())) << bad;
  }
  // No cache folder at all: nothing found, nothing written.
  job::HashCache none("", root.string());
  none.remember("a", entry(), system_clock::now());
  none.save();
  EXPECT_FALSE(none.find("a", entry()));
}

TEST_F(HashCacheTest, SaveRemovesTemporariesLeftByAKilledRun) {
  const std::string path = open().path();
  fs::create_directories(cache_dir);
  const fs::path stale = path + ".tmp4242-7";             // a run killed an hour ago
  const fs::path fresh = path + ".tmp4343-8";             // another run, writing now
  const fs::path other = cache_dir / "unrelated.tmp1-1";  // another folder's
  for (const auto& p : {stale, fresh, other}) std::ofstream(p) << "partial";
  const auto two_hours_ago = fs::file_time_type::clock::now() - std::chrono::hours(2);
  fs::last_write_time(stale, two_hours_ago);
  fs::last_write_time(other, two_hours_ago);
  auto c = open();
  c.remember("a", entry(), system_clock::now());
  c.save();
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(open().find("a", entry()));
}

TEST_F(HashCacheTest, DefaultDirFollowsXdgThenHome) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string old_xdg = xdg ? xdg : "";
  const std::string old_home = home ? home : "";
  ::setenv("XDG_CACHE_HOME", "/x/cache", 1);
  EXPECT_EQ(job::HashCache::default_dir(), "/x/cache/hoist/hashes");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/h", 1);
  EXPECT_EQ(job::HashCache::default_dir(), "/h/.cache/hoist/hashes");
  ::unsetenv("HOME");
  EXPECT_EQ(job::HashCache::default_dir(), "");
  if (xdg) ::setenv("XDG_CACHE_HOME", old_xdg.c_str(), 1);
  if (home) ::setenv("HOME", old_home.c_str(), 1);
}

// The whole path through hash_files: a settled file is read once, then
// trusted; rewritten with the same size and its mtime put back, it is read
// again (its ctime moved) and gets its new hash.
TEST_F(HashCacheTest, HashFilesReadsOnlyWhatChanged) {
  // One run's worth: list the folder, hash it through the cache, save the cache.
  auto run = [&] {
    auto m = job::list_files(root.string());
    auto c = open();
    auto s = job::hash_files(m, 2, &c);
    c.save();
    return std::pair{std::move(m), s};
  };
  write("a", "0123456789");
  write("b", "abcdefghij");
  std::this_thread::sleep_for(job::HashCache::kRacyWindow + std::chrono::milliseconds(200));
  auto [m1, s1] = run();
  EXPECT_EQ(s1.files_read, 2u);
  EXPECT_EQ(s1.bytes_read, 20u);
  EXPECT_EQ(s1.files_cached, 0u);

  auto [m2, s2] = run();
  EXPECT_EQ(s2.files_read, 0u);
  EXPECT_EQ(s2.files_cached, 2u);
  EXPECT_EQ(m2.at("a").sha256, aws::sha256_hex("0123456789"));
  EXPECT_EQ(m2.at("b").sha256, aws::sha256_hex("abcdefghij"));

  struct stat before {};
  ASSERT_EQ(::stat((root / "a").c_str(), &before), 0);
  write("a", "9876543210");
  const std::array<struct timespec, 2> times = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (root / "a").c_str(), times.data(), 0), 0);
  auto [m3, s3] = run();
  EXPECT_EQ(s3.files_read, 1u);
  EXPECT_EQ(s3.files_cached, 1u);
  EXPECT_EQ(m3.at("a").sha256, aws::sha256_hex("9876543210"));
}

}  // namespace

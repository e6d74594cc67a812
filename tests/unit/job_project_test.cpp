#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "job/project.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;
using namespace hoist;
using namespace hoist::job;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "hoist-test-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path); }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel) << text;
  }
};

// The Fatal's message, or "" when fn returns.
std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Fatal& f) {
    return f.what();
  }
  return "";
}

Exit code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Fatal& f) {
    return f.code();
  }
  return Exit::ok;
}

}  // namespace

TEST(Duration, ParsesUnitsAndRejectsNonsense) {
  EXPECT_EQ(parse_duration("90s", "--max-runtime").count(), 90);
  EXPECT_EQ(parse_duration("45m", "--max-runtime").count(), 2700);
  EXPECT_EQ(parse_duration("4h", "--max-runtime").count(), 14400);
  EXPECT_EQ(parse_duration("1h30m", "--max-runtime").count(), 5400);
  EXPECT_EQ(parse_duration("2d", "--max-runtime").count(), 172800);
  for (const char* bad : {"", "abc", "10", "5x", "h", "0s", "30d"})
    EXPECT_EQ(code_of([&] { parse_duration(bad, "--max-runtime"); }), Exit::bad_option) << bad;
  EXPECT_EQ(format_duration(std::chrono::seconds(5400)), "1h30m");
  EXPECT_EQ(format_duration(std::chrono::seconds(42)), "42s");
}

TEST(Toml, FlatSubset) {
  auto kv =
      parse_toml("# c\nname = \"wc\"\nspot = true\ndisk = 50 # GiB\nargs = [\"--top\", '5']\n[extra]\nx = 1\n", "t");
  EXPECT_EQ(kv["name"], "wc");
  EXPECT_EQ(kv["spot"], "true");
  EXPECT_EQ(kv["disk"], "50");
  EXPECT_EQ(kv["args"], R"(["--top","5"])");
  EXPECT_EQ(kv["extra.x"], "1");
  EXPECT_EQ(code_of([] { parse_toml("name \"x\"\n", "t"); }), Exit::bad_option);
  EXPECT_EQ(code_of([] { parse_toml("name = \"x\n", "t"); }), Exit::bad_option);
}

TEST(Project, FileSettingsFillOnlyWhatTheCommandLineLeftUnset) {
  TempDir d;
  d.write(
      "hoist.toml",
      "script = \"run.py\"\ninstance_type = \"c7i.large\"\nmax_runtime = \"2h\"\ndisk = 40\nregion = \"eu-west-1\"\n"
      "image = \"ami-0123456789abcdef0\"\n");
  RunOptions o;
  o.project_dir = d.path.string();
  o.instance_type = "t3.large";
  auto fs_settings = apply_project_file(o);
  EXPECT_EQ(o.script, "run.py");
  EXPECT_EQ(o.instance_type, "t3.large");
  EXPECT_EQ(o.max_runtime.count(), 7200);
  EXPECT_EQ(o.disk_gib, 40);
  EXPECT_EQ(o.image, "ami-0123456789abcdef0");
  EXPECT_EQ(o.python, "3.11");
  EXPECT_EQ(fs_settings.region, "eu-west-1");
}

TEST(Project, AmiIds) {
  EXPECT_TRUE(is_ami_id("ami-12345678"));
  EXPECT_TRUE(is_ami_id("ami-0123456789abcdef0"));
  EXPECT_FALSE(is_ami_id("ami-"));
  EXPECT_FALSE(is_ami_id("ami-1234567"));
  EXPECT_FALSE(is_ami_id("ami-0123456789ABCDEF0"));
  EXPECT_FALSE(is_ami_id("ami-0123456789abcdefg"));
  EXPECT_FALSE(is_ami_id("resolve:ssm:/aws/service/x"));
}

TEST(Project, ValidationExitCodes) {
  TempDir d;
  RunOptions o;
  o.project_dir = (d.path / "nope").string();
  o.script = "main.py";
  o.input = d.path.string();
  o.output = (d.path / "out").string();
  o.disk_gib = 30;
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::project_missing);
  o.project_dir = d.path.string();
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::requirements_missing);
  d.write("requirements.txt", "");
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::script_missing);
  d.write("main.py", "print(1)\n");
  o.script = "../main.py";
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::script_missing);
  o.script = "main.py";
  o.input = (d.path / "missing").string();
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::input_missing);
  o.input = d.path.string();
  o.output = (d.path / "main.py").string();  // a file, not a folder
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::output_unwritable);
  o.output = (d.path / "out").string();
  o.disk_gib = 2;
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::bad_option);
  o.disk_gib = 30;
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::ok);
  o.image = "al2023";
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::bad_option);
  o.image = "ami-0123456789abcdef0";
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::ok);
  o.input = "s3://bucket/prefix";  // checked later, against S3
  EXPECT_EQ(code_of([&] { validate(o); }), Exit::ok);
}

// `--disk 0` (or disk = 0 in hoist.toml) is refused, not taken for the
// default; left out, the default is used and may grow.
TEST(Project, DiskZeroIsRefusedNotTheDefault) {
  TempDir d;
  d.write("requirements.txt", "");
  d.write("main.py", "print(1)\n");
  RunOptions o;
  o.project_dir = d.path.string();
  o.input = d.path.string();
  o.output = (d.path / "out").string();
  auto settle = [&](std::optional<int> disk) {
    RunOptions r = o;
    r.disk_gib = disk;
    apply_project_file(r);
    return r;
  };
  const RunOptions unset = settle(std::nullopt);
  EXPECT_EQ(unset.disk_gib, kDefaultDiskGib);
  EXPECT_FALSE(unset.disk_chosen);
  EXPECT_EQ(code_of([&] { validate(unset); }), Exit::ok);
  for (int bad : {0, -5}) {
    const RunOptions r = settle(bad);
    EXPECT_TRUE(r.disk_chosen);
    EXPECT_EQ(code_of([&] { validate(r); }), Exit::bad_option) << bad;
  }
  d.write("hoist.toml", "disk = 0\n");
  EXPECT_EQ(code_of([&] { validate(settle(std::nullopt)); }), Exit::bad_option);
  d.write("hoist.toml", "disk = 50\n");
  EXPECT_EQ(settle(std::nullopt).disk_gib, 50);
  EXPECT_EQ(settle(40).disk_gib, 40);  // the command line wins
}

TEST(Project, NameIsDnsSafe) {
  TempDir d;
  fs::create_directories(d.path / "My Project_v2!");
  RunOptions o;
  o.project_dir = (d.path / "My Project_v2!").string();
  EXPECT_EQ(project_name(o), "my-project-v2");
  o.project_dir = (d.path / "My Project_v2!" / ".").string();
  EXPECT_EQ(project_name(o), "my-project-v2");
  d.write("My Project_v2!/hoist.toml", "name = \"42 Things\"\n");
  EXPECT_EQ(project_name(o), "p42-things");
}

TEST(Project, CodeFilesSkipGitVenvsCachesAndIgnored) {
  TempDir d;
  d.write("main.py", "x");
  d.write("pkg/__init__.py", "");
  d.write("pkg/mod.py", "y");
  d.write("pkg/__pycache__/mod.cpython-311.pyc", "z");
  d.write(".git/HEAD", "ref");
  d.write("env/pyvenv.cfg", "home = /usr");
  d.write("env/lib/site.py", "s");
  d.write("data/big.csv", "1,2");
  d.write("notes.log", "l");
  d.write("stray.pyc", "c");
  d.write(".gitignore", "*.log\n");
  d.write(".hoistignore", "data/\n");
  auto files = code_files(d.path.string());
  std::vector<std::string> names;
  for (auto& [n, e] : files) names.push_back(n);
  EXPECT_EQ(names,
            (std::vector<std::string>{".gitignore", ".hoistignore", "main.py", "pkg/__init__.py", "pkg/mod.py"}));
}

// Links are followed like `aws s3 sync` does, to files and to folders, the
// files listed under the link's names; a folder reached twice is listed twice.
TEST(Listing, FollowsLinksToFilesAndFolders) {
  TempDir d;
  TempDir outside;
  outside.write("shared/lib.py", "lib");
  outside.write("data.csv", "1,2");
  d.write("main.py", "x");
  fs::create_symlink(outside.path / "shared", d.path / "shared");
  fs::create_symlink(outside.path / "shared", d.path / "again");
  fs::create_symlink(outside.path / "data.csv", d.path / "input.csv");
  fs::create_symlink("main.py", d.path / "alias.py");  // relative, inside
  auto files = list_files(d.path.string());
  std::vector<std::string> names;
  for (auto& [n, e] : files) {
    names.push_back(n);
    EXPECT_TRUE(safe_relative_name(n)) << n;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"again/lib.py", "alias.py", "input.csv", "main.py", "shared/lib.py"}));
  EXPECT_EQ(files.at("input.csv").size, 3u);  // the target's stat, not the link's
  EXPECT_EQ(files.at("input.csv").path, (d.path / "input.csv").string());
  struct stat st {};
  ASSERT_EQ(::stat((outside.path / "data.csv").c_str(), &st), 0);
  EXPECT_EQ(files.at("input.csv").ino, static_cast<std::uint64_t>(st.st_ino));  // what the hash cache keys on
}

// A FIFO, a socket, a device, a link to nothing, a link to an ancestor: each
// refused with the code asked for, naming the path; a skipped one is not.
TEST(Listing, RefusesSpecialFilesDanglingLinksAndLoops) {
  auto refusal = [](const std::function<void(const fs::path&)>& make, Exit code = Exit::input_missing) {
    TempDir d;
    d.write("ok.txt", "ok");
    fs::create_directories(d.path / "sub");
    make(d.path / "sub");
    std::string message = message_of([&] { list_files(d.path.string(), {}, code); });
    EXPECT_EQ(code_of([&] { list_files(d.path.string(), {}, code); }), code) << message;
    // Skipped by name, it is no trouble.
    EXPECT_EQ(code_of([&] { list_files(d.path.string(), [](const std::string& rel, bool) { return rel == "sub"; }); }),
              Exit::ok);
    return message;
  };
  auto fifo = refusal([](const fs::path& sub) { ASSERT_EQ(::mkfifo((sub / "pipe").c_str(), 0600), 0); });
  EXPECT_NE(fifo.find("/sub/pipe is a FIFO (named pipe): hoist sends regular files only"), std::string::npos) << fifo;
  auto socket = refusal([](const fs::path& sub) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = (sub / "sock").string();
    ASSERT_LT(path.size(), sizeof(addr.sun_path));
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  });
  EXPECT_NE(socket.find("/sub/sock is a socket"), std::string::npos) << socket;
  auto device = refusal([](const fs::path& sub) { fs::create_symlink("/dev/null", sub / "null"); });
  EXPECT_NE(device.find("/sub/null is a character device"), std::string::npos) << device;
  auto dangling = refusal([](const fs::path& sub) { fs::create_symlink("gone.txt", sub / "link"); });
  EXPECT_NE(dangling.find("/sub/link is a symbolic link to nothing (gone.txt): remove it or fix its target"),
            std::string::npos)
      << dangling;
  auto loop = refusal([](const fs::path& sub) { fs::create_symlink("..", sub / "up"); }, Exit::project_missing);
  EXPECT_NE(loop.find("/sub/up is a symbolic link to a folder that holds it (a loop)"), std::string::npos) << loop;
  EXPECT_NE(loop.find(".hoistignore"), std::string::npos) << loop;  // the project's fix
}

// The project's own listing refuses with the project's code.
TEST(Listing, CodeFilesRefuseAFifoWithTheProjectsCode) {
  TempDir d;
  d.write("main.py", "x");
  ASSERT_EQ(::mkfifo((d.path / "pipe").c_str(), 0600), 0);
  EXPECT_EQ(code_of([&] { code_files(d.path.string()); }), Exit::project_missing);
  d.write(".hoistignore", "pipe\n");
  EXPECT_EQ(code_of([&] { code_files(d.path.string()); }), Exit::ok);
}

TEST(Notify, WhatANotifyTargetIs) {
  using hoist::job::notify_kind;
  using hoist::job::NotifyKind;
  EXPECT_EQ(notify_kind("you@example.com"), NotifyKind::email);
  EXPECT_EQ(notify_kind("first.last+hoist@mail.example.co.uk"), NotifyKind::email);
  EXPECT_EQ(notify_kind("https://hooks.slack.com/services/T0/B0/secret"), NotifyKind::webhook);
  EXPECT_EQ(notify_kind("http://127.0.0.1:8080/hook"), NotifyKind::webhook);
  EXPECT_EQ(notify_kind("http://localhost/hook"), NotifyKind::webhook);
  for (const std::string& bad : std::vector<std::string>{
           "", "you", "you@", "@example.com", "you@example", "a@b@example.com", "you @example.com", "you@example.com.",
           "http://hooks.example.com/x", "http://127.0.0.1.evil.example/x", "https://", "ftp://x/y", "mailto:you@x.com",
           "you@exa\"mple.com", std::string(255, 'a') + "@x.com"})
    EXPECT_EQ(notify_kind(bad), NotifyKind::invalid) << bad;
}

TEST(Notify, AWebhookIsShownWithoutItsSecret) {
  EXPECT_EQ(hoist::job::redact_webhook("https://hooks.slack.com/services/T0/B0/secret"), "https://hooks.slack.com/…");
  EXPECT_EQ(hoist::job::redact_webhook("https://example.com?token=x"), "https://example.com/…");
  EXPECT_EQ(hoist::job::redact_webhook("https://example.com"), "https://example.com");
}

// The credential chain's choices (which source wins), caching, and the
// sources that need no network. Network sources are driven end to end in
// tests/e2e/test_check.py.
#include "aws/credentials.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "aws/config.hpp"
#include "aws/credentials_sources.hpp"
#include "aws/error.hpp"
#include "support/aws_env.hpp"

namespace hoist::aws {
namespace {

using test::AwsEnv;
using namespace std::chrono_literals;

std::string source_of(const Overrides& o = {}) {
  return resolve_credentials(Config::load(o))->get().source;
}

Overrides profile(const std::string& name) {
  Overrides o;
  o.profile = name;
  return o;
}

// What `fn` writes to file descriptor 2 (a child's stderr included).
std::string stderr_of(const std::function<void()>& fn) {
  std::string name = "/tmp/hoist-stderr-XXXXXX";
  const int file = ::mkstemp(name.data());
  const int saved = ::dup(2);
  ::dup2(file, 2);
  fn();
  ::dup2(saved, 2);
  ::close(saved);
  std::ifstream in(name);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::close(file);
  ::unlink(name.c_str());
  return text;
}

std::string failure_message(const std::function<void()>& fn, Failure::Kind* kind = nullptr) {
  try {
    fn();
  } catch (const Failure& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "";
}

TEST(Credentials, EnvironmentKeys) {
  AwsEnv env;
  env.set("AWS_ACCESS_KEY_ID", "AKENV");
  env.set("AWS_SECRET_ACCESS_KEY", "SECRETENV");
  env.set("AWS_SESSION_TOKEN", "TOKENENV");
  auto c = resolve_credentials(Config::load({}))->get();
  EXPECT_EQ(c.access_key_id, "AKENV");
  EXPECT_EQ(c.secret_access_key, "SECRETENV");
  EXPECT_EQ(c.session_token, "TOKENENV");
  EXPECT_EQ(c.source, "environment");
  EXPECT_FALSE(c.expiration);
}

TEST(Credentials, EnvironmentBeatsFilesButNotCommandLineProfile) {
  AwsEnv env;
  env.set("AWS_ACCESS_KEY_ID", "AKENV");
  env.set("AWS_SECRET_ACCESS_KEY", "SECRETENV");
  env.credentials(
      "[default]\naws_access_key_id=AKDEF\naws_secret_access_key=S\n"
      "[dev]\naws_access_key_id=AKDEV\naws_secret_access_key=S\n");
  EXPECT_EQ(source_of(), "environment");
  // botocore: --profile removes the environment provider...
  auto c = resolve_credentials(Config::load(profile("dev")))->get();
  EXPECT_EQ(c.access_key_id, "AKDEV");
  EXPECT_EQ(c.source, "shared-credentials-file (profile dev)");
  // ...but AWS_PROFILE does not: environment keys still win, as in the aws CLI.
  env.set("AWS_PROFILE", "dev");
  EXPECT_EQ(source_of(), "environment");
  env.unset("AWS_ACCESS_KEY_ID");
  env.unset("AWS_SECRET_ACCESS_KEY");
  EXPECT_EQ(source_of(), "shared-credentials-file (profile dev)");
}

TEST(Credentials, PartialEnvironmentKeysAreFatal) {
  AwsEnv env;
  env.set("AWS_ACCESS_KEY_ID", "AKENV");
  Failure::Kind code{};
  auto m = failure_message([] { source_of(); }, &code);
  EXPECT_EQ(code, Failure::config);
  EXPECT_NE(m.find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

TEST(Credentials, SharedFileBeatsConfigFile) {
  AwsEnv env;
  env.config(
      "[profile p]\naws_access_key_id=AKCFG\naws_secret_access_key=S\n"
      "[default]\naws_access_key_id=AKCFGDEF\naws_secret_access_key=S\naws_session_token=T\n");
  EXPECT_EQ(source_of(profile("p")), "config-file (profile p)");
  auto c = resolve_credentials(Config::load({}))->get();
  EXPECT_EQ(c.source, "config-file (profile default)");
  EXPECT_EQ(c.session_token, "T");
  env.credentials("[p]\naws_access_key_id=AKCRED\naws_secret_access_key=S\n");
  auto d = resolve_credentials(Config::load(profile("p")))->get();
  EXPECT_EQ(d.access_key_id, "AKCRED");
  EXPECT_EQ(d.source, "shared-credentials-file (profile p)");
}

TEST(Credentials, PartialFileKeysAreFatal) {
  AwsEnv env;
  env.credentials("[default]\naws_access_key_id=AK\n");
  Failure::Kind code{};
  auto m = failure_message([] { source_of(); }, &code);
  EXPECT_EQ(code, Failure::config);
  EXPECT_NE(m.find("partial credentials"), std::string::npos) << m;
}

TEST(Credentials, NothingFound) {
  AwsEnv env;
  Failure::Kind code{};
  auto m = failure_message([] { source_of(); }, &code);
  EXPECT_EQ(code, Failure::config);
  EXPECT_EQ(m,
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws "
            "configure`");
}

TEST(Credentials, ImdsUnreachableMeansNothingFound) {
  AwsEnv env;
  env.unset("AWS_EC2_METADATA_DISABLED");
  env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");  // discard port: refused at once
  EXPECT_NE(failure_message([] { source_of(); }).find("no AWS credentials found"), std::string::npos);
}

TEST(Credentials, CredentialProcess) {
  AwsEnv env;
  std::string script = env.write("proc.sh",
                                 "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKPROC\", "
                                 "\"SecretAccessKey\": \"SPROC\", \"SessionToken\": \"TPROC\", "
                                 "\"Expiration\": \"2099-01-01T00:00:00Z\"}'\n");
  ::chmod(script.c_str(), 0755);
  std::string failing =
      env.write("fail.sh", "#!/bin/sh\necho 'token expired: log in again' >&2\necho more >&2\nexit 3\n");
  ::chmod(failing.c_str(), 0755);
  env.config("[profile p]\ncredential_process = " + script + " --flag\n[profile bad]\ncredential_process = " + failing +
             "\n[profile v2]\ncredential_process = echo '{\"Version\": 2}'\n");
  auto c = resolve_credentials(Config::load(profile("p")))->get();
  EXPECT_EQ(c.access_key_id, "AKPROC");
  EXPECT_EQ(c.session_token, "TPROC");
  EXPECT_EQ(c.source, "credential-process (profile p)");
  ASSERT_TRUE(c.expiration);
  EXPECT_EQ(*c.expiration, sources::parse_time("2099-01-01T00:00:00Z"));

  Failure::Kind code{};
  std::string m;
  // What the command says on stderr reaches the terminal as it is written
  // (an MFA prompt, a login hint), not a summary of it afterwards.
  const std::string said = stderr_of([&] { m = failure_message([] { source_of(profile("bad")); }, &code); });
  EXPECT_EQ(code, Failure::config);
  EXPECT_NE(m.find("exited with status 3"), std::string::npos) << m;
  EXPECT_EQ(said, "token expired: log in again\nmore\n");
  EXPECT_NE(failure_message([] { source_of(profile("v2")); }).find("Version"), std::string::npos);
}

// A command that hangs (a prompt nobody answers, a helper waiting on the
// network) is stopped after the timeout, with exit 3 and the knob to turn.
TEST(Credentials, CredentialProcessTimesOutAndIsStopped) {
  AwsEnv env;
  const std::string pid_file = env.write("pid", "");
  std::string slow = env.write("slow.sh", "#!/bin/sh\necho $$ > " + pid_file + "\nexec sleep 30\n");
  ::chmod(slow.c_str(), 0755);
  env.config("[profile slow]\ncredential_process = " + slow + "\n");
  ::setenv("HOIST_CREDENTIAL_PROCESS_TIMEOUT", "1", 1);
  const auto t0 = std::chrono::steady_clock::now();
  Failure::Kind code{};
  const auto m = failure_message([] { source_of(profile("slow")); }, &code);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(code, Failure::config);
  EXPECT_NE(m.find("did not finish within 1 s and was stopped"), std::string::npos) << m;
  EXPECT_NE(m.find("HOIST_CREDENTIAL_PROCESS_TIMEOUT"), std::string::npos) << m;
  EXPECT_LT(took, 5s);
  std::ifstream in(pid_file);
  pid_t pid = 0;
  in >> pid;
  ASSERT_GT(pid, 0);
  // sh started the script as a child of its own: it is stopped too (gone, or
  // a zombie where PID 1 does not reap). A killed process may still run a
  // moment on a loaded machine, until it is scheduled to die: a few tries.
  bool stopped = false;
  std::string seen;
  for (int i = 0; i < 40 && !stopped; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field;
    std::string comm;
    std::string state;
    stat >> pid_field >> comm >> state;
    // Gone, a zombie, or its pid already another process's.
    stopped = !stat || state == "Z" || comm != "(sleep)";
    seen.assign(comm).append(" ").append(state);
    if (!stopped) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(stopped) << "pid " << pid << " is " << seen;
  ::setenv("HOIST_CREDENTIAL_PROCESS_TIMEOUT", "soon", 1);
  EXPECT_NE(failure_message([] { source_of(profile("slow")); }).find("not a number of seconds"), std::string::npos);
  ::unsetenv("HOIST_CREDENTIAL_PROCESS_TIMEOUT");
}

TEST(Credentials, ProcessComesAfterSharedFileButBeforeConfigKeys) {
  AwsEnv env;
  env.config(
      "[profile p]\naws_access_key_id=AKCFG\naws_secret_access_key=S\n"
      "credential_process = echo '{\"Version\":1,\"AccessKeyId\":\"AKPROC\",\"SecretAccessKey\":\"S\"}'\n");
  EXPECT_EQ(source_of(profile("p")), "credential-process (profile p)");
  env.credentials("[p]\naws_access_key_id=AKCRED\naws_secret_access_key=S\n");
  EXPECT_EQ(source_of(profile("p")), "shared-credentials-file (profile p)");
}

TEST(Credentials, AssumeRoleConfigErrors) {
  AwsEnv env;
  env.config(
      "[profile nosrc]\nrole_arn = arn:aws:iam::123456789012:role/r\n"
      "[profile missing]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = ghost\n"
      "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = b\n"
      "[profile b]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = a\n"
      "[profile both]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = a\n"
      "credential_source = Environment\n"
      "[profile weird]\nrole_arn = arn:aws:iam::123456789012:role/r\ncredential_source = Moon\n"
      "[profile noenv]\nrole_arn = arn:aws:iam::123456789012:role/r\ncredential_source = Environment\n");
  EXPECT_NE(failure_message([] { source_of(profile("nosrc")); }).find("needs source_profile"), std::string::npos);
  EXPECT_NE(failure_message([] { source_of(profile("missing")); }).find("'ghost' does not exist"), std::string::npos);
  EXPECT_NE(failure_message([] { source_of(profile("a")); }).find("loop"), std::string::npos);
  EXPECT_NE(failure_message([] { source_of(profile("both")); }).find("not both"), std::string::npos);
  EXPECT_NE(failure_message([] { source_of(profile("weird")); }).find("Moon"), std::string::npos);
  EXPECT_NE(failure_message([] { source_of(profile("noenv")); }).find("has no credentials"), std::string::npos);
}

TEST(Credentials, AssumeRoleIsChosenBeforeTheProfilesOwnKeys) {
  AwsEnv env;
  // A profile naming itself as source_profile uses its own static keys to
  // assume the role (botocore allows exactly this loop).
  env.credentials("[self]\naws_access_key_id=AK\naws_secret_access_key=S\n");
  env.config("[profile self]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = self\n");
  // Resolving must not call STS yet (credentials are fetched lazily).
  auto p = resolve_credentials(Config::load(profile("self")));
  ASSERT_NE(p, nullptr);
}

TEST(Credentials, WebIdentityNeedsARole) {
  AwsEnv env;
  env.set("AWS_WEB_IDENTITY_TOKEN_FILE", env.write("token", "jwt"));
  EXPECT_NE(failure_message([] { source_of(); }).find("AWS_ROLE_ARN"), std::string::npos);
}

TEST(Credentials, SsoWithoutCachedTokenTellsToLogIn) {
  AwsEnv env;
  env.config(
      "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n"
      "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n");
  Failure::Kind code{};
  auto m = failure_message([] { source_of(profile("dev")); }, &code);
  EXPECT_EQ(code, Failure::config);
  EXPECT_NE(m.find("aws sso login --profile dev"), std::string::npos) << m;
  // The cache file is named by the SHA-1 of the session name, as botocore's:
  // once present (and expired), the message changes.
  env.write(".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json",
            R"({"accessToken": "tok", "expiresAt": "2001-01-01T00:00:00Z"})");
  m = failure_message([] { source_of(profile("dev")); });
  EXPECT_NE(m.find("has expired"), std::string::npos) << m;
}

TEST(Credentials, SsoExpiredToken) {
  AwsEnv env;
  env.config(
      "[profile old]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n"
      "sso_account_id = 123456789012\nsso_role_name = Dev\n");
  // Legacy profiles: the SHA-1 of the start URL.
  env.write(".aws/sso/cache/a51746d4aa793ae07b25e90c3a5db96fc7832bd7.json",
            R"({"accessToken": "tok", "expiresAt": "2001-01-01T00:00:00UTC"})");
  std::string m = failure_message([] { source_of(profile("old")); });
  EXPECT_NE(m.find("has expired"), std::string::npos) << m;
  EXPECT_NE(m.find("aws sso login --profile old"), std::string::npos) << m;
}

TEST(Credentials, ContainerFullUriMustBeLoopbackOrHttps) {
  AwsEnv env;
  env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds");
  EXPECT_NE(failure_message([] { source_of(); }).find("loopback"), std::string::npos);
  env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds");
  EXPECT_NO_THROW(resolve_credentials(Config::load({})));  // chosen; fetched lazily
}

class CountingProvider : public CredentialProvider {
 public:
  std::chrono::system_clock::duration lifetime = 1h;
  int fetches = 0;

 protected:
  Credentials fetch() override {
    ++fetches;
    Credentials c;
    c.access_key_id = "AK" + std::to_string(fetches);
    c.expiration = std::chrono::system_clock::now() + lifetime;
    return c;
  }
};

TEST(CredentialProvider, CachesUntilNearExpiry) {
  CountingProvider p;
  EXPECT_EQ(p.get().access_key_id, "AK1");
  EXPECT_EQ(p.get().access_key_id, "AK1");
  EXPECT_EQ(p.fetches, 1);
  p.invalidate();
  EXPECT_EQ(p.get().access_key_id, "AK2");
  // Within the 5-minute refresh margin: fetched on every get.
  CountingProvider q;
  q.lifetime = 4min;
  q.get();
  q.get();
  EXPECT_EQ(q.fetches, 2);
}

TEST(ParseTime, Forms) {
  auto base = sources::parse_time("2024-05-06T07:08:09Z");
  EXPECT_EQ(std::chrono::system_clock::to_time_t(base), 1714979289);
  EXPECT_EQ(sources::parse_time("2024-05-06T07:08:09.123Z"), base);
  EXPECT_EQ(sources::parse_time("2024-05-06T07:08:09UTC"), base);
  EXPECT_EQ(sources::parse_time("2024-05-06T09:08:09+02:00"), base);
  EXPECT_THROW(sources::parse_time("yesterday"), std::invalid_argument);
}

}  // namespace
}  // namespace hoist::aws

// The aws CLI's configuration: INI dialect, profiles, region and endpoint
// precedence (botocore's answers).
#include "aws/config.hpp"

#include <gtest/gtest.h>

#include "aws/error.hpp"
#include "aws/partition.hpp"
#include "support/aws_env.hpp"

namespace hoist::aws {
namespace {

using test::AwsEnv;

std::optional<Failure::Kind> failure_kind(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Failure& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  return std::nullopt;
}

TEST(ParseIni, SectionsKeysAndComments) {
  auto ini = parse_ini(
      "# comment\n"
      "; another\n"
      "[default]\n"
      "Region = eu-west-1\n"
      "aws_access_key_id=AKID\n"
      "\n"
      "[profile dev]\r\n"
      "  region  =   us-east-2  \r\n"
      "output = json\n",
      "cfg");
  ASSERT_EQ(ini.size(), 2u);
  EXPECT_EQ(ini["default"]["region"], "eu-west-1");  // keys lower-cased
  EXPECT_EQ(ini["default"]["aws_access_key_id"], "AKID");
  EXPECT_EQ(ini["profile dev"]["region"], "us-east-2");
  EXPECT_EQ(ini["profile dev"]["output"], "json");
}

TEST(ParseIni, NestedSectionsAreFlattened) {
  auto ini = parse_ini(
      "[services local]\n"
      "s3 =\n"
      "  endpoint_url = http://127.0.0.1:9000\n"
      "  addressing_style = path\n"
      "sts =\n"
      "  endpoint_url = http://127.0.0.1:9001\n"
      "[profile x]\n"
      "region = us-west-2\n",
      "cfg");
  EXPECT_EQ(ini["services local"]["s3.endpoint_url"], "http://127.0.0.1:9000");
  EXPECT_EQ(ini["services local"]["s3.addressing_style"], "path");
  EXPECT_EQ(ini["services local"]["sts.endpoint_url"], "http://127.0.0.1:9001");
  EXPECT_EQ(ini["profile x"]["region"], "us-west-2");
}

TEST(ParseIni, ErrorsNameFileAndLine) {
  std::string message;
  EXPECT_EQ(failure_kind([] { parse_ini("region = x\n", "/tmp/cfg"); }, &message), Failure::config);
  EXPECT_NE(message.find("/tmp/cfg:1"), std::string::npos) << message;
  EXPECT_EQ(failure_kind([] { parse_ini("[default]\nok = 1\nnot a setting\n", "f"); }, &message), Failure::config);
  EXPECT_NE(message.find("f:3"), std::string::npos) << message;
  EXPECT_EQ(failure_kind([] { parse_ini("[default\n", "f"); }), Failure::config);
}

TEST(Config, ProfileSelection) {
  AwsEnv env;
  env.config("[default]\nregion=us-east-1\n[profile a]\nregion=eu-west-1\n[profile b]\nregion=eu-west-2\n");
  EXPECT_EQ(Config::load({}).profile_name(), "default");
  EXPECT_FALSE(Config::load({}).profile_explicit());
  env.set("AWS_PROFILE", "a");
  EXPECT_EQ(Config::load({}).profile_name(), "a");
  EXPECT_TRUE(Config::load({}).profile_explicit());
  EXPECT_FALSE(Config::load({}).profile_from_command_line());
  env.set("AWS_DEFAULT_PROFILE", "b");  // botocore reads it before AWS_PROFILE
  EXPECT_EQ(Config::load({}).profile_name(), "b");
  Overrides o;
  o.profile = "a";
  auto c = Config::load(o);
  EXPECT_EQ(c.profile_name(), "a");
  EXPECT_TRUE(c.profile_from_command_line());
}

TEST(Config, UnknownProfileIsFatalAndNamesTheFiles) {
  AwsEnv env;
  env.config("[profile a]\nregion=eu-west-1\n");
  Overrides o;
  o.profile = "nope";
  std::string message;
  EXPECT_EQ(failure_kind([&] { Config::load(o); }, &message), Failure::config);
  EXPECT_NE(message.find("'nope'"), std::string::npos) << message;
  EXPECT_NE(message.find(env.dir() + "/config"), std::string::npos) << message;
  EXPECT_NE(message.find(env.dir() + "/credentials"), std::string::npos) << message;
  // A missing default profile is fine: there may be no files at all.
  EXPECT_EQ(failure_kind([] { Config::load({}); }), std::nullopt);
}

TEST(Config, CredentialsFileOverridesConfigFile) {
  AwsEnv env;
  env.config("[profile p]\nregion=eu-west-1\naws_access_key_id=FROMCONFIG\n[default]\nregion=us-west-1\n");
  env.credentials("[p]\naws_access_key_id=FROMCREDS\n[only]\nregion=ap-south-1\n");
  auto c = Config::load({});
  EXPECT_EQ(c.get("p", "aws_access_key_id"), "FROMCREDS");
  EXPECT_EQ(c.get("p", "region"), "eu-west-1");
  EXPECT_EQ(c.get("default", "region"), "us-west-1");
  EXPECT_TRUE(c.has_profile("only"));  // a profile only in the credentials file
  EXPECT_FALSE(c.has_profile("missing"));
  EXPECT_EQ(c.get("missing", "region"), std::nullopt);
}

TEST(Config, BareSectionInConfigFileIsNotAProfile) {
  AwsEnv env;
  env.config("[dev]\nregion=eu-west-1\n");
  auto c = Config::load({});
  EXPECT_FALSE(c.has_profile("dev"));
}

TEST(Config, RegionPrecedence) {
  AwsEnv env;
  env.config("[default]\nregion=eu-west-3\n");
  EXPECT_EQ(Config::load({}).region(), "eu-west-3");
  env.set("AWS_DEFAULT_REGION", "eu-west-2");
  EXPECT_EQ(Config::load({}).region(), "eu-west-2");
  env.set("AWS_REGION", "eu-west-1");
  EXPECT_EQ(Config::load({}).region(), "eu-west-1");
  Overrides o;
  o.region = "ap-northeast-1";
  EXPECT_EQ(Config::load(o).region(), "ap-northeast-1");
}

TEST(Config, MissingRegionIsFatal) {
  AwsEnv env;
  auto c = Config::load({});
  EXPECT_EQ(c.region_if_set(), std::nullopt);
  std::string message;
  EXPECT_EQ(failure_kind([&] { (void)c.region(); }, &message), Failure::config);
  EXPECT_NE(message.find("no AWS region"), std::string::npos);
}

// Per region, by the region's partition: China has its own DNS suffix, and
// China and GovCloud their own IAM endpoints (botocore's endpoints.json).
TEST(Config, DefaultEndpoints) {
  AwsEnv env;
  struct Case {
    const char *region, *s3, *iam;
  };
  for (const Case& c :
       {Case{"eu-central-1", "https://s3.eu-central-1.amazonaws.com", "https://iam.amazonaws.com"},
        Case{"cn-northwest-1", "https://s3.cn-northwest-1.amazonaws.com.cn", "https://iam.cn-north-1.amazonaws.com.cn"},
        Case{"us-gov-west-1", "https://s3.us-gov-west-1.amazonaws.com", "https://iam.us-gov.amazonaws.com"}}) {
    env.set("AWS_REGION", c.region);
    auto config = Config::load({});
    EXPECT_EQ(config.endpoint("s3"), c.s3);
    EXPECT_EQ(config.endpoint("iam"), c.iam);
    EXPECT_FALSE(config.custom_endpoint("s3"));
  }
  env.set("AWS_REGION", "eu-central-1");
  auto c = Config::load({});
  EXPECT_EQ(c.endpoint("sts"), "https://sts.eu-central-1.amazonaws.com");
  EXPECT_EQ(c.endpoint("logs"), "https://logs.eu-central-1.amazonaws.com");
  EXPECT_TRUE(c.s3_path_style());
}

TEST(Partition, ByRegionName) {
  EXPECT_EQ(partition_of("eu-west-3").name, "aws");
  EXPECT_EQ(partition_of("us-east-1").name, "aws");
  EXPECT_EQ(partition_of("cn-north-1").name, "aws-cn");
  EXPECT_EQ(partition_of("us-gov-east-1").name, "aws-us-gov");
  EXPECT_EQ(partition_of("us-iso-east-1").name, "aws-iso");
  EXPECT_EQ(partition_of("us-isob-east-1").name, "aws-iso-b");
  EXPECT_EQ(partition_of("").name, "aws");
  EXPECT_TRUE(is_aws_host("s3.cn-north-1.amazonaws.com.cn"));
  EXPECT_TRUE(is_aws_host("sts.us-east-1.amazonaws.com"));
  EXPECT_FALSE(is_aws_host("amazonaws.com"));
  EXPECT_FALSE(is_aws_host("evilamazonaws.com"));
  EXPECT_FALSE(is_aws_host("s3.amazonaws.com.example.org"));
}

TEST(Config, EndpointPrecedence) {
  AwsEnv env;
  env.set("AWS_REGION", "us-east-1");
  env.config(
      "[default]\nendpoint_url = http://127.0.0.1:1/\nservices = local\n"
      "[services local]\ns3 =\n  endpoint_url = http://127.0.0.1:2\n"
      "logs =\n  endpoint_url = http://127.0.0.1:8\n");
  EXPECT_EQ(Config::load({}).endpoint("sts"), "http://127.0.0.1:1");  // profile endpoint_url
  EXPECT_EQ(Config::load({}).endpoint("s3"), "http://127.0.0.1:2");   // services section
  env.set("AWS_ENDPOINT_URL", "http://127.0.0.1:3");
  EXPECT_EQ(Config::load({}).endpoint("s3"), "http://127.0.0.1:3");  // global env beats the files
  env.set("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4");
  EXPECT_EQ(Config::load({}).endpoint("s3"), "http://127.0.0.1:4");
  EXPECT_EQ(Config::load({}).endpoint("sts"), "http://127.0.0.1:3");
  env.set("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:5");
  EXPECT_EQ(Config::load({}).endpoint("logs"), "http://127.0.0.1:5");
  Overrides o;
  o.endpoint_url = "http://127.0.0.1:6";
  EXPECT_EQ(Config::load(o).endpoint("s3"), "http://127.0.0.1:6");  // --endpoint-url beats all
  EXPECT_TRUE(Config::load(o).custom_endpoint("s3"));
  env.set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
  EXPECT_EQ(Config::load({}).endpoint("s3"), "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(Config::load(o).endpoint("s3"), "http://127.0.0.1:6");  // the command line still counts
}

TEST(Config, MissingServicesSectionIsFatal) {
  AwsEnv env;
  env.set("AWS_REGION", "us-east-1");
  env.config("[default]\nservices = nowhere\n");
  EXPECT_EQ(failure_kind([] { (void)Config::load({}).endpoint("s3"); }), Failure::config);
}

TEST(Config, CustomEndpointDetection) {
  AwsEnv env;
  env.set("AWS_REGION", "us-east-1");
  env.set("AWS_ENDPOINT_URL_STS", "https://sts.us-east-1.amazonaws.com");
  env.set("AWS_ENDPOINT_URL_S3", "https://minio.example.com");
  env.set("AWS_ENDPOINT_URL_SSM", "https://ssm.cn-north-1.amazonaws.com.cn");
  env.set("AWS_ENDPOINT_URL_EC2", "https://ec2.amazonaws.com.evil.example");
  auto c = Config::load({});
  EXPECT_FALSE(c.custom_endpoint("sts"));
  EXPECT_TRUE(c.custom_endpoint("s3"));
  EXPECT_FALSE(c.custom_endpoint("ssm"));
  EXPECT_TRUE(c.custom_endpoint("ec2"));
}

TEST(Config, SsoSessionSection) {
  AwsEnv env;
  env.config("[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n");
  auto c = Config::load({});
  EXPECT_EQ(c.sso_session("corp", "sso_region"), "eu-west-1");
  EXPECT_EQ(c.sso_session("other", "sso_region"), std::nullopt);
}

}  // namespace
}  // namespace hoist::aws

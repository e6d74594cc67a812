#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <tuple>

#include "aws/credentials.hpp"
#include "aws/crypto.hpp"
#include "aws/partition.hpp"
#include "aws/s3.hpp"
#include "job/launcher.hpp"
#include "job/naming.hpp"
#include "job/reporter.hpp"
#include "support/fault_server.hpp"
#include "util/embedded.hpp"
#include "util/error.hpp"

namespace {
hoist::job::SilentReporter quiet;  // what launch_instance says is not under test here

hoist::job::LoaderValues loader_values() {
  return {"hoist-123456789012-us-east-1", "wc-20261124-031500-ab12", "us-east-1", "123456789012",
          std::chrono::seconds(14520)};
}

// Every @NAME@ (NAME in [A-Z0-9_]) still in the text.
std::vector<std::string> placeholders_in(const std::string& text) {
  std::vector<std::string> found;
  static const std::regex re("@[A-Z0-9_]+@");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    found.push_back(it->str());
  return found;
}
}  // namespace

TEST(UserData, TheLoaderWithEveryValueQuoted) {
  const std::string ud = hoist::job::user_data(loader_values());
  EXPECT_EQ(ud.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_TRUE(placeholders_in(ud).empty()) << ud;
  for (const char* assignment :
       {"HOIST_BUCKET='hoist-123456789012-us-east-1'", "HOIST_JOB_ID='wc-20261124-031500-ab12'",
        "HOIST_REGION='us-east-1'", "HOIST_ACCOUNT='123456789012'",
        "HOIST_S3_ENDPOINT='https://s3.us-east-1.amazonaws.com'",
        // the fallback power-off at the job's own limit, unless the host runner says otherwise
        "HOIST_FALLBACK_MAX_RUNTIME=${HOIST_FALLBACK_MAX_RUNTIME:-'14520'}"})
    EXPECT_NE(ud.find(assignment), std::string::npos) << assignment;
  EXPECT_EQ(ud.find("AWS_SECRET_ACCESS_KEY="), std::string::npos);  // no secrets in user data
}

TEST(UserData, NamesTheEmbeddedAgentByItsHash) {
  const std::string_view bundle = hoist::embedded::get("agent.pyz");
  ASSERT_GT(bundle.size(), 1000u);
  ASSERT_EQ(bundle.substr(0, 4), std::string_view("PK\x03\x04", 4));  // a zip
  const std::string sha = hoist::aws::sha256_hex(bundle);
  EXPECT_EQ(hoist::job::agent_bundle().sha256, sha);
  EXPECT_EQ(hoist::job::agent_bundle().key(), "blobs/sha256/" + sha);
  EXPECT_NE(hoist::job::user_data(loader_values()).find("HOIST_AGENT_SHA256='" + sha + "'"), std::string::npos);
  // The old way (the agent inlined into the user data) is gone.
  EXPECT_TRUE(hoist::embedded::get("agent/agent.py").empty());
}

TEST(UserData, FitsInFourKilobytesWhateverTheNames) {
  // The longest names B1 allows: a 40-character project in the job id, and a
  // bucket of S3's 63 characters, which leaves hoist-<account>-<region> a
  // 44-character region (real ones have at most 19); in China's partition,
  // whose S3 endpoint is the longest; and the longest --max-runtime, 7 days.
  const std::string region = "cn-" + std::string(41, 'x');
  const hoist::job::LoaderValues longest{"hoist-123456789012-" + region, std::string(40, 'p') + "-20261124-031500-ab12",
                                         region, "123456789012",
                                         std::chrono::hours(7 * 24) + hoist::job::kFallbackGrace};
  ASSERT_EQ(longest.bucket.size(), 63u);
  ASSERT_TRUE(hoist::job::valid_job_id(longest.job_id));
  const std::string ud = hoist::job::user_data(longest);
  EXPECT_LE(ud.size(), 4096u);
  EXPECT_NE(ud.find("HOIST_S3_ENDPOINT='https://s3." + region + ".amazonaws.com.cn'"), std::string::npos);
  EXPECT_TRUE(placeholders_in(ud).empty());
  std::cout << "user data: " << hoist::job::user_data(loader_values()).size() << " bytes, at most " << ud.size()
            << "\n";
}

TEST(UserData, RefusesAValueWithAQuote) {
  auto values = loader_values();
  values.job_id = "it's";
  EXPECT_THROW(hoist::job::user_data(values), std::invalid_argument);
  values = loader_values();
  values.bucket = "b'; rm -rf /; '";
  EXPECT_THROW(hoist::job::user_data(values), std::invalid_argument);
}

TEST(UserData, RefusesNoMaxRuntime) {
  // A loader that powered off at once (sleep 0) would end every job.
  auto values = loader_values();
  values.max_runtime = std::chrono::seconds(0);
  EXPECT_THROW(hoist::job::user_data(values), std::invalid_argument);
}

TEST(UserData, TheLoaderIsValidBash) {
  const std::string ud = hoist::job::user_data(loader_values());
  const std::string path = ::testing::TempDir() + "/hoist-user-data.sh";
  {
    std::ofstream out(path, std::ios::binary);
    out << ud;
  }
  EXPECT_EQ(std::system(("bash -n " + path).c_str()), 0);
  std::remove(path.c_str());
}

TEST(Partition, S3EndpointOfTheRegion) {
  EXPECT_EQ(hoist::aws::s3_endpoint("us-east-1"), "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(hoist::aws::s3_endpoint("cn-north-1"), "https://s3.cn-north-1.amazonaws.com.cn");
  EXPECT_EQ(hoist::aws::s3_endpoint("us-gov-west-1"), "https://s3.us-gov-west-1.amazonaws.com");
}

TEST(Ami, ParametersPerArchitecture) {
  // CPU jobs boot the ECS-optimized AL2023, which ships Docker.
  EXPECT_EQ(hoist::job::ami_parameter("x86_64", false),
            "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id");
  EXPECT_EQ(hoist::job::ami_parameter("arm64", false),
            "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id");
  EXPECT_NE(hoist::job::ami_parameter("x86_64", true).find("nvidia"), std::string::npos);
}

namespace {
hoist::aws::AwsError ec2_error(const std::string& code, const std::string& message) {
  return {"ec2", "RunInstances", code, message, "req-1", 400};
}
}  // namespace

TEST(LaunchRetry, OnlyAnInstanceProfileEc2CannotSeeYetIsWorthWaitingFor) {
  using hoist::job::instance_profile_not_visible_yet;
  // What EC2 says, by name and by ARN, for a profile IAM created moments ago.
  EXPECT_TRUE(instance_profile_not_visible_yet(
      ec2_error("InvalidParameterValue",
                "Value (hoist-instance-us-east-1) for parameter iamInstanceProfile.name is "
                "invalid. Invalid IAM Instance Profile name")));
  EXPECT_TRUE(instance_profile_not_visible_yet(
      ec2_error("InvalidParameterValue",
                "Value (arn:aws:iam::123456789012:instance-profile/hoist/x) for parameter "
                "iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN")));
  // Other mistakes in the same request are permanent.
  EXPECT_FALSE(instance_profile_not_visible_yet(
      ec2_error("InvalidParameterValue", "Value (t3.tiny) for parameter instanceType is invalid.")));
  EXPECT_FALSE(instance_profile_not_visible_yet(
      ec2_error("UnauthorizedOperation", "You are not authorized to perform this operation (iamInstanceProfile).")));
}

namespace {
// The fault server with no scripts and no requests counted.
const hoist::test::FaultServer& fresh_fault_server() {
  const auto& server = hoist::test::FaultServer::instance();
  server.reset();
  return server;
}

std::shared_ptr<hoist::aws::Session> fault_session() {
  auto session = std::make_shared<hoist::aws::Session>();
  session->config.overrides.endpoint_url = hoist::test::FaultServer::instance().endpoint();
  session->region = "us-east-1";
  session->credentials = std::make_shared<hoist::aws::StaticCredentialProvider>(
      hoist::aws::Credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", std::nullopt, "test"});
  return session;
}

hoist::job::Job launch_job() {
  hoist::job::Job job;
  job.id = "wc-20261124-031500-ab12";
  job.project = "wc";
  job.region = "us-east-1";
  job.bucket = "hoist-123456789012-us-east-1";
  job.account = "123456789012";
  job.plan.type.name = "t3.medium";
  job.plan.disk_gib = 30;
  return job;
}

// EC2's answer to a RunInstances that started instance `id` in `zone`.
std::string run_instances_response(const std::string& id, const std::string& zone) {
  return "<RunInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><instancesSet><item>"
         "<instanceId>" +
         id + "</instanceId><launchTime>2026-11-24T03:15:02.000Z</launchTime><placement><availabilityZone>" + zone +
         "</availabilityZone></placement><instanceState><name>pending</name></instanceState></item></instancesSet>"
         "</RunInstancesResponse>";
}
}  // namespace

TEST(LaunchRetry, RunInstancesWaitsForANewInstanceProfile) {
  const auto& server = fresh_fault_server();
  const nlohmann::json not_yet = {{"status", 400},
                                  {"code", "InvalidParameterValue"},
                                  {"message",
                                   "Value (hoist-instance-us-east-1) for parameter iamInstanceProfile.name is "
                                   "invalid. Invalid IAM Instance Profile name"},
                                  {"format", "ec2"}};
  server.script("/", {not_yet, {{"body", run_instances_response("i-0123456789abcdef0", "us-east-1a")}}});
  auto launched = hoist::job::launch_instance(fault_session(), launch_job(), {"ami-1", "/dev/xvda", 8},
                                              "hoist-instance-us-east-1", quiet);
  EXPECT_EQ(launched.instance_id, "i-0123456789abcdef0");
  auto stats = server.stats("/");
  ASSERT_EQ(stats["count"], 2);
  // The same request both times: the job's id as the idempotency token, the profile by name.
  for (const auto& r : stats["requests"]) {
    const std::string body = r["body"];
    EXPECT_NE(body.find("ClientToken=wc-20261124-031500-ab12"), std::string::npos) << body;
    EXPECT_NE(body.find("IamInstanceProfile.Name=hoist-instance-us-east-1"), std::string::npos) << body;
  }
}

TEST(LaunchRetry, APermanentMistakeIsNotRetried) {
  const auto& server = fresh_fault_server();
  server.script("/", {{{"status", 400},
                       {"code", "InvalidParameterValue"},
                       {"message", "Value (t3.tiny) for parameter instanceType is invalid."},
                       {"format", "ec2"}}});
  EXPECT_THROW(hoist::job::launch_instance(fault_session(), launch_job(), {"ami-1", "/dev/xvda", 8},
                                           "hoist-instance-us-east-1", quiet),
               hoist::aws::AwsError);
  EXPECT_EQ(server.stats("/")["count"], 1);
}

namespace {
// What find_image made of the image, and that request `index` was the
// DescribeImages of it (of `count` requests in all).
void expect_image(const hoist::job::MachineImage& image, const std::string& id, const std::string& device, int gib,
                  std::size_t index, std::size_t count) {
  EXPECT_EQ(std::tie(image.id, image.root_device, image.root_gib), std::make_tuple(id, device, gib));
  auto stats = hoist::test::FaultServer::instance().stats("/");
  ASSERT_EQ(stats["count"], count);
  const std::string describe = stats["requests"][index]["body"];
  EXPECT_NE(describe.find("Action=DescribeImages"), std::string::npos) << describe;
  EXPECT_NE(describe.find("ImageId.1=" + id), std::string::npos) << describe;
}
}  // namespace

TEST(FindImage, TheRootDiskOfTheImageTheParameterNames) {
  const auto& server = fresh_fault_server();
  // SSM GetParameter, then EC2 DescribeImages: a GPU image whose root
  // snapshot is larger than a CPU job's disk, with an instance-store device
  // listed first.
  const std::string images =
      "<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><imagesSet><item>"
      "<imageId>ami-0dl</imageId><architecture>x86_64</architecture><imageState>available</imageState>"
      "<rootDeviceName>/dev/sda1</rootDeviceName><blockDeviceMapping>"
      "<item><deviceName>/dev/sdb</deviceName><virtualName>ephemeral0</virtualName></item>"
      "<item><deviceName>/dev/sda1</deviceName><ebs><snapshotId>snap-1</snapshotId><volumeSize>75</volumeSize>"
      "<deleteOnTermination>true</deleteOnTermination><volumeType>gp3</volumeType></ebs></item>"
      "</blockDeviceMapping></item></imagesSet></DescribeImagesResponse>";
  server.script("/", {{{"body", nlohmann::json{{"Parameter", {{"Name", "x"}, {"Value", "ami-0dl"}}}}.dump()}},
                      {{"body", images}}});
  expect_image(hoist::job::find_image(fault_session(), "x86_64", true), "ami-0dl", "/dev/sda1", 75, 1, 2);
}

TEST(FindImage, AnImageTheRegionDoesNotShowIsALaunchFailure) {
  const auto& server = fresh_fault_server();
  server.script("/", {{{"body", nlohmann::json{{"Parameter", {{"Name", "x"}, {"Value", "ami-gone"}}}}.dump()}},
                      {{"body", "<DescribeImagesResponse><imagesSet/></DescribeImagesResponse>"}}});
  try {
    hoist::job::find_image(fault_session(), "x86_64", false);
    FAIL() << "no error";
  } catch (const hoist::Fatal& e) {
    EXPECT_EQ(e.code(), hoist::Exit::launch_failed);
    EXPECT_NE(std::string(e.what()).find("ami-gone"), std::string::npos) << e.what();
  }
}

namespace {
std::string one_image(const std::string& id, const std::string& arch, const std::string& state) {
  return "<DescribeImagesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><imagesSet><item><imageId>" + id +
         "</imageId><architecture>" + arch + "</architecture><imageState>" + state +
         "</imageState><rootDeviceName>/dev/sda1</rootDeviceName><blockDeviceMapping><item><deviceName>/dev/sda1"
         "</deviceName><ebs><volumeSize>60</volumeSize></ebs></item></blockDeviceMapping></item></imagesSet>"
         "</DescribeImagesResponse>";
}

hoist::Exit find_image_fails(const std::string& arch, const std::string& id, std::string* message) {
  try {
    hoist::job::find_image(fault_session(), arch, false, id);
  } catch (const hoist::Fatal& e) {
    *message = e.what();
    return e.code();
  }
  return hoist::Exit::ok;
}
}  // namespace

// --image: no SSM parameter, one DescribeImages of the user's image.
TEST(FindImage, TheUsersOwnImageIsReadNotLookedUp) {
  const auto& server = fresh_fault_server();
  server.script("/", {{{"body", one_image("ami-0123456789abcdef0", "x86_64", "available")}}});
  expect_image(hoist::job::find_image(fault_session(), "x86_64", true, "ami-0123456789abcdef0"),
               "ami-0123456789abcdef0", "/dev/sda1", 60, 0, 1);  // no SSM request before it
}

TEST(FindImage, TheUsersOwnImageMustExistBeReadyAndFitTheInstanceType) {
  const auto& server = fresh_fault_server();
  std::string message;
  server.script("/", {{{"status", 400},
                       {"code", "InvalidAMIID.NotFound"},
                       {"message", "The image id '[ami-0123456789abcdef0]' does not exist"},
                       {"format", "ec2"}}});
  EXPECT_EQ(find_image_fails("x86_64", "ami-0123456789abcdef0", &message), hoist::Exit::not_found);
  EXPECT_NE(message.find("not visible in us-east-1"), std::string::npos) << message;
  EXPECT_EQ(server.stats("/")["count"], 1);  // a missing image is not worth retrying

  server.reset();
  server.script("/", {{{"body", one_image("ami-0123456789abcdef0", "arm64", "available")}}});
  EXPECT_EQ(find_image_fails("x86_64", "ami-0123456789abcdef0", &message), hoist::Exit::bad_option);
  EXPECT_NE(message.find("is for arm64 but the instance type is x86_64"), std::string::npos) << message;

  server.reset();
  server.script("/", {{{"body", one_image("ami-0123456789abcdef0", "x86_64", "pending")}}});
  EXPECT_EQ(find_image_fails("x86_64", "ami-0123456789abcdef0", &message), hoist::Exit::bad_option);
  EXPECT_NE(message.find("is pending, not available"), std::string::npos) << message;

  server.reset();  // EC2 answers an id of someone else's private image with an empty list
  server.script("/", {{{"body", "<DescribeImagesResponse><imagesSet/></DescribeImagesResponse>"}}});
  EXPECT_EQ(find_image_fails("x86_64", "ami-0123456789abcdef0", &message), hoist::Exit::not_found);
}

TEST(LaunchRetry, SpotGoesToTheNextCheapestZoneWhenOneHasNoRoom) {
  const auto& server = fresh_fault_server();
  server.script("/", {{{"status", 500},
                       {"code", "InsufficientInstanceCapacity"},
                       {"message", "There is no Spot capacity available that matches your request."},
                       {"format", "ec2"}},
                      {{"body", run_instances_response("i-0b", "us-east-1b")}}});
  auto job = launch_job();
  job.plan.spot = true;
  job.plan.spot_zones = {{"us-east-1a", 0.010}, {"us-east-1b", 0.012}, {"us-east-1c", 0.015}};
  auto launched = hoist::job::launch_instance(fault_session(), job, {"ami-1", "/dev/xvda", 8}, "p", quiet);
  EXPECT_EQ(launched.instance_id, "i-0b");
  EXPECT_EQ(launched.zone, "us-east-1b");
  auto stats = server.stats("/");
  ASSERT_EQ(stats["count"], 2);  // no resend into the full zone: straight to the next
  const std::string first = stats["requests"][0]["body"];
  const std::string second = stats["requests"][1]["body"];
  EXPECT_NE(first.find("Placement.AvailabilityZone=us-east-1a"), std::string::npos) << first;
  EXPECT_NE(first.find("ClientToken=wc-20261124-031500-ab12&"), std::string::npos) << first;
  EXPECT_NE(second.find("Placement.AvailabilityZone=us-east-1b"), std::string::npos) << second;
  EXPECT_NE(second.find("ClientToken=wc-20261124-031500-ab12-z1"), std::string::npos) << second;
}

TEST(LaunchRetry, TheZonesEc2NamesForATypeItDoesNotOfferEverywhere) {
  using hoist::job::zones_suggested;
  auto unsupported = [](const std::string& message) {
    return hoist::aws::AwsError{"ec2", "RunInstances", "Unsupported", message, "req-1", 400};
  };
  EXPECT_EQ(zones_suggested(unsupported(
                "Your requested instance type (t3.micro) is not supported in your requested Availability Zone "
                "(us-east-1e). Please retry your request by not specifying an Availability Zone or choosing "
                "us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f.")),
            (std::vector<std::string>{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"}));
  EXPECT_EQ(zones_suggested(unsupported(
                "Your requested instance type (p2.xlarge) is not supported in your requested Availability Zone "
                "(eu-central-1c). Please retry your request by not specifying an Availability Zone or choosing "
                "eu-central-1a, eu-central-1b.")),
            (std::vector<std::string>{"eu-central-1a", "eu-central-1b"}));
  EXPECT_TRUE(zones_suggested(unsupported("The requested configuration is currently not supported.")).empty());
  EXPECT_TRUE(zones_suggested(ec2_error("InvalidParameterValue", "... or choosing us-east-1a.")).empty());
}

// On-demand, EC2 chooses the zone; when it answers that the type is not
// offered there, the zones it names come next, each with its own token.
TEST(LaunchRetry, OnDemandGoesWhereEc2SaysTheTypeIsOffered) {
  const auto& server = fresh_fault_server();
  server.script("/", {{{"status", 400},
                       {"code", "Unsupported"},
                       {"message",
                        "Your requested instance type (t3.medium) is not supported in your requested Availability "
                        "Zone (us-east-1e). Please retry your request by not specifying an Availability Zone or "
                        "choosing us-east-1c, us-east-1d."},
                       {"format", "ec2"}},
                      {{"body", run_instances_response("i-0c", "us-east-1c")}}});
  auto launched = hoist::job::launch_instance(fault_session(), launch_job(), {"ami-1", "/dev/xvda", 8}, "p", quiet);
  EXPECT_EQ(launched.instance_id, "i-0c");
  EXPECT_EQ(launched.zone, "us-east-1c");
  auto stats = server.stats("/");
  ASSERT_EQ(stats["count"], 2);
  const std::string first = stats["requests"][0]["body"];
  const std::string second = stats["requests"][1]["body"];
  EXPECT_EQ(first.find("Placement.AvailabilityZone"), std::string::npos) << first;
  EXPECT_NE(second.find("Placement.AvailabilityZone=us-east-1c"), std::string::npos) << second;
  EXPECT_NE(second.find("ClientToken=wc-20261124-031500-ab12-z1"), std::string::npos) << second;

  // Spot: of the planned zones, cheapest first, only those EC2 named.
  server.reset();
  server.script("/", {{{"status", 400},
                       {"code", "Unsupported"},
                       {"message",
                        "Your requested instance type (t3.medium) is not supported in your requested Availability "
                        "Zone (us-east-1a). Please retry your request by not specifying an Availability Zone or "
                        "choosing us-east-1d, us-east-1c."},
                       {"format", "ec2"}},
                      {{"body", run_instances_response("i-0d", "us-east-1c")}}});
  auto spot = launch_job();
  spot.plan.spot = true;
  spot.plan.spot_zones = {{"us-east-1a", 0.010}, {"us-east-1b", 0.011}, {"us-east-1c", 0.012}};
  EXPECT_EQ(hoist::job::launch_instance(fault_session(), spot, {"ami-1", "/dev/xvda", 8}, "p", quiet).zone,
            "us-east-1c");
  const std::string retried = server.stats("/")["requests"][1]["body"];
  EXPECT_NE(retried.find("Placement.AvailabilityZone=us-east-1c"), std::string::npos) << retried;

  // Without zones named (the type is not offered in the region at all), the
  // error is the user's at once.
  server.reset();
  server.script("/", {{{"status", 400},
                       {"code", "Unsupported"},
                       {"message", "The requested configuration is currently not supported."},
                       {"format", "ec2"}}});
  EXPECT_THROW(hoist::job::launch_instance(fault_session(), launch_job(), {"ami-1", "/dev/xvda", 8}, "p", quiet),
               hoist::aws::AwsError);
  EXPECT_EQ(server.stats("/")["count"], 1);
}

TEST(LaunchRetry, NoRoomAnywhereIsTheUsersError) {
  const auto& server = fresh_fault_server();
  const nlohmann::json no_room = {{"status", 500},
                                  {"code", "InsufficientInstanceCapacity"},
                                  {"message", "We currently do not have sufficient capacity."},
                                  {"format", "ec2"}};
  server.script("/", {no_room, no_room, no_room});
  auto job = launch_job();
  job.plan.spot = true;
  job.plan.spot_zones = {{"us-east-1a", 0.010}, {"us-east-1b", 0.012}};
  EXPECT_THROW(hoist::job::launch_instance(fault_session(), job, {"ami-1", "/dev/xvda", 8}, "p", quiet),
               hoist::aws::AwsError);
  // us-east-1a, us-east-1b, then wherever EC2 likes: no room at all.
  auto stats = server.stats("/");
  ASSERT_EQ(stats["count"], 3);
  const std::string last = stats["requests"][2]["body"];
  EXPECT_EQ(last.find("Placement.AvailabilityZone"), std::string::npos) << last;
}

TEST(LaunchRetry, WhatMakesAZoneUnusable) {
  using hoist::job::zone_unusable;
  EXPECT_TRUE(zone_unusable(ec2_error("InsufficientInstanceCapacity", "no Spot capacity")));
  EXPECT_TRUE(zone_unusable(ec2_error("Unsupported",
                                      "Your requested instance type (g6.xlarge) is not supported in "
                                      "your requested Availability Zone (us-east-1e).")));
  EXPECT_TRUE(zone_unusable(ec2_error("InvalidInput", "No default subnet for availability zone: 'us-east-1f'.")));
  EXPECT_FALSE(zone_unusable(ec2_error("VcpuLimitExceeded", "You have requested more vCPU capacity")));
  EXPECT_FALSE(zone_unusable(ec2_error("InvalidParameterValue", "Value (t3.tiny) for parameter instanceType")));
}

namespace {
std::string agent_path() {
  return "/hoist-123456789012-us-east-1/" + hoist::job::agent_bundle().key();
}
}  // namespace

TEST(AgentBundle, SentOnlyWhenTheBucketLacksIt) {
  const auto& server = fresh_fault_server();
  hoist::aws::S3 s3(fault_session());
  const auto& agent = hoist::job::agent_bundle();
  // Missing: a HEAD, then the PUT of the embedded bytes.
  server.script(agent_path(), {{{"status", 404}}});
  EXPECT_TRUE(hoist::job::ensure_agent_bundle(s3, "hoist-123456789012-us-east-1", false));
  auto stats = server.stats(agent_path());
  ASSERT_EQ(stats["count"], 2);
  EXPECT_EQ(stats["requests"][0]["method"], "HEAD");
  EXPECT_EQ(stats["requests"][1]["method"], "PUT");
  EXPECT_EQ(stats["requests"][1]["sha256"], agent.sha256);
  EXPECT_EQ(stats["requests"][1]["length"], agent.bytes.size());

  // Already there: the HEAD alone.
  server.reset();
  server.script(agent_path(), {{{"bytes", agent.bytes.size()}}});
  EXPECT_FALSE(hoist::job::ensure_agent_bundle(s3, "hoist-123456789012-us-east-1", false));
  EXPECT_EQ(server.stats(agent_path())["count"], 1);

  // A bucket this run created: no HEAD, the PUT at once.
  server.reset();
  EXPECT_TRUE(hoist::job::ensure_agent_bundle(s3, "hoist-123456789012-us-east-1", true));
  stats = server.stats(agent_path());
  ASSERT_EQ(stats["count"], 1);
  EXPECT_EQ(stats["requests"][0]["method"], "PUT");
}

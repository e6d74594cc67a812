#include "job/launcher.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>

#include "aws/crypto.hpp"
#include "aws/ec2.hpp"
#include "aws/error.hpp"
#include "aws/partition.hpp"
#include "aws/ssm.hpp"
#include "job/manifest.hpp"
#include "job/naming.hpp"
#include "job/reporter.hpp"
#include "util/embedded.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace hoist::job {

std::string ami_parameter(const std::string& arch, bool gpu) {
  if (gpu) {
    return arch == "arm64"
               ? "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
               : "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id";
  }
  // The ECS-optimized Amazon Linux 2023: Docker is installed and enabled, so
  // the engine is up moments after boot instead of a dnf install later.
  return arch == "arm64" ? "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"
                         : "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";
}

namespace {
MachineImage machine_image(const aws::Image& image) {
  MachineImage out;
  out.id = image.id;
  if (!image.root_device_name.empty()) out.root_device = image.root_device_name;
  out.root_gib = image.root_volume_gib;
  return out;
}

// The user's own --image: it must exist in the region, be ready, and suit
// the instance type's architecture (EC2 would refuse it only at launch).
MachineImage chosen_image(aws::Ec2& ec2, const std::string& region, const std::string& arch, const std::string& id) {
  std::vector<aws::Image> images;
  try {
    images = ec2.describe_images({id});
  } catch (const aws::AwsError& e) {
    if (!e.code.starts_with("InvalidAMIID")) throw;  // .NotFound, .Malformed, .Unavailable
  }
  if (images.empty())
    throw Fatal(Exit::not_found, "image " + id + " is not visible in " + region +
                                     ": check the id and --region (an AMI belongs to one region)");
  const aws::Image& image = images.front();
  if (!image.architecture.empty() && image.architecture != arch)
    throw Fatal(Exit::bad_option, "image " + id + " is for " + image.architecture + " but the instance type is " +
                                      arch + ": pick an --image or --instance-type of the same architecture");
  if (!image.state.empty() && image.state != "available")
    throw Fatal(Exit::bad_option,
                "image " + id + " is " + image.state + ", not available: wait for it or pick another --image");
  return machine_image(image);
}
}  // namespace

MachineImage find_image(const std::shared_ptr<aws::Session>& session, const std::string& arch, bool gpu,
                        const std::string& chosen) {
  aws::Ec2 ec2(session);
  if (!chosen.empty()) return chosen_image(ec2, session->region, arch, chosen);
  aws::Ssm ssm(session);
  const std::string name = ami_parameter(arch, gpu);
  auto value = ssm.get_parameter(name);
  const std::string what = std::string(gpu ? "GPU " : "") + "Amazon Linux 2023 image for " + arch;
  if (!value || value->empty())
    throw Fatal(Exit::launch_failed, "no " + what + " in this region (SSM parameter " + name +
                                         " not found): pick another --region or instance type");
  auto images = ec2.describe_images({*value});
  if (images.empty())
    throw Fatal(Exit::launch_failed, "the " + what + " named by SSM parameter " + name + " (" + *value +
                                         ") is not visible in this region: pick another --region");
  return machine_image(images.front());
}

std::string AgentBundle::key() const {
  return blob_key(sha256);
}

const AgentBundle& agent_bundle() {
  static const AgentBundle bundle = [] {
    AgentBundle b;
    b.bytes = embedded::get("agent.pyz");
    if (b.bytes.empty()) throw std::runtime_error("the instance agent is missing from this build");
    b.sha256 = aws::sha256_hex(b.bytes);
    return b;
  }();
  return bundle;
}

bool ensure_agent_bundle(aws::S3& s3, const std::string& bucket, bool bucket_new) {
  const AgentBundle& agent = agent_bundle();
  if (!bucket_new) {
    auto info = s3.head_object(bucket, agent.key());
    if (info && info->size == agent.bytes.size()) return false;
  }
  s3.put_object(bucket, agent.key(), std::string(agent.bytes));
  return true;
}

std::string user_data(const LoaderValues& values) {
  const std::string_view loader = embedded::get("agent/loader.sh");
  if (loader.empty()) throw std::runtime_error("the instance loader is missing from this build");
  const std::map<std::string, std::string, std::less<>> fill = {
      {"BUCKET", values.bucket},
      {"JOB_ID", values.job_id},
      {"REGION", values.region},
      {"ACCOUNT", values.account},
      {"S3_ENDPOINT", aws::s3_endpoint(values.region)},
      {"AGENT_SHA256", agent_bundle().sha256},
      {"MAX_RUNTIME", std::to_string(values.max_runtime.count())}};
  if (values.max_runtime.count() <= 0)
    throw std::invalid_argument("the user data needs a positive max runtime, not " +
                                std::to_string(values.max_runtime.count()) + " s");
  const auto quoted =
      std::ranges::find_if(fill, [](const auto& entry) { return entry.second.find('\'') != std::string::npos; });
  if (quoted != fill.end())
    throw std::invalid_argument("the user data cannot carry a quote: " + quoted->first + " is " + quoted->second);
  // Placeholders are @NAME@, NAME in [A-Z0-9_]; every other @ stays as it is.
  auto name_char = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; };
  std::string out;
  out.reserve(4096);
  std::size_t at = 0;
  while (at < loader.size()) {
    const std::size_t open = loader.find('@', at);
    if (open == std::string_view::npos) break;
    std::size_t close = open + 1;
    while (close < loader.size() && name_char(loader[close])) ++close;
    if (close == open + 1 || close >= loader.size() || loader[close] != '@') {
      out.append(loader.substr(at, open + 1 - at));
      at = open + 1;
      continue;
    }
    const std::string_view name = loader.substr(open + 1, close - open - 1);
    auto it = fill.find(name);
    if (it == fill.end())
      throw std::runtime_error("agent/loader.sh has an unknown placeholder @" + std::string(name) + "@");
    out.append(loader.substr(at, open - at));
    out += "'" + it->second + "'";
    at = close + 1;
  }
  out.append(loader.substr(std::min(at, loader.size())));
  return out;
}

namespace {
// Whether EC2's message contains `needle` (lowercase), whatever its case.
bool says(const aws::AwsError& error, std::string_view needle) {
  return ascii_lower(error.aws_message).find(needle) != std::string::npos;
}
}  // namespace

bool instance_profile_not_visible_yet(const aws::AwsError& error) {
  return error.is("InvalidParameterValue") && (says(error, "iaminstanceprofile") || says(error, "instance profile"));
}

bool zone_unusable(const aws::AwsError& error) {
  if (error.no_capacity() || error.is("Unsupported")) return true;
  return says(error, "default subnet");  // "No default subnet for availability zone: 'us-east-1f'."
}

std::vector<std::string> zones_suggested(const aws::AwsError& error) {
  std::vector<std::string> zones;
  if (!error.is("Unsupported")) return zones;
  const std::string& m = error.aws_message;
  constexpr std::string_view kLead = " or choosing ";
  std::size_t at = m.find(kLead);
  if (at == std::string::npos) return zones;
  at += kLead.size();
  while (at < m.size()) {
    std::size_t end = at;
    while (end < m.size() && (std::isalnum(static_cast<unsigned char>(m[end])) != 0 || m[end] == '-')) ++end;
    if (end == at) break;
    zones.push_back(m.substr(at, end - at));
    if (m.compare(end, 2, ", ") != 0) break;
    at = end + 2;
  }
  return zones;
}

namespace {
// zones[0..tried] (tried already), then the later planned zones EC2 named
// (cheapest first, for spot), then the other zones it named.
std::vector<std::string> follow_suggestions(const std::vector<std::string>& zones, std::size_t tried,
                                            const std::vector<std::string>& suggested) {
  auto has = [](const std::vector<std::string>& v, const std::string& z) { return std::ranges::find(v, z) != v.end(); };
  std::vector<std::string> next(zones.begin(), zones.begin() + static_cast<std::ptrdiff_t>(tried) + 1);
  for (std::size_t i = tried + 1; i < zones.size(); ++i)
    if (has(suggested, zones[i])) next.push_back(zones[i]);
  for (const auto& z : suggested)
    if (!has(next, z)) next.push_back(z);
  return next;
}
}  // namespace

namespace {
aws::RunArgs run_args(const Job& job, const MachineImage& image, const std::string& instance_profile) {
  aws::RunArgs args;
  args.image_id = image.id;
  args.instance_type = job.plan.type.name;
  args.instance_profile = instance_profile;
  args.user_data = user_data({job.bucket, job.id, job.region, job.account, job.options.max_runtime + kFallbackGrace});
  args.client_token = job.plan.launch_attempt == 0 ? job.id : job.id + "-t" + std::to_string(job.plan.launch_attempt);
  args.tags = job_tags(job.id, job.project);
  args.spot = job.plan.spot;
  args.disk_gib = job.plan.disk_gib;
  args.root_device_name = image.root_device;
  return args;
}
}  // namespace

nlohmann::json successor_launch(const Job& job, const MachineImage& image, const std::string& instance_profile) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& [name, value] : run_args(job, image, instance_profile).launch_params())
    params.push_back({name, value});
  nlohmann::json spot_zones = nlohmann::json::array();
  for (const auto& z : job.plan.spot_zones) spot_zones.push_back(z.zone);
  return {{"params", params}, {"spot_zones", spot_zones}, {"zones", job.plan.offered_zones}};
}

Launched launch_instance(const std::shared_ptr<aws::Session>& session, const Job& job, const MachineImage& image,
                         const std::string& instance_profile, Reporter& reporter) {
  aws::Ec2 ec2(session);
  aws::RunArgs args = run_args(job, image, instance_profile);
  // --spot: the zones cheapest first, then anywhere EC2 likes (a zone added
  // after the default VPC was made has no default subnet to launch into).
  std::vector<std::string> zones;
  if (job.plan.spot)
    for (const auto& z : job.plan.spot_zones) zones.push_back(z.zone);
  if (!zones.empty()) zones.emplace_back();
  // On-demand: EC2's pick, then each zone that offers the type.
  if (!job.plan.spot && !job.plan.offered_zones.empty()) {
    zones.emplace_back();
    zones.insert(zones.end(), job.plan.offered_zones.begin(), job.plan.offered_zones.end());
  }
  std::size_t zone = 0;
  if (!zones.empty()) args.availability_zone = zones[0];
  bool took_suggestions = false;
  std::mt19937 rng(std::random_device{}());
  auto delay = std::chrono::milliseconds(1000);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  for (;;) {
    try {
      aws::Instance inst = ec2.run_instance(args);
      return {inst.id, inst.launch_time,
              inst.availability_zone.empty() ? args.availability_zone : inst.availability_zone};
    } catch (const aws::AwsError& e) {
      // A type EC2 does not offer in a zone (it may even pick such a zone
      // itself): the zones it names instead come next, once.
      if (auto suggested = zones_suggested(e); !suggested.empty() && !took_suggestions) {
        took_suggestions = true;
        if (zones.empty()) zones.push_back(args.availability_zone);
        zones = follow_suggestions(zones, zone, suggested);
      }
      if (zone_unusable(e) && zone + 1 < zones.size()) {
        const std::string here = zones[zone].empty() ? "the zone EC2 chose" : zones[zone];
        reporter.note("cannot launch a " + args.instance_type + (args.spot ? " spot" : "") + " instance in " + here +
                      " (" + e.code + "); trying " +
                      (zones[zone + 1].empty() ? std::string("any zone") : zones[zone + 1]));
        ++zone;
        args.availability_zone = zones[zone];
        // A new token: the refused request launched nothing, and EC2 ties a
        // token to its parameters.
        std::string token = job.id + "-z" + std::to_string(zone);
        args.client_token = token.size() > 64 ? token.substr(token.size() - 64) : token;
        continue;
      }
      // A just-created instance profile is not visible to EC2 for a few seconds.
      if (!instance_profile_not_visible_yet(e) || std::chrono::steady_clock::now() > deadline) throw;
      reporter.detail("instance profile not yet visible to EC2; retrying RunInstances");
      std::uniform_int_distribution<long> jitter(0, delay.count());
      std::this_thread::sleep_for(std::chrono::milliseconds(delay.count() / 2 + jitter(rng) / 2));
      delay = std::min(delay * 2, std::chrono::milliseconds(8000));
    }
  }
}

}  // namespace hoist::job

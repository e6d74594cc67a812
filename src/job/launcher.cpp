#include "job/launcher.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <thread>

#include "aws/ec2.hpp"
#include "aws/error.hpp"
#include "aws/ssm.hpp"
#include "job/naming.hpp"
#include "util/embedded.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

namespace hoist::job {

std::string ami_parameter(const std::string& arch, bool gpu) {
  if (gpu) {
    return arch == "arm64"
               ? "/aws/service/deeplearning/ami/arm64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id"
               : "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id";
  }
  return "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-" + arch;
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

namespace {
// Single-quotes a value for bash.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
}  // namespace

std::string gzip(const std::string& data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip of the user data failed");
  out.resize(zs.total_out);
  return out;
}

std::string user_data(const std::string& bucket, const std::string& job_id, const std::string& region) {
  std::string bootstrap(embedded::get("agent/bootstrap.sh"));
  std::string agent(embedded::get("agent/agent.py"));
  if (bootstrap.empty() || agent.empty()) throw std::runtime_error("the instance bootstrap is missing from this build");
  // Drop bootstrap.sh's shebang: ours comes first with the job's coordinates.
  if (bootstrap.rfind("#!", 0) == 0) bootstrap.erase(0, bootstrap.find('\n') + 1);
  // Only a line that is exactly the marker is replaced (comments mention it too).
  const std::string marker = "\n#@HOIST_AGENT_PY@\n";
  std::size_t at = bootstrap.find(marker);
  if (at == std::string::npos) throw std::runtime_error("bootstrap.sh lacks the agent marker");
  at += 1;
  std::size_t line_end = at + marker.size() - 2;
  const std::string delimiter = "HOIST_AGENT_PY_EOF";
  std::string inlined =
      "cat > \"$HOIST_AGENT\" <<'" + delimiter + "'\n" + agent + (agent.ends_with("\n") ? "" : "\n") + delimiter;
  bootstrap.replace(at, line_end - at, inlined);
  std::string script = "#!/bin/bash\nHOIST_BUCKET=" + shell_quote(bucket) + "\nHOIST_JOB_ID=" + shell_quote(job_id) +
                       "\nHOIST_REGION=" + shell_quote(region) + "\n" + bootstrap;
  // EC2 takes at most 16 KiB of user data before base64; cloud-init unpacks gzip.
  if (script.size() > std::size_t{12} * 1024) return gzip(script);
  return script;
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

Launched launch_instance(const std::shared_ptr<aws::Session>& session, const Job& job, const MachineImage& image,
                         const std::string& instance_profile) {
  aws::Ec2 ec2(session);
  aws::RunArgs args;
  args.image_id = image.id;
  args.instance_type = job.plan.type.name;
  args.instance_profile = instance_profile;
  args.user_data = user_data(job.bucket, job.id, job.region);
  args.client_token = job.id;
  args.tags = job_tags(job.id, job.project);
  args.spot = job.plan.spot;
  args.disk_gib = job.plan.disk_gib;
  args.root_device_name = image.root_device;
  // --spot: the zones cheapest first, then anywhere EC2 likes (a zone added
  // after the default VPC was made has no default subnet to launch into).
  std::vector<std::string> zones;
  if (job.plan.spot)
    for (const auto& z : job.plan.spot_zones) zones.push_back(z.zone);
  if (!zones.empty()) zones.emplace_back();
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
        log::info("cannot launch a " + args.instance_type + (args.spot ? " spot" : "") + " instance in " + here + " (" +
                  e.code + "); trying " + (zones[zone + 1].empty() ? std::string("any zone") : zones[zone + 1]));
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
      log::verbose("instance profile not yet visible to EC2; retrying RunInstances");
      std::uniform_int_distribution<long> jitter(0, delay.count());
      std::this_thread::sleep_for(std::chrono::milliseconds(delay.count() / 2 + jitter(rng) / 2));
      delay = std::min(delay * 2, std::chrono::milliseconds(8000));
    }
  }
}

}  // namespace hoist::job

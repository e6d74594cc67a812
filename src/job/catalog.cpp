#include "job/catalog.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>

#include "aws/ec2.hpp"
#include "aws/error.hpp"
#include "job/planner.hpp"

namespace fs = std::filesystem;

namespace hoist::job {
namespace {

std::string age_of(Clock::duration d) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  constexpr std::int64_t kMinute = 60;
  constexpr std::int64_t kHour = 60 * kMinute;
  constexpr std::int64_t kDay = 24 * kHour;
  if (s < 2 * kMinute) return std::to_string(std::max<std::int64_t>(s, 0)) + " s";
  if (s < 2 * kHour) return std::to_string(s / kMinute) + " min";
  if (s < 2 * kDay) return std::to_string(s / kHour) + " h";
  return std::to_string(s / kDay) + " days";
}

std::string catalog_path(const std::string& dir, const std::string& region) {
  return dir + "/catalog-" + region + ".json";
}

}  // namespace

bool safe_region(const std::string& region) {
  static const std::regex shape("^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$");
  return std::regex_match(region, shape);
}

std::int64_t epoch(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string Provenance::describe(Clock::time_point now, const std::string& api) const {
  switch (source) {
    case Source::live:
      return api;
    case Source::cache:
      return api + ", cached " + age_of(now - as_of) + " ago";
    case Source::bundled:
      break;
  }
  return std::string("hoist's bundled table of ") + kBundledDate + " (" + kBundledSource + ")";
}

std::optional<nlohmann::json> read_cache_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = nlohmann::json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  return doc;
}

void write_cache_file(const std::string& path, const nlohmann::json& doc) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (!ec) write_private_file(path, doc.dump());
}

const InstanceType* RegionCatalog::find(const std::string& name) const {
  const auto it = std::ranges::find(types, name, &InstanceType::name);
  return it == types.end() ? nullptr : &*it;
}

nlohmann::json RegionCatalog::to_json() const {
  nlohmann::json out = {{"version", 1}, {"region", region}, {"fetched_at", epoch(from.as_of)}};
  auto& list = out["types"] = nlohmann::json::array();
  for (const auto& t : types) {
    const auto z = zones.find(t.name);
    list.push_back({{"name", t.name},
                    {"vcpus", t.vcpus},
                    {"memory_gib", t.memory_gib},
                    {"gpus", t.gpus},
                    {"gpu_name", t.gpu_name},
                    {"gpu_memory_gib", t.gpu_memory_gib},
                    {"arch", t.arch},
                    {"picked", !not_picked.contains(t.name)},
                    {"zones", z == zones.end() ? std::vector<std::string>{} : z->second}});
  }
  return out;
}

std::optional<RegionCatalog> RegionCatalog::from_json(const nlohmann::json& j) {
  try {
    if (j.value("version", 0) != 1) return std::nullopt;
    RegionCatalog c;
    c.region = j.at("region").get<std::string>();
    c.from.source = Provenance::Source::cache;
    c.from.as_of = Clock::time_point(std::chrono::seconds(j.at("fetched_at").get<std::int64_t>()));
    for (const auto& t : j.at("types")) {
      InstanceType it{t.at("name").get<std::string>(),
                      t.at("vcpus").get<int>(),
                      t.at("memory_gib").get<double>(),
                      t.at("gpus").get<int>(),
                      t.at("gpu_name").get<std::string>(),
                      t.at("gpu_memory_gib").get<double>(),
                      0,
                      t.at("arch").get<std::string>()};
      if (!t.value("picked", true)) c.not_picked.insert(it.name);
      c.zones[it.name] = t.at("zones").get<std::vector<std::string>>();
      c.types.push_back(std::move(it));
    }
    return c;
  } catch (const std::exception&) {
    return std::nullopt;  // an unreadable cache is no cache
  }
}

InstanceType to_instance_type(const aws::InstanceTypeInfo& info) {
  const bool arm = std::ranges::find(info.architectures, "arm64") != info.architectures.end();
  return {info.name,
          info.vcpus,
          static_cast<double>(info.memory_mib) / 1024.0,
          info.gpus,
          info.gpu_name,
          static_cast<double>(info.gpu_memory_mib) / 1024.0,
          0,
          arm ? "arm64" : "x86_64"};
}

RegionCatalog bundled_catalog(const std::string& region, const std::string& note) {
  RegionCatalog c;
  c.region = region;
  c.types = instance_catalog();
  c.from.note = note;
  return c;
}

std::optional<RegionCatalog> cached_catalog(const std::string& region, const std::string& cache_dir,
                                            Clock::time_point now) {
  if (cache_dir.empty() || !safe_region(region)) return std::nullopt;
  auto doc = read_cache_file(catalog_path(cache_dir, region));
  if (!doc) return std::nullopt;
  auto c = RegionCatalog::from_json(*doc);
  if (!c || c->region != region || now - c->from.as_of > kCatalogMaxAge || c->from.as_of > now) return std::nullopt;
  return c;
}

RegionCatalog load_catalog(const std::shared_ptr<aws::Session>& session, const std::string& region,
                           const std::string& cache_dir, Clock::time_point now) {
  if (auto cached = cached_catalog(region, cache_dir, now)) return *cached;
  RegionCatalog c;
  c.region = region;
  c.from = {Provenance::Source::live, now, ""};
  try {
    aws::Ec2 ec2(session);
    auto offerings = std::async(std::launch::async, [&] { return aws::Ec2(session).zone_offerings(); });
    std::vector<aws::InstanceTypeInfo> infos;
    std::exception_ptr failed;
    try {
      infos = ec2.list_instance_types();
    } catch (...) {
      failed = std::current_exception();
    }
    auto zones = offerings.get();  // waited for before an error leaves
    if (failed) std::rethrow_exception(failed);
    for (auto& [type, zone] : zones) c.zones[type].push_back(zone);
    for (auto& [type, list] : c.zones) std::ranges::sort(list);
    for (const auto& info : infos) {
      if (!info.current_generation || info.name.find(".metal") != std::string::npos) c.not_picked.insert(info.name);
      c.types.push_back(to_instance_type(info));
    }
    std::ranges::sort(c.types, {}, &InstanceType::name);
  } catch (const aws::AwsError& e) {
    return bundled_catalog(region, "the region's instance types could not be read (" + e.code + ")");
  }
  if (c.types.empty()) return bundled_catalog(region, "the region described no instance types");
  if (!cache_dir.empty() && safe_region(region)) write_cache_file(catalog_path(cache_dir, region), c.to_json());
  return c;
}

}  // namespace hoist::job

#pragma once
// The instance types a region offers (DescribeInstanceTypes and, per zone,
// DescribeInstanceTypeOfferings), cached locally with their date; the
// bundled table of planner.cpp when the region cannot be asked. And where a
// figure came from, so every one hoist prints can say.
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "job/planner.hpp"

namespace hoist::aws {
struct Session;
struct InstanceTypeInfo;
}  // namespace hoist::aws

namespace hoist::job {

// hoist's cache folder: $XDG_CACHE_HOME/hoist, else ~/.cache/hoist ("" when neither is set).
std::string cache_root();
// How long a cached catalog or price list is used before AWS is asked again.
inline constexpr std::chrono::hours kCatalogMaxAge{24 * 7};

// A JSON cache file: read (nullopt when absent or unreadable), written
// atomically (owner-only, a failure to write is no error).
std::optional<nlohmann::json> read_cache_file(const std::string& path);
void write_cache_file(const std::string& path, const nlohmann::json& doc);

struct RegionCatalog {
  std::string region;
  std::vector<InstanceType> types;  // prices 0 here: see PriceBook
  // The zones that offer each type; empty for the bundled table (unknown).
  std::map<std::string, std::vector<std::string>> zones;
  // Previous-generation types and bare metal: run when named, never picked
  // for --cpus/--memory/--gpus.
  std::set<std::string> not_picked;
  Provenance from;
  [[nodiscard]] bool zones_known() const { return from.source != Provenance::Source::bundled; }
  [[nodiscard]] const InstanceType* find(const std::string& name) const;
  [[nodiscard]] nlohmann::json to_json() const;
  static std::optional<RegionCatalog> from_json(const nlohmann::json& j);
};

// An EC2 description as the planner's InstanceType (arm64 when it supports it).
InstanceType to_instance_type(const aws::InstanceTypeInfo& info);

// The bundled table, for any region (facts only; zones unknown).
RegionCatalog bundled_catalog(const std::string& region, const std::string& note);

// The region's catalog: the cache when it is younger than kCatalogMaxAge,
// else every type from AWS (all pages, types and zones in parallel), saved
// to the cache. An AWS failure gives the bundled table with its reason in
// from.note. `cache_dir` "" caches nothing.
RegionCatalog load_catalog(const std::shared_ptr<aws::Session>& session, const std::string& region,
                           const std::string& cache_dir, Clock::time_point now);
// The cached catalog of the region when it is fresh, without asking AWS.
std::optional<RegionCatalog> cached_catalog(const std::string& region, const std::string& cache_dir,
                                            Clock::time_point now);

}  // namespace hoist::job

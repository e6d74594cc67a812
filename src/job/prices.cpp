#include "job/prices.hpp"

#include "aws/error.hpp"
#include "aws/pricing.hpp"
#include "util/text.hpp"

namespace hoist::job {
namespace {

Clock::time_point from_epoch(std::int64_t s) {
  return Clock::time_point(std::chrono::seconds(s));
}

// Whether a time the cache records (seconds since the epoch, 0 for never)
// is set, not after `now`, and at most kCatalogMaxAge before it.
bool fresh(std::int64_t at, Clock::time_point now) {
  return at > 0 && from_epoch(at) <= now && now - from_epoch(at) <= kCatalogMaxAge;
}

// The cache: {"region", "complete_at" (when every type was fetched, 0 if
// never), "unreachable_at", "unreachable", "prices": {type: {"usd", "at"}}}.
struct PriceCache {
  std::string path;
  nlohmann::json doc = nlohmann::json::object();

  PriceCache(const std::string& dir, const std::string& region) {
    if (dir.empty() || !safe_region(region)) return;
    path = dir + "/prices-" + region + ".json";
    if (auto d = read_cache_file(path); d && d->value("region", "") == region) doc = *d;
    doc["region"] = region;
    if (!doc.contains("prices") || !doc["prices"].is_object()) doc["prices"] = nlohmann::json::object();
  }
  void save() const {
    if (!path.empty()) write_cache_file(path, doc);
  }
  [[nodiscard]] std::int64_t number(const char* key) const {
    auto it = doc.find(key);
    return it != doc.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
  }
};

}  // namespace

std::optional<Price> PriceBook::find(const std::string& type) const {
  if (auto it = on_demand.find(type); it != on_demand.end()) return Price{it->second, from};
  if (auto t = find_instance_type(type)) {
    Provenance bundled;
    bundled.note = from.note;
    return Price{t->on_demand_usd_per_hour, bundled};
  }
  return std::nullopt;
}

PriceBook bundled_prices(const std::string& region, const std::string& note) {
  PriceBook book;
  book.region = region;
  book.from.note = note;
  return book;
}

PriceBook load_prices(const std::shared_ptr<aws::Session>& session, const std::string& region,
                      const std::vector<std::string>& only, const std::string& cache_dir, Clock::time_point now) {
  PriceCache cache(cache_dir, region);
  auto& prices = cache.doc["prices"];
  // From the cache, when it holds what is asked, fresh.
  auto cached = [&]() -> std::optional<PriceBook> {
    PriceBook book;
    book.region = region;
    book.from.source = Provenance::Source::cache;
    const std::int64_t complete = cache.number("complete_at");
    if (only.empty()) {
      if (!fresh(complete, now)) return std::nullopt;
      book.from.as_of = from_epoch(complete);
      for (const auto& [type, p] : prices.items())
        if (p.is_object() && p.contains("usd")) book.on_demand[type] = p["usd"].get<double>();
      return book;
    }
    std::int64_t oldest = 0;
    for (const auto& type : only) {
      const auto p = prices.find(type);
      const std::int64_t at = p != prices.end() && p->is_object() ? p->value("at", std::int64_t{0}) : 0;
      // A type a full fetch did not find has no price in the region at all.
      if (!fresh(at, now) && !(p == prices.end() && fresh(complete, now))) return std::nullopt;
      if (p == prices.end()) continue;
      book.on_demand[type] = p->value("usd", 0.0);
      if (oldest == 0 || at < oldest) oldest = at;
    }
    book.from.as_of = from_epoch(oldest > 0 ? oldest : complete);
    return book;
  };
  if (auto book = cached()) return *book;
  const std::int64_t failed_at = cache.number("unreachable_at");
  if (failed_at > 0 && from_epoch(failed_at) <= now && now - from_epoch(failed_at) < kPricingRetryAfter)
    return bundled_prices(region, "the Pricing API could not be reached at " +
                                      format_utc(from_epoch(failed_at), "%H:%M UTC") + " (" +
                                      cache.doc.value("unreachable", std::string("?")) + "); asked again after " +
                                      std::to_string(kPricingRetryAfter.count()) + " h");
  PriceBook book;
  book.region = region;
  book.from = {Provenance::Source::live, now, ""};
  try {
    aws::Pricing pricing(session);
    std::vector<aws::OnDemandPrice> got;
    if (only.empty()) {
      got = pricing.ec2_linux_on_demand(region);
    } else {
      for (const auto& type : only) {
        auto one = pricing.ec2_linux_on_demand(region, type);
        got.insert(got.end(), one.begin(), one.end());
      }
    }
    for (const auto& p : got) {
      book.on_demand[p.instance_type] = p.usd_per_hour;
      prices[p.instance_type] = {{"usd", p.usd_per_hour}, {"at", epoch(now)}};
    }
    if (only.empty()) cache.doc["complete_at"] = epoch(now);
    cache.doc.erase("unreachable_at");
    cache.doc.erase("unreachable");
  } catch (const aws::AwsError& e) {
    cache.doc["unreachable_at"] = epoch(now);
    cache.doc["unreachable"] = e.code.empty() ? "HTTP " + std::to_string(e.http_status) : e.code;
    cache.save();
    return bundled_prices(region,
                          "the Pricing API could not be reached (" + cache.doc["unreachable"].get<std::string>() + ")");
  }
  cache.save();
  return book;
}

}  // namespace hoist::job

#include "job/choose.hpp"

#include <algorithm>
#include <future>

#include "aws/ec2.hpp"
#include "aws/error.hpp"

namespace hoist::job {
namespace {

// What a named (or the default) type needs from the region: its facts
// (from the fresh cache, else the bundled table, else one
// DescribeInstanceTypes).
RegionCatalog facts_for(const std::shared_ptr<aws::Session>& session, const std::string& region,
                        const std::string& name, const std::string& cache_dir, Clock::time_point now) {
  if (auto cached = cached_catalog(region, cache_dir, now)) return *cached;
  // The zones that offer it (for the launch to try in turn), beside its facts.
  auto zones = std::async(std::launch::async, [&]() -> std::vector<std::string> {
    std::vector<std::string> out;
    try {
      for (auto& [type, zone] : aws::Ec2(session).zone_offerings({name})) out.push_back(zone);
    } catch (const aws::AwsError&) {
      // unknown zones: EC2 picks one
    }
    std::ranges::sort(out);
    return out;
  });
  RegionCatalog c;
  if (find_instance_type(name)) {
    c = bundled_catalog(region, "");
  } else {
    c.region = region;
    c.from = {Provenance::Source::live, now, ""};
    try {
      for (const auto& info : aws::Ec2(session).describe_instance_types({name}))
        c.types.push_back(to_instance_type(info));
    } catch (const aws::AwsError& e) {
      // InvalidInstanceType: the region lacks it, and check_offered says so.
      if (!e.is("InvalidInstanceType"))
        c = bundled_catalog(region, "the instance type could not be described (" + e.code + ")");
    }
  }
  if (auto offered = zones.get(); !offered.empty()) c.zones[name] = std::move(offered);
  return c;
}

// The notes for figures that did not come from AWS.
void note_sources(InstancePlan& plan, const RegionCatalog& catalog, const PriceBook& prices) {
  if (catalog.from.source == Provenance::Source::bundled && !catalog.from.note.empty())
    plan.notes.push_back(catalog.from.note + ": choosing from hoist's bundled table of " + kBundledDate);
  if (prices.from.source == Provenance::Source::bundled && !prices.from.note.empty())
    plan.notes.push_back(prices.from.note + ": on-demand prices from hoist's bundled table of " + kBundledDate +
                         " (us-east-1)");
}

// Fitting types launched instead when the first has no capacity anywhere.
constexpr std::size_t kAlternatives = 2;

}  // namespace

namespace {
struct Fit {
  const InstanceType* type;
  Price price;
};
struct Fits {
  std::vector<Fit> fits;  // cheapest on-demand first
  std::size_t unpriced = 0;
};
Fits fits_of(const Wants& want, const RegionCatalog& catalog, const PriceBook& prices) {
  Fits out;
  for (const auto& t : catalog.types) {
    if (!want.fits(t) || catalog.not_picked.contains(t.name)) continue;
    if (catalog.zones_known()) {
      const auto z = catalog.zones.find(t.name);
      if (z == catalog.zones.end() || z->second.empty()) continue;
    }
    if (auto p = prices.find(t.name))
      out.fits.push_back({&t, *p});
    else
      ++out.unpriced;
  }
  std::ranges::stable_sort(out.fits, [](const Fit& a, const Fit& b) {
    return a.price.usd_per_hour != b.price.usd_per_hour ? a.price.usd_per_hour < b.price.usd_per_hour
                                                        : a.type->name < b.type->name;
  });
  return out;
}
}  // namespace

std::vector<std::string> fitting_type_names(const RunOptions& o, const RegionCatalog& catalog,
                                            const PriceBook& prices) {
  std::vector<std::string> names;
  for (const auto& f : fits_of(Wants(o), catalog, prices).fits) names.push_back(f.type->name);
  return names;
}

InstancePlan choose_instance(const RunOptions& o, const RegionCatalog& catalog, const PriceBook& prices,
                             Clock::time_point now, const SpotPrices* spot) {
  InstancePlan plan = base_plan(o);
  const Wants want(o);
  const bool picked = o.instance_type.empty() && want.any();
  std::optional<Price> price;
  if (!picked) {
    const std::string name = o.instance_type.empty() ? kDefaultInstanceType : o.instance_type;
    if (const auto* t = catalog.find(name)) {
      plan.type = *t;
    } else if (auto b = find_instance_type(name)) {
      plan.type = *b;
    }
    price = prices.find(name);
    if (o.instance_type.empty()) plan.reason = "hoist's default type (--cpus/--memory/--gpus pick another)";
  } else {
    auto [fits, unpriced] = fits_of(want, catalog, prices);
    // --spot: by the spot price, where there is one (stable: ties and the
    // types without one keep their on-demand order).
    const bool by_spot = o.spot && spot != nullptr && !spot->empty();
    auto spot_of = [&](const Fit& f) {
      const auto it = spot->find(f.type->name);
      return it == spot->end() ? std::optional<double>() : std::optional(it->second);
    };
    if (by_spot)
      std::ranges::stable_sort(fits, [&](const Fit& a, const Fit& b) {
        const auto x = spot_of(a);
        const auto y = spot_of(b);
        if (x && y) return *x < *y;
        return x.has_value() && !y.has_value();
      });
    const std::string where = catalog.from.source == Provenance::Source::bundled
                                  ? std::string("hoist's bundled table")
                                  : "the " + std::to_string(catalog.types.size()) + " types of " + catalog.region;
    if (fits.empty()) throw nothing_fits(want, where);
    plan.type = *fits.front().type;
    price = fits.front().price;
    plan.reason = std::string(by_spot ? "the cheapest spot (now, lowest zone)" : "the cheapest on-demand") + " of " +
                  std::to_string(fits.size()) + " fitting types (" + want.describe() + ") in " + where;
    if (catalog.zones_known())
      plan.reason += ", offered in " + std::to_string(catalog.zones.at(plan.type.name).size()) + " zones";
    if (unpriced > 0) plan.reason += "; " + std::to_string(unpriced) + " more fit but have no price";
    if (fits.size() > 1) {
      plan.runner_up = fits[1].type->name;
      plan.runner_up_usd_per_hour = by_spot && spot_of(fits[1]) ? *spot_of(fits[1]) : fits[1].price.usd_per_hour;
      plan.runner_up_spot = by_spot && spot_of(fits[1]).has_value();
    }
    for (std::size_t i = 1; i < fits.size() && plan.alternatives.size() < kAlternatives; ++i) {
      const InstanceType& t = *fits[i].type;
      if (t.arch != plan.type.arch || (t.gpus > 0) != (plan.type.gpus > 0)) continue;
      const auto z = catalog.zones.find(t.name);
      plan.alternatives.push_back({t, fits[i].price.usd_per_hour, fits[i].price.from,
                                   z == catalog.zones.end() ? std::vector<std::string>{} : z->second});
    }
  }
  if (auto z = catalog.zones.find(plan.type.name); z != catalog.zones.end()) plan.offered_zones = z->second;
  plan.price_known = price.has_value();
  plan.price_from = price ? price->from : Provenance{};
  plan.instance_usd_per_hour = plan.on_demand_usd_per_hour = price ? price->usd_per_hour : 0;
  plan.type.on_demand_usd_per_hour = plan.on_demand_usd_per_hour;
  plan.usd_per_hour = plan.instance_usd_per_hour + kEbsUsdPerGibHour * plan.disk_gib;
  (void)now;
  note_sources(plan, catalog, prices);
  return plan;
}

InstancePlan plan_for_region(const std::shared_ptr<aws::Session>& session, const RunOptions& o,
                             const std::string& region, const std::string& cache_dir, Clock::time_point now) {
  base_plan(o);  // a malformed option fails before any request
  const Wants want(o);
  const bool picked = o.instance_type.empty() && want.any();
  const std::string name = o.instance_type.empty() ? kDefaultInstanceType : o.instance_type;
  auto prices = std::async(std::launch::async, [&] {
    return load_prices(session, region, picked ? std::vector<std::string>{} : std::vector{name}, cache_dir, now);
  });
  std::exception_ptr failed;
  RegionCatalog catalog;
  try {
    catalog = picked ? load_catalog(session, region, cache_dir, now) : facts_for(session, region, name, cache_dir, now);
  } catch (...) {
    failed = std::current_exception();
  }
  PriceBook book = prices.get();  // waited for before an error leaves
  if (failed) std::rethrow_exception(failed);
  if (!(picked && o.spot)) return choose_instance(o, catalog, book, now);
  // --spot: the current spot prices of the cheapest fitting types, so the
  // plan is the cheapest spot (unread: by the on-demand price, as said).
  auto names = fitting_type_names(o, catalog, book);
  if (names.size() > kSpotRanked) names.resize(kSpotRanked);
  SpotPrices spot;
  try {
    if (!names.empty())
      for (const auto& p : aws::Ec2(session).describe_spot_price_history(names)) {
        auto [at, fresh] = spot.try_emplace(p.instance_type, p.price);
        if (!fresh) at->second = std::min(at->second, p.price);
      }
  } catch (const aws::AwsError& e) {
    InstancePlan plan = choose_instance(o, catalog, book, now);
    plan.notes.push_back("the spot prices could not be read (" + e.code + "): chosen by the on-demand price");
    return plan;
  }
  return choose_instance(o, catalog, book, now, &spot);
}

TypeList fitting_types(const std::shared_ptr<aws::Session>& session, const std::string& region, const Wants& want,
                       bool by_spot, const std::string& cache_dir, Clock::time_point now) {
  auto prices = std::async(std::launch::async, [&] { return load_prices(session, region, {}, cache_dir, now); });
  std::exception_ptr failed;
  RegionCatalog catalog;
  try {
    catalog = load_catalog(session, region, cache_dir, now);
  } catch (...) {
    failed = std::current_exception();
  }
  PriceBook book = prices.get();
  if (failed) std::rethrow_exception(failed);
  TypeList out;
  out.types_from = catalog.from;
  if (!catalog.from.note.empty()) out.notes.push_back(catalog.from.note + ": types from hoist's bundled table");
  if (!book.from.note.empty()) out.notes.push_back(book.from.note + ": on-demand prices from hoist's bundled table");
  for (const auto& t : catalog.types) {
    if (!want.fits(t) || catalog.not_picked.contains(t.name)) continue;
    TypeRow row{t, book.find(t.name), std::nullopt, {}};
    if (catalog.zones_known()) {
      const auto z = catalog.zones.find(t.name);
      if (z == catalog.zones.end() || z->second.empty()) continue;
      row.zones = z->second;
    }
    out.rows.push_back(std::move(row));
  }
  // The current spot prices, 100 types a request.
  out.spot_from = {Provenance::Source::live, now, ""};
  try {
    aws::Ec2 ec2(session);
    std::map<std::string, std::vector<ZonePrice>> by_type;
    for (std::size_t start = 0; start < out.rows.size(); start += 100) {
      std::vector<std::string> names;
      for (std::size_t i = start; i < std::min(out.rows.size(), start + 100); ++i)
        names.push_back(out.rows[i].type.name);
      for (const auto& p : ec2.describe_spot_price_history(names))
        by_type[p.instance_type].push_back({p.availability_zone, p.price});
    }
    for (auto& row : out.rows) {
      auto zones = cheapest_zones(by_type[row.type.name]);
      if (!zones.empty()) row.spot = zones.front();
    }
  } catch (const aws::AwsError& e) {
    out.spot_from = {Provenance::Source::bundled, now, "the spot prices could not be read (" + e.code + ")"};
    out.notes.push_back(out.spot_from.note);
  }
  auto key = [by_spot](const TypeRow& r) {
    if (by_spot && r.spot) return r.spot->usd_per_hour;
    if (!by_spot && r.on_demand) return r.on_demand->usd_per_hour;
    return 1e12;  // unpriced last
  };
  std::ranges::stable_sort(out.rows, [&](const TypeRow& a, const TypeRow& b) {
    return key(a) != key(b) ? key(a) < key(b) : a.type.name < b.type.name;
  });
  return out;
}

}  // namespace hoist::job

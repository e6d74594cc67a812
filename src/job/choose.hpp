#pragma once
// The planner against the region: its instance types and zones
// (catalog.hpp) and its prices (prices.hpp), for `hoist run` and
// `hoist types`.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "job/catalog.hpp"
#include "job/planner.hpp"
#include "job/prices.hpp"

namespace hoist::aws {
struct Session;
}

namespace hoist::job {

// --instance-type wins (its facts from the catalog, else the bundled table,
// else unknown); else the cheapest type that fits the Wants, is offered in
// a zone and has a price (previous generations and bare metal left out);
// else the default. Says why in `reason` and names the runner-up.
// Throws Fatal(Exit::bad_option) when nothing fits. A --spot job picked by
// --cpus/--memory/--gpus ranks the fitting types by `spot` (the lowest
// zone's current price of each; a type without one after those with one,
// by its on-demand price) when it is given.
using SpotPrices = std::map<std::string, double>;
InstancePlan choose_instance(const RunOptions& options, const RegionCatalog& catalog, const PriceBook& prices,
                             Clock::time_point now, const SpotPrices* spot = nullptr);

// The types that fit a picked request, cheapest on-demand first (for a
// --spot job, those whose spot prices are read).
std::vector<std::string> fitting_type_names(const RunOptions& options, const RegionCatalog& catalog,
                                            const PriceBook& prices);
// How many of them a --spot job's plan reads the spot prices of (the
// cheapest on demand: one DescribeSpotPriceHistory).
inline constexpr std::size_t kSpotRanked = 100;

// choose_instance with what it needs read for the region: for a picked
// type every type and price (cached for kCatalogMaxAge); for a named or the
// default type only its own facts and price.
InstancePlan plan_for_region(const std::shared_ptr<aws::Session>& session, const RunOptions& options,
                             const std::string& region, const std::string& cache_dir, Clock::time_point now);

// One line of `hoist types`.
struct TypeRow {
  InstanceType type;  // on_demand_usd_per_hour unused: see on_demand
  std::optional<Price> on_demand;
  std::optional<ZonePrice> spot;  // the lowest zone's current price
  std::vector<std::string> zones;
};

struct TypeList {
  std::vector<TypeRow> rows;  // cheapest first (on-demand, or spot when by_spot)
  Provenance types_from;
  Provenance spot_from;  // live, or bundled with a note when the spot prices could not be read
  std::vector<std::string> notes;
};

// Every type of the region that fits (as for --cpus/--memory/...) and is
// offered in a zone, with its on-demand price and the current spot price
// of its cheapest zone.
TypeList fitting_types(const std::shared_ptr<aws::Session>& session, const std::string& region, const Wants& want,
                       bool by_spot, const std::string& cache_dir, Clock::time_point now);

}  // namespace hoist::job

#pragma once
// On-demand prices: the Pricing API's for the region, cached locally with
// their date; hoist's bundled table (us-east-1) when the API cannot be
// reached. Each price says where it came from.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "job/catalog.hpp"

namespace hoist::job {

struct Price {
  double usd_per_hour = 0;
  Provenance from;
};

struct PriceBook {
  std::string region;
  std::map<std::string, double> on_demand;  // from the Pricing API (live or cached)
  Provenance from;                          // of on_demand; bundled when the API could not be asked
  // The type's price: the book's, else the bundled table's (saying so), else none.
  [[nodiscard]] std::optional<Price> find(const std::string& type) const;
};

// How long hoist stops asking a Pricing API that could not be reached.
inline constexpr std::chrono::hours kPricingRetryAfter{1};

// The region's Linux on-demand prices: of every type (`only` empty) or of
// those named. From the cache when it has them and is younger than
// kCatalogMaxAge; else from the Pricing API (every page), saved to the
// cache; else (unreachable, refused: remembered for kPricingRetryAfter) the
// bundled table, with the reason in from.note.
PriceBook load_prices(const std::shared_ptr<aws::Session>& session, const std::string& region,
                      const std::vector<std::string>& only, const std::string& cache_dir, Clock::time_point now);

// The book of the bundled table alone.
PriceBook bundled_prices(const std::string& region, const std::string& note);

}  // namespace hoist::job

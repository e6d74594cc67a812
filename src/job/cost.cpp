#include "job/cost.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "aws/error.hpp"
#include "aws/http.hpp"
#include "job/instances.hpp"
#include "job/naming.hpp"
#include "job/record.hpp"
#include "job/spec.hpp"
#include "util/error.hpp"

namespace hoist::job {
namespace {

std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& s) {
  std::tm tm{};
  if (s.size() < 19 || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// "jobs/<project>-<stamp>-<4>": the project's own, not another's that
// shares its first words ("wc" and "wc-big").
bool of_project(const std::string& id, const std::string& project) {
  return id.size() == project.size() + 21 && id.compare(0, project.size() + 1, project + "-") == 0 && valid_job_id(id);
}

}  // namespace

double budget_rate(const InstancePlan& plan) {
  const double instance = std::max(plan.on_demand_usd_per_hour, plan.instance_usd_per_hour);
  return instance + kEbsUsdPerGibHour * plan.disk_gib;
}

bool apply_budget(InstancePlan& plan, double budget_usd) {
  if (budget_usd <= 0) return false;
  if (!plan.price_known || plan.on_demand_usd_per_hour <= 0)
    throw Fatal(Exit::bad_option, "--budget needs a price and " + plan.type.name +
                                      " has none known: name a type hoist can price (see `hoist types`), or drop "
                                      "--budget and bound the job with --max-runtime");
  const double rate = budget_rate(plan);
  const auto buys = std::chrono::seconds(static_cast<std::int64_t>(std::floor(budget_usd / rate * 3600.0)));
  const auto deadline = buys - kBudgetMargin;
  if (deadline < kMinimumBilled)
    throw Fatal(Exit::bad_option,
                "--budget " + format_usd(budget_usd) + " buys " + format_duration(buys) + " of " + plan.type.name +
                    " at " + format_usd(rate) + "/h: less than EC2's one-minute minimum and " +
                    format_duration(kBudgetMargin) + " for boot and shutdown; raise it to at least " +
                    format_usd(rate * static_cast<double>((kMinimumBilled + kBudgetMargin).count()) / 3600.0));
  if (deadline >= plan.max_runtime) return false;
  plan.max_runtime = deadline;
  return true;
}

std::vector<std::chrono::seconds> previous_durations(aws::S3& s3, const std::string& bucket, const std::string& project,
                                                     std::size_t limit) {
  std::vector<aws::ObjectInfo> objects;
  std::vector<std::string> prefixes;
  try {
    s3.list_delimited(bucket, "jobs/" + project + "-", objects, prefixes);
  } catch (const aws::AwsError& e) {
    if (e.not_found()) return {};  // no bucket yet: no previous run
    throw;
  }
  std::vector<std::string> ids;
  for (const auto& p : prefixes) {
    std::string id = p.substr(5, p.size() - 6);
    if (of_project(id, project)) ids.push_back(id);
  }
  std::ranges::sort(ids, std::greater<>());  // the stamp orders one project's ids: newest first
  if (ids.size() > limit) ids.resize(limit);
  std::vector<std::optional<std::chrono::seconds>> found(ids.size());
  aws::parallel_for(ids.size(), 8, [&](std::size_t i) {
    auto st = read_status(s3, bucket, ids[i]);
    if (!st || st->phase != "succeeded") return;
    const auto phases = st->raw.value("phases", nlohmann::json::object());
    std::string first;
    for (const auto& [name, at] : phases.items())
      if (at.is_string() && (first.empty() || at.get<std::string>() < first)) first = at.get<std::string>();
    if (first.empty()) return;
    if (auto d = seconds_between(first, st->updated_at); d && d->count() >= 0) found[i] = *d;
  });
  std::vector<std::chrono::seconds> out;
  for (const auto& d : found)
    if (d) out.push_back(*d);
  return out;
}

std::optional<std::chrono::seconds> median(std::vector<std::chrono::seconds> d) {
  if (d.empty()) return std::nullopt;
  std::ranges::sort(d);
  const std::size_t n = d.size();
  return n % 2 == 1 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2;
}

Estimate estimate(const InstancePlan& plan, const std::vector<std::chrono::seconds>& previous) {
  Estimate e;
  e.runs = previous.size();
  e.expected = median(previous);
  if (e.expected && *e.expected > plan.max_runtime) e.expected = plan.max_runtime;
  if (e.expected) e.expected_usd = plan.cost_usd(*e.expected);
  e.worst_usd = plan.worst_case_usd();
  return e;
}

std::vector<std::string> describe_costs(const InstancePlan& plan, const Estimate& e, double budget_usd,
                                        bool budget_shortened, std::chrono::system_clock::time_point now) {
  std::vector<std::string> out;
  if (!plan.reason.empty())
    out.push_back("why " + plan.type.name + ": " + plan.reason +
                  (plan.runner_up.empty()
                       ? std::string()
                       : "; runner-up " + plan.runner_up + " at " + format_usd(plan.runner_up_usd_per_hour) + "/h" +
                             (plan.runner_up_spot ? " spot" : "")));
  if (!plan.price_known) {
    out.push_back("price: unknown for " + plan.type.name +
                  " (neither the Pricing API nor hoist's bundled table has it); the cost cannot be estimated");
    return out;
  }
  const std::string on_demand =
      format_usd(plan.on_demand_usd_per_hour) + "/h on-demand (" + plan.price_from.describe(now, "Pricing API") + ")";
  const std::string instance =
      plan.spot ? format_usd(plan.instance_usd_per_hour) + "/h spot" +
                      (plan.zone.empty() ? std::string(" (no spot price read: on-demand assumed)")
                                         : " in " + plan.zone + " (DescribeSpotPriceHistory, now); " + on_demand)
                : on_demand;
  out.push_back("price: " + instance + " + " + std::to_string(plan.disk_gib) + " GiB gp3 disk " +
                format_usd(kEbsUsdPerGibHour * plan.disk_gib) + "/h (list price) = " + format_usd(plan.usd_per_hour) +
                "/h");
  std::string cost = "cost: ";
  if (e.expected)
    cost += "expected " + format_usd(e.expected_usd) + " (" + format_duration(*e.expected) + ", the median of " +
            std::to_string(e.runs) + " previous run" + (e.runs == 1 ? "" : "s") + " of this project)";
  else
    cost += "expected: no previous run of this project to go by";
  cost += "; at most " + format_usd(e.worst_usd) + " (" + format_duration(plan.max_runtime) +
          (budget_shortened ? ", the budget's deadline)" : ", --max-runtime)");
  out.push_back(cost);
  if (budget_usd > 0) {
    const auto buys = std::chrono::seconds(static_cast<std::int64_t>(budget_usd / budget_rate(plan) * 3600.0));
    out.push_back("budget: " + format_usd(budget_usd) + " at " + format_usd(budget_rate(plan)) + "/h" +
                  (plan.spot ? " (the on-demand price bounds spot)" : "") + " buys " + format_duration(buys) +
                  (budget_shortened ? ": the instance ends itself within " + format_duration(plan.max_runtime) + " (" +
                                          format_duration(kBudgetMargin) + " kept for boot and shutdown)"
                                    : ": more than --max-runtime, which ends it first"));
  }
  return out;
}

double spot_cost_usd(const std::vector<aws::SpotPrice>& history, std::chrono::system_clock::time_point start,
                     std::chrono::seconds ran) {
  struct Step {
    std::chrono::system_clock::time_point at;
    double usd;
  };
  std::vector<Step> steps;
  for (const auto& p : history)
    if (auto t = parse_time(p.timestamp)) steps.push_back({*t, p.price});
  if (steps.empty()) return 0;
  std::ranges::sort(steps, {}, &Step::at);
  const auto end = start + billed_seconds(ran);
  double usd = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    // This price applies from its time (or the start) to the next price's (or the end).
    const auto from = i == 0 ? start : std::max(start, steps[i].at);
    const auto to = i + 1 < steps.size() ? std::min(end, steps[i + 1].at) : end;
    if (to <= from) continue;
    usd += steps[i].usd * std::chrono::duration<double>(to - from).count() / 3600.0;
  }
  return usd;
}

namespace {
// One attempt of a relaunched spot job: when it ran, on what market, where.
struct Span {
  std::string from, to;
  bool spot = false;
  std::string zone;
};

// The attempts a status records (each ended one, then the one going on);
// empty for a job of one attempt (priced as a whole below).
std::vector<Span> attempt_spans(const JobStatus& st, const std::string& now) {
  std::vector<Span> spans;
  if (st.attempts.size() + (st.attempt_going_on() ? 1 : 0) < 2) return spans;
  for (const auto& a : st.attempts) spans.push_back({a.started_at, a.ended_at, a.spot, a.zone});
  if (st.attempt_going_on()) {
    const auto phases = st.raw.find("phases");
    const std::string booted = phases != st.raw.end() && phases->is_object() && phases->contains("booting") &&
                                       phases->at("booting").is_string()
                                   ? phases->at("booting").get<std::string>()
                                   : "";
    const auto zone = st.raw.find("zone");
    spans.push_back({booted.empty() ? st.updated_at : booted, now, st.raw.value("spot", false),
                     zone != st.raw.end() && zone->is_string() ? zone->get<std::string>() : ""});
  }
  // The first attempt from its start (started_at), the others from their
  // boot (their launch is a moment before it).
  const auto first = st.raw.find("started_at");
  if (!spans.empty() && first != st.raw.end() && first->is_string()) spans.front().from = first->get<std::string>();
  return spans;
}
}  // namespace

JobCost job_cost(const std::shared_ptr<aws::Session>& session, aws::S3& s3, const std::string& bucket,
                 const std::string& id, const std::string& launch_time) {
  JobCost c;
  c.id = id;
  auto spec = read_job(s3, bucket, id);
  if (!spec) throw Fatal(Exit::not_found, "no job " + id + " in " + bucket + ": see `hoist ls`");
  auto st = read_status(s3, bucket, id);
  c.project = spec->project;
  c.created_at = spec->created_at;
  c.phase = st ? st->phase : "?";
  c.updated_at = st ? st->updated_at : "";
  c.instance_type = spec->instance_type;
  c.spot = spec->spot;
  const std::string from = launch_time.empty() ? spec->created_at : launch_time;
  const std::string to = st && st->terminal() ? st->updated_at : iso8601(std::chrono::system_clock::now());
  c.ran = std::max(std::chrono::seconds(0), seconds_between(from, to).value_or(std::chrono::seconds(0)));
  c.known = spec->price_known;
  // Nothing is billed before the instance exists.
  if (launch_time.empty()) return c;
  const double disk = kEbsUsdPerGibHour * spec->disk_gib;
  if (st) {
    if (auto spans = attempt_spans(*st, to); !spans.empty()) {
      // A relaunched job: each attempt billed on its own (its own minimum),
      // spot by its zone's history, on demand at the on-demand price.
      c.usd = 0;
      c.ran = std::chrono::seconds(0);
      c.attempts = static_cast<int>(spans.size());
      bool history_read = true;
      for (const auto& span : spans) {
        const auto ran =
            std::max(std::chrono::seconds(0), seconds_between(span.from, span.to).value_or(std::chrono::seconds(0)));
        c.ran += ran;
        double usd = billed_usd((span.spot ? spec->instance_usd_per_hour : spec->on_demand_usd_per_hour) + disk, ran);
        if (span.spot && session) {
          try {
            auto history = aws::Ec2(session).spot_price_history(spec->instance_type, span.zone, span.from, span.to);
            if (auto start = parse_time(span.from); start && !history.empty())
              usd = spot_cost_usd(history, *start, ran) + billed_usd(disk, ran);
            else
              history_read = false;
          } catch (const aws::AwsError&) {
            history_read = false;
          }
        }
        c.usd += usd;
      }
      c.basis = std::to_string(spans.size()) + " attempts, each billed on its own (spot " +
                (history_read ? "by its zone's price history" : "at the recorded price") + ", on demand at " +
                format_usd(spec->on_demand_usd_per_hour) + "/h), plus the disk";
      return c;
    }
  }
  c.usd = billed_usd(spec->usd_per_hour, c.ran);
  c.basis = format_usd(spec->usd_per_hour) + "/h with the disk" +
            (spec->price_source.empty() ? "" : " (" + spec->price_source + ")");
  if (spec->spot && session) {
    try {
      auto history = aws::Ec2(session).spot_price_history(spec->instance_type, spec->zone, from, to);
      if (auto start = parse_time(from); start && !history.empty()) {
        c.usd = spot_cost_usd(history, *start, c.ran) + billed_usd(disk, c.ran);
        c.basis = "spot price history" + (spec->zone.empty() ? std::string() : " in " + spec->zone) +
                  " over the run, plus the disk";
        c.known = true;
      }
    } catch (const aws::AwsError& e) {
      c.basis += "; the spot price history could not be read (" + e.code + ")";
    }
  }
  return c;
}

std::vector<std::optional<JobCost>> job_costs(const Connected& c, const std::vector<std::string>& ids,
                                              bool skip_unknown) {
  std::map<std::string, aws::Instance> instances;
  if (!ids.empty()) instances = job_instances(c.session);
  aws::S3 s3(c.session);
  std::vector<std::optional<JobCost>> costs(ids.size());
  aws::parallel_for(ids.size(), 8, [&](std::size_t i) {
    const auto inst = instances.find(ids[i]);
    try {
      costs[i] = job_cost(c.session, s3, c.bucket, ids[i], inst == instances.end() ? "" : inst->second.launch_time);
    } catch (const Fatal&) {
      if (!skip_unknown) throw;  // a job folder without its job.json
    }
  });
  return costs;
}

}  // namespace hoist::job

// The steps of `hoist run` against AWS (run.hpp's RunSteps).
#include <filesystem>
#include <future>

#include "aws/ec2.hpp"
#include "aws/error.hpp"
#include "aws/partition.hpp"
#include "aws/s3.hpp"
#include "job/account.hpp"
#include "job/catalog.hpp"
#include "job/choose.hpp"
#include "job/connect.hpp"
#include "job/cost.hpp"
#include "job/fallback.hpp"
#include "job/hash_cache.hpp"
#include "job/instances.hpp"
#include "job/keep.hpp"
#include "job/naming.hpp"
#include "job/notify.hpp"
#include "job/outputs.hpp"
#include "job/reporter.hpp"
#include "job/run.hpp"
#include "job/staging.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

namespace fs = std::filesystem;

namespace hoist::job {
namespace {

std::string normalise_prefix_uri(const std::string& uri) {
  return uri.back() == '/' ? uri : uri + "/";
}

// Pages of an s3:// INPUT listed to size the disk for it; past them (more
// than 20,000 objects) the size stays unknown.
constexpr int kInputPagesToSize = 20;

// Checks an s3:// INPUT holds something and an s3:// OUTPUT's bucket exists;
// returns the total size of an s3:// INPUT when it could be listed whole
// (nullopt otherwise, or for a local one).
std::optional<std::uint64_t> check_s3_locations(aws::S3& s3, const RunOptions& o) {
  std::optional<std::uint64_t> input_bytes;
  if (is_s3_uri(o.input)) {
    auto uri = aws::S3Uri::parse(o.input);
    std::string prefix = uri.key;
    if (!prefix.empty() && prefix.back() != '/') prefix += '/';
    PrefixSize size;
    try {
      // The first page answers "readable, not empty" in the one request it
      // always took; a few more size it when it is larger.
      size = size_prefix(s3, uri.bucket, prefix, kInputPagesToSize);
    } catch (const aws::AwsError& e) {
      throw Fatal(Exit::input_missing, "input " + o.input + " cannot be read (" + e.code +
                                           "): check the bucket name and that your credentials may list it");
    }
    if (size.objects == 0)
      throw Fatal(Exit::input_missing, "input " + o.input + " holds no objects: upload your inputs there first");
    if (size.complete) input_bytes = size.bytes;
  }
  if (is_s3_uri(o.output)) {
    auto uri = aws::S3Uri::parse(o.output);
    bool exists = false;
    try {
      exists = s3.head_bucket(uri.bucket);
    } catch (const aws::AwsError& e) {
      throw Fatal(Exit::output_unwritable, "output bucket " + uri.bucket + " cannot be reached (" + e.code +
                                               "): check its name and your permissions");
    }
    if (!exists)
      throw Fatal(Exit::output_unwritable,
                  "output bucket " + uri.bucket + " does not exist: create it or pick another -o");
  }
  return input_bytes;
}

// Waits for every future: none is left running with references into a
// scope that an error leaves. Their get() then says how each went.
template <typename... Futures>
void wait_each(Futures&... futures) {
  (futures.wait(), ...);
}

class AwsRunSteps : public RunSteps {
 public:
  AwsRunSteps(aws::Overrides overrides, std::function<bool()> detach_requested, Reporter& reporter)
      : overrides_(std::move(overrides)), detach_requested_(std::move(detach_requested)), reporter_(reporter) {}

  void prepare(Job& job) override;
  void survey(Job& job) override;
  void describe(const Job& job) override;
  void provision(Job& job) override;
  Launched launch(Job& job) override;
  void abandon(const Job& job) override;
  WatchResult follow(const Job& job, const Launched& launched) override;
  void collect(const Job& job, const Launched& launched) override;

 private:
  // The s3:// INPUT's size, the account's state and the region's image,
  // from the survey's read-only probes.
  void fit_disk(Job& job, const std::optional<std::uint64_t>& s3_input_bytes);
  void write_record(const Job& job);

  aws::Overrides overrides_;
  std::function<bool()> detach_requested_;
  Reporter& reporter_;
  std::string input_root_;  // the folder the inputs are listed from
  Connected c_;
  std::optional<aws::S3> s3_;
  KeepSettings keep_;  // hoist.toml's [keep]
  EnsureResult bucket_, repo_;
  BoundaryState boundary_;
  MachineImage image_;
  std::optional<JobStatus> status_;  // the record's status, once written
  // Are the code and the inputs already in the bucket, each as a whole?
  MarkerCheck markers_;
};

// Whether the job's instance may launch its next attempt.
bool relaunches(const RunOptions& o) {
  return o.spot && (o.spot_retries > 0 || o.spot_fallback);
}

// The boundary statements (Sid) the job's options need, with the option.
std::vector<std::pair<std::string, std::string>> boundary_features(const RunOptions& o) {
  std::vector<std::pair<std::string, std::string>> out;
  if (relaunches(o)) out.emplace_back(kSuccessorSid, o.spot_retries > 0 ? "--spot-retries" : "--spot-fallback");
  if (!notify_targets(o.notify).emails.empty()) out.emplace_back(kNotifySid, "--notify");
  if (o.keep_instance) out.emplace_back(kSessionsSid, "--keep-instance");
  return out;
}

void AwsRunSteps::prepare(Job& job) {
  RunOptions& o = job.options;
  auto file = apply_project_file(o);
  validate(o);
  keep_ = read_keep_settings(o.project_dir);
  if (overrides_.region.empty()) overrides_.region = file.region;
  if (overrides_.profile.empty()) overrides_.profile = file.profile;
  if (overrides_.bucket.empty()) overrides_.bucket = file.bucket;
  job.project = project_name(o);
  job.plan = base_plan(o);  // the options checked before any request; the type comes with the region
  job.code = code_files(o.project_dir);
  if (!is_s3_uri(o.input)) {
    if (fs::is_directory(o.input)) {
      input_root_ = o.input;
      job.inputs = list_files(o.input);
    } else {
      // A single file: the folder it is in, listing only it.
      input_root_ = fs::path(o.input).parent_path().empty() ? "." : fs::path(o.input).parent_path().string();
      job.inputs = list_files(input_root_, [&](const std::string& rel, bool is_dir) {
        return is_dir || rel != fs::path(o.input).filename().string();
      });
    }
  } else {
    job.input_s3 = normalise_prefix_uri(o.input);
  }
  // Files unchanged since a previous run (same size, times and inode) are
  // not read again: see HashCache.
  const std::string cache_dir = HashCache::default_dir();
  HashCache code_cache(cache_dir, o.project_dir);
  HashCache input_cache(input_root_.empty() ? "" : cache_dir, input_root_);  // none for s3:// inputs
  if (o.rehash) {
    code_cache.forget_all();
    input_cache.forget_all();
  }
  auto hashed = hash_files(job.code, 4, &code_cache);
  hashed += hash_files(job.inputs, 4, &input_cache);
  code_cache.save();
  input_cache.save();
  // --checkpoint DIR: what it holds now seeds the first attempt (a
  // checkpoint brought back by an earlier job, say).
  if (!o.checkpoint.empty() && fs::is_directory(o.checkpoint)) {
    job.checkpoint = list_files(o.checkpoint);
    HashCache checkpoint_cache(cache_dir, o.checkpoint);
    if (o.rehash) checkpoint_cache.forget_all();
    hashed += hash_files(job.checkpoint, 4, &checkpoint_cache);
    checkpoint_cache.save();
  }
  if (hashed.files_cached > 0)
    reporter_.note(std::to_string(hashed.files_cached) + " of " +
                   std::to_string(hashed.files_cached + hashed.files_read) +
                   " files unchanged since they were last hashed: not read again (--rehash reads them all)");
  reporter_.note("project " + job.project + ": " + std::to_string(job.code.size()) + " code files (" +
                 human_bytes(static_cast<double>(total_bytes(job.code))) + "), " +
                 (job.input_s3.empty() ? std::to_string(job.inputs.size()) + " input files (" +
                                             human_bytes(static_cast<double>(total_bytes(job.inputs))) + ")"
                                       : "input " + job.input_s3) +
                 (job.checkpoint.empty() ? std::string()
                                         : ", a checkpoint of " + std::to_string(job.checkpoint.size()) + " files (" +
                                               human_bytes(static_cast<double>(total_bytes(job.checkpoint))) + ")"));
}

void AwsRunSteps::survey(Job& job) {
  const RunOptions& o = job.options;
  // Who we are (and meanwhile which image to boot, which needs no account
  // id); then, all at once, what already exists.
  auto session = aws::Session::create(overrides_);
  // The type from the region's catalog and prices (cached), then its image.
  auto planned = std::async(std::launch::async, [&] {
                   return plan_for_region(session, o, session->region, cache_root(), std::chrono::system_clock::now());
                 }).share();
  auto image = std::async(std::launch::async, [&, planned] {
    const auto& plan = planned.get();
    return find_image(session, plan.type.arch, plan.type.gpus > 0, o.image);
  });
  c_ = connect(session);
  job.plan = planned.get();
  for (const auto& note : job.plan.notes) reporter_.note(note);
  // --budget: the deadline from the on-demand price, before anything is created.
  const bool budget_shortened = apply_budget(job.plan, o.budget_usd);
  if (budget_shortened) job.options.max_runtime = job.plan.max_runtime;
  job.image = image_spec(read_text((fs::path(o.project_dir) / "requirements.txt").string()), o.python,
                         job.plan.type.gpus > 0, job.plan.type.arch);
  job.account = c_.account.account_id;
  job.region = c_.account.region;
  job.bucket = c_.bucket;
  job.created = std::chrono::system_clock::now();
  job.id = new_job_id(job.project, job.created);
  job.repository = repository_name(job.project);
  job.registry =
      c_.account.account_id + ".dkr.ecr." + job.region + "." + std::string(aws::partition_of(job.region).dns_suffix);
  job.output_s3 =
      is_s3_uri(o.output) ? normalise_prefix_uri(o.output) : "s3://" + job.bucket + "/" + keys::outputs(job.id);
  s3_.emplace(c_.session);
  aws::S3& s3 = *s3_;

  auto s3_checks = std::async(std::launch::async, [&] { return check_s3_locations(s3, o); });
  auto bucket =
      std::async(std::launch::async, [&] { return probe_bucket(c_.session, job.bucket, keep_.jobs_retention_days); });
  auto repo =
      std::async(std::launch::async, [&] { return probe_repository(c_.session, job.repository, keep_.images_kept); });
  // The job's s3:// locations outside hoist's bucket, which the boundary
  // must allow.
  const std::string foreign_input =
      !job.input_s3.empty() && aws::S3Uri::parse(job.input_s3).bucket != job.bucket ? job.input_s3 : "";
  const std::string foreign_output = aws::S3Uri::parse(job.output_s3).bucket != job.bucket ? job.output_s3 : "";
  auto boundary = std::async(std::launch::async, [&] {
    return probe_boundary(c_.session, c_.account,
                          !foreign_input.empty() || !foreign_output.empty() || !boundary_features(job.options).empty());
  });
  // Does the region offer the instance type? (RunInstances would say so
  // only after the upload.)
  auto offered = std::async(std::launch::async, [&] { check_offered(c_.session, o, job.plan, job.region, reporter_); });
  auto markers = std::async(std::launch::async, [&] {
    markers_ = check_markers(s3, job.bucket, {&job.code, &job.inputs, &job.checkpoint});
  });
  // The project's previous runs, for the expected duration.
  auto previous = std::async(std::launch::async, [&]() -> std::vector<std::chrono::seconds> {
    try {
      return previous_durations(s3, job.bucket, job.project);
    } catch (const aws::AwsError&) {
      return {};  // no estimate is no reason to stop: the probes say what is wrong
    }
  });
  // --spot: the current price in each zone, cheapest first.
  auto spot_zones = std::async(std::launch::async, [&]() -> std::vector<ZonePrice> {
    if (!job.plan.spot) return {};
    aws::Ec2 ec2(c_.session);
    std::vector<ZonePrice> prices;
    for (const auto& p : ec2.describe_spot_price_history({job.plan.type.name}))
      prices.push_back({p.availability_zone, p.price});
    return cheapest_zones(std::move(prices));
  });
  wait_each(s3_checks, bucket, repo, boundary, offered, spot_zones, image, markers, previous);
  bucket_ = bucket.get();
  if (!bucket_.note.empty()) reporter_.detail(bucket_.note);
  repo_ = repo.get();
  boundary_ = boundary.get();
  offered.get();
  const std::optional<std::uint64_t> s3_input_bytes = s3_checks.get();
  markers.get();
  check_boundary_allows(boundary_, {foreign_input, foreign_output});
  // A region without the image fails here too, before anything is created.
  image_ = image.get();
  job.ami = image_.id;
  fit_disk(job, s3_input_bytes);
  job.plan.spot_zones = spot_zones.get();
  if (!job.plan.spot_zones.empty()) job.plan.price_spot_in(job.plan.spot_zones.front().zone);
  job.plan.costs = describe_costs(job.plan, estimate(job.plan, previous.get()), o.budget_usd, budget_shortened,
                                  std::chrono::system_clock::now());
}

// The disk: at least the image's own size, and room for the inputs.
void AwsRunSteps::fit_disk(Job& job, const std::optional<std::uint64_t>& s3_input_bytes) {
  const int asked_disk = job.plan.disk_gib;
  const bool image_grew = job.plan.fit_image(image_.root_gib);
  auto disk_fit = InstancePlan::DiskFit::fits;
  std::string inputs;
  const std::optional<std::uint64_t> input_bytes =
      job.input_s3.empty() ? std::optional(total_bytes(job.inputs)) : s3_input_bytes;
  if (input_bytes) {
    inputs = human_bytes(static_cast<double>(*input_bytes)) + " of inputs";
    disk_fit = job.plan.fit_inputs(*input_bytes, image_.root_gib, job.options.disk_chosen);
  } else {
    reporter_.warn("input " + job.input_s3 + " was not sized (over " + std::to_string(kInputPagesToSize) +
                   ",000 objects, or a listing page failed): the disk stays " + std::to_string(job.plan.disk_gib) +
                   " GiB; choose --disk if the inputs need more");
  }
  const std::string disk = std::to_string(job.plan.disk_gib) + " GiB";
  if (disk_fit == InstancePlan::DiskFit::grew)
    reporter_.note("disk: " + disk + ", for the image" +
                   (image_.root_gib > 0 ? " (" + std::to_string(image_.root_gib) + " GiB)" : std::string()) + ", the " +
                   inputs + ", the container image and the outputs (asked " + std::to_string(asked_disk) +
                   "; --disk to choose)");
  else if (image_grew)
    reporter_.note("disk: " + disk + ", the size of the image itself (asked " + std::to_string(asked_disk) + ")");
  if (disk_fit == InstancePlan::DiskFit::tight)
    reporter_.warn("a " + disk + " disk leaves little room beside the " + inputs +
                   " for the container image and the outputs; a job that fills it fails");
}

void AwsRunSteps::describe(const Job& job) {
  auto mark = [](bool existed) { return existed ? "exists" : "would be created"; };
  const std::string bucket_state =
      bucket_.existed && bucket_.to_finish ? "exists (its settings would be applied again)" : mark(bucket_.existed);
  reporter_.note("bucket " + job.bucket + ": " + bucket_state + "; repository " + job.repository + ": " +
                 mark(repo_.existed) + "; job boundary " + kBoundaryName + ": " +
                 (boundary_.exists ? "exists" : "would be created (by a caller who may: `hoist setup`)") +
                 "; the job's own role would be made and removed with it");
  reporter_.note("machine image " + image_.id + (job.options.image.empty() ? "" : " (--image)") +
                 ", container image key " + job.image.key.substr(0, 12));
  MarkerCheck marker_check = markers_;
  marker_check.bucket_new = !bucket_.existed;
  const auto plan = plan_stage(*s3_, job.bucket, {&job.code, &job.inputs, &job.checkpoint}, &marker_check);
  reporter_.note("would upload " + std::to_string(plan.to_send.size()) + " of " + std::to_string(plan.stats.files) +
                 " files (" + human_bytes(static_cast<double>(plan.send_bytes)) + "); " +
                 std::to_string(plan.stats.skipped_files) + " already in the bucket");
}

void AwsRunSteps::provision(Job& job) {
  // The boundary first, alone: without it no job role can be made, and a
  // caller who may not create it must find the account as it was.
  if (!boundary_.exists) ensure_boundary(c_.session, c_.account, reporter_);
  // A boundary made before --spot-retries, --notify or --keep-instance: its
  // job roles cannot do what they need. Brought up to date by whoever may
  // (its data buckets kept).
  if (boundary_.exists) {
    std::string missing;
    for (const auto& [sid, option] : boundary_features(job.options))
      if (!boundary_.has(sid)) missing += (missing.empty() ? "" : ", ") + option;
    if (!missing.empty()) update_boundary(c_.session, c_.account, boundary_.data_buckets, missing, reporter_);
  }
  // --notify: the topic and its subscriptions, the webhooks, in job.json.
  if (!job.options.notify.empty()) {
    const NotifyTargets targets = notify_targets(job.options.notify);
    const std::string topic =
        targets.emails.empty() ? "" : ensure_notifications(c_.session, c_.account, targets.emails, reporter_);
    const auto out = aws::S3Uri::parse(job.output_s3);
    job.notify = notify_record(topic, targets, console_url(out.bucket, job.region, out.key));
  }
  // A cold account: create what the probes found missing, in parallel
  // (each step is race-safe against another hoist doing the same).
  std::future<EnsureResult> mk_bucket;
  std::future<EnsureResult> mk_repo;
  if (!bucket_.existed || bucket_.to_finish)
    mk_bucket = std::async(std::launch::async, [&] {
      return create_bucket(c_.session, job.bucket, bucket_.existed, keep_.jobs_retention_days);
    });
  if (!repo_.existed || repo_.to_finish)
    mk_repo = std::async(std::launch::async,
                         [&] { return create_repository(c_.session, job.repository, job.project, keep_.images_kept); });
  // Both finish before the first failure leaves (what was made stays:
  // race-safe, and the next run finds it). A bucket made by this run holds
  // nothing yet, so staging need not ask which blobs it has.
  if (mk_repo.valid()) mk_repo.wait();
  if (mk_bucket.valid()) bucket_ = mk_bucket.get();
  if (mk_repo.valid()) repo_ = mk_repo.get();
}

void AwsRunSteps::write_record(const Job& job) {
  s3_->put_object(job.bucket, keys::spec(job.id), job.to_json().dump(2), "application/json");
}

Launched AwsRunSteps::launch(Job& job) {
  aws::S3& s3 = *s3_;
  const bool bucket_new = !bucket_.existed;
  MarkerCheck marker_check = markers_;
  // (Another hoist creating the bucket at the same moment may have sent a
  // few blobs already: sending them again is harmless.)
  marker_check.bucket_new = bucket_new;
  // The job's own role, made while the files upload: IAM takes a few
  // seconds more to show a new profile to EC2, which this overlaps too.
  const AgentBundle& agent = agent_bundle();
  job.agent_sha256 = agent.sha256;
  job.agent_size = agent.bytes.size();
  JobScope scope{job.bucket, job.id, job.repository, {agent.sha256}, job.input_s3, job.output_s3, std::nullopt, "",
                 false,      ""};
  for (const auto* files : {&job.code, &job.inputs, &job.checkpoint})
    for (const auto& [rel, f] : *files) scope.blobs.push_back(f.sha256);
  // A spot job that may be relaunched carries its launch request, and its
  // role may make that request and no other (JobScope::successor).
  if (!job.notify.is_null() && job.notify["topic_arn"].is_string())
    scope.notify_topic = job.notify["topic_arn"].get<std::string>();
  scope.sessions = job.options.keep_instance;
  if (keep_.role != KeepUntil::run) scope.keep = std::string(keep_name(keep_.role));
  if (job.plan.spot && relaunches(job.options)) {
    job.launch = successor_launch(job, image_, job_role_name(job.id));
    scope.successor = SuccessorScope{job.region, job.plan.type.name, image_.id};
  }
  auto role = std::async(std::launch::async, [&] { create_job_role(c_.session, c_.account, scope); });
  std::future<void> put_agent;
  std::future<void> put_job;
  std::future<void> put_status;
  try {
    auto stats = stage(
        s3, job.bucket, {&job.code, &job.inputs, &job.checkpoint}, [&](const StageStats& s) { reporter_.staging(s); },
        &marker_check);
    reporter_.say({"staged",
                   "staged " + std::to_string(stats.files) + " files (" +
                       human_bytes(static_cast<double>(stats.bytes)) + "): sent " +
                       std::to_string(stats.uploaded_files) + " (" +
                       human_bytes(static_cast<double>(stats.uploaded_bytes)) + ", " +
                       human_bytes(stats.seconds > 0 ? static_cast<double>(stats.uploaded_bytes) / stats.seconds : 0) +
                       "/s), skipped " + std::to_string(stats.skipped_files) + " already uploaded (" +
                       human_bytes(static_cast<double>(stats.skipped_bytes)) + ")",
                   {{"files", stats.files},
                    {"bytes", stats.bytes},
                    {"uploaded_files", stats.uploaded_files},
                    {"uploaded_bytes", stats.uploaded_bytes},
                    {"skipped_files", stats.skipped_files},
                    {"skipped_bytes", stats.skipped_bytes},
                    {"seconds", stats.seconds}}});
    // The agent the instance fetches by hash, beside the job's spec and status.
    put_agent = std::async(std::launch::async, [&] {
      if (ensure_agent_bundle(s3, job.bucket, bucket_new))
        reporter_.detail("agent " + agent.sha256.substr(0, 12) + " (" + std::to_string(agent.bytes.size()) +
                         " bytes) uploaded to s3://" + job.bucket + "/" + agent.key());
    });
    put_job = std::async(std::launch::async, [&] { write_record(job); });
    const JobStatus launching = JobStatus::launching(job.id, iso8601(std::chrono::system_clock::now()));
    put_status = std::async(std::launch::async, [&, launching] {
      write_status(s3, job.bucket, job.id, launching);
      status_ = launching;
    });
  } catch (...) {
    // Whatever failed, the role is made or given up on before it is removed.
    role.wait();
    throw;
  }
  wait_each(put_agent, put_job, put_status, role);
  put_agent.get();
  put_job.get();
  put_status.get();
  role.get();
  Launched launched = launch_fitting(c_.session, job, image_, job_role_name(job.id), reporter_,
                                     [&](const Job& now, const std::string& why) {
                                       reporter_.note(why);
                                       write_record(now);
                                     });
  // Spot, placed in a dearer zone than the cheapest: the spec says what it costs.
  if (launched.zone != job.plan.zone && job.plan.price_spot_in(launched.zone)) {
    reporter_.note("spot price in " + launched.zone + ": " + format_usd(job.plan.usd_per_hour) + "/h");
    write_record(job);
  }
  return launched;
}

void AwsRunSteps::abandon(const Job& job) {
  if (status_) {
    status_->advance(Phase::failed, iso8601(std::chrono::system_clock::now()), "the instance could not be launched");
    write_status(*s3_, job.bucket, job.id, *status_);
  }
  release_job_resources(c_.session, job.id, "", reporter_);
}

WatchResult AwsRunSteps::follow(const Job& job, const Launched& launched) {
  WatchOptions options;
  options.detach_requested = detach_requested_;
  return watch(c_.session, job.bucket, job.id, launched.instance_id, job.options.max_runtime, reporter_, options);
}

void AwsRunSteps::collect(const Job& job, const Launched& launched) {
  // --keep-instance: it stays (with its role, which SSM needs) until its
  // deadline; cancel and gc end it.
  if (job.options.keep_instance) {
    const std::string id = status_ && !status_->instance_id.empty() ? status_->instance_id : launched.instance_id;
    reporter_.say({"kept",
                   "the instance " + id + " stays up until its deadline, " + format_duration(job.options.max_runtime) +
                       " after launch (--keep-instance): `aws ssm start-session --target " + id + " --region " +
                       job.region + "`; `hoist cancel " + job.id + "` ends it now",
                   {{"instance_id", id}, {"max_runtime_seconds", job.options.max_runtime.count()}}});
  } else {
    release_job_resources(c_.session, job.id, launched.instance_id, reporter_);
    release_after_run(c_.session, job.project, job.id, keep_, reporter_);
  }
  if (!is_s3_uri(job.options.output)) {
    auto d = download_prefix(*s3_, job.output_s3, job.options.output, reporter_);
    reporter_.say({"outputs",
                   std::to_string(d.files) + " output files (" + human_bytes(static_cast<double>(d.bytes)) + ") in " +
                       job.options.output,
                   {{"files", d.files}, {"bytes", d.bytes}, {"output", job.options.output}}});
  } else {
    reporter_.say({"outputs", "outputs in " + job.output_s3, {{"output", job.output_s3}}});
  }
  if (!job.options.checkpoint.empty()) {
    if (auto d = download_checkpoint(*s3_, job.bucket, job.id, job.options.checkpoint, reporter_))
      reporter_.say(checkpoint_brought(*d, job.options.checkpoint));
    else
      reporter_.say({"checkpoint", "checkpoint: the job saved none", {{"files", 0}}});
  }
  auto out_uri = aws::S3Uri::parse(job.output_s3);
  const std::string console = console_url(out_uri.bucket, job.region, out_uri.key);
  reporter_.say({"console", "S3 console: " + console, {{"url", console}}});
  if (!job.plan.price_known) return;
  const auto inst = job_instance(c_.session, job.id);
  const auto cost = job_cost(c_.session, *s3_, job.bucket, job.id, inst ? inst->launch_time : launched.launch_time);
  const bool minimum = billed_seconds(cost.ran) > cost.ran;
  reporter_.say({"cost",
                 "cost: about " + format_usd(cost.usd) + " (" + job.plan.type.name +
                     (job.plan.spot ? " spot" : " on-demand") + " for " + format_duration(cost.ran) +
                     (minimum ? ", billed as EC2's one-minute minimum" : "") + "; " + cost.basis + ")",
                 {{"usd", cost.usd},
                  {"seconds", cost.ran.count()},
                  {"billed_seconds", billed_seconds(cost.ran).count()},
                  {"basis", cost.basis}}});
}

}  // namespace

RunOutcome run(const RunRequest& request, Reporter& reporter) {
  AwsRunSteps steps(request.aws, request.detach_requested, reporter);
  return run(request, steps, reporter);
}

}  // namespace hoist::job

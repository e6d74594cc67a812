// `hoist run`: the whole job, from the user's folder to results on disk.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>

#include "aws/ec2.hpp"
#include "aws/ecr.hpp"
#include "aws/error.hpp"
#include "aws/iam.hpp"
#include "aws/partition.hpp"
#include "aws/s3.hpp"
#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "job/account.hpp"
#include "job/choose.hpp"
#include "job/cost.hpp"
#include "job/fallback.hpp"
#include "job/hash_cache.hpp"
#include "job/launcher.hpp"
#include "job/naming.hpp"
#include "job/quota.hpp"
#include "job/spec.hpp"
#include "job/staging.hpp"
#include "job/watcher.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace fs = std::filesystem;

namespace hoist::cli {
namespace {

std::atomic<int> g_interrupts{0};
void on_sigint(int) {
  g_interrupts.fetch_add(1);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void say(const std::string& line) {
  log::info("hoist: " + line);
}

std::string describe_type(const job::InstancePlan& plan) {
  std::string s = plan.type.name;
  if (plan.type.vcpus) {
    s += " (" + std::to_string(plan.type.vcpus) + " vCPU, " + std::to_string(static_cast<int>(plan.type.memory_gib)) +
         " GiB";
    if (plan.type.gpus) s += ", " + std::to_string(plan.type.gpus) + "x " + plan.type.gpu_name;
    s += ")";
  }
  s += plan.spot ? ", spot" : ", on-demand";
  s += ", " + std::to_string(plan.disk_gib) + " GiB disk";
  return s;
}

// Pages of an s3:// INPUT listed to size the disk for it; past them (more
// than 20,000 objects) the size stays unknown.
constexpr int kInputPagesToSize = 20;

// Checks an s3:// INPUT holds something and an s3:// OUTPUT's bucket exists;
// returns the total size of an s3:// INPUT when it could be listed whole
// (nullopt otherwise, or for a local one).
std::optional<std::uint64_t> check_s3_locations(aws::S3& s3, const job::RunOptions& o) {
  std::optional<std::uint64_t> input_bytes;
  if (job::is_s3_uri(o.input)) {
    auto uri = aws::S3Uri::parse(o.input);
    std::string prefix = uri.key;
    if (!prefix.empty() && prefix.back() != '/') prefix += '/';
    job::PrefixSize size;
    try {
      // The first page answers "readable, not empty" in the one request it
      // always took; a few more size it when it is larger.
      size = job::size_prefix(s3, uri.bucket, prefix, kInputPagesToSize);
    } catch (const aws::AwsError& e) {
      throw Fatal(Exit::input_missing, "input " + o.input + " cannot be read (" + e.code +
                                           "): check the bucket name and that your credentials may list it");
    }
    if (size.objects == 0)
      throw Fatal(Exit::input_missing, "input " + o.input + " holds no objects: upload your inputs there first");
    if (size.complete) input_bytes = size.bytes;
  }
  if (job::is_s3_uri(o.output)) {
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

std::string normalise_prefix_uri(const std::string& uri) {
  return uri.back() == '/' ? uri : uri + "/";
}

int exit_status_for(const job::JobStatus& st) {
  if (st.phase == "succeeded") return 0;
  if (st.phase == "timed_out") return static_cast<int>(Exit::timed_out);
  if (st.phase == "cancelled") return static_cast<int>(Exit::cancelled);
  if (st.phase == "preempted") return static_cast<int>(Exit::preempted);
  if (st.exit_code) return *st.exit_code;
  return static_cast<int>(Exit::launch_failed);
}

struct Prepared {
  job::Job job;
  job::StageStats stats;
};

int run_job(job::RunOptions o, Globals& g) {
  // 1. Everything that can be checked locally, before any AWS call.
  auto file = job::apply_project_file(o);
  job::validate(o);
  if (g.aws.region.empty()) g.aws.region = file.region;
  if (g.aws.profile.empty()) g.aws.profile = file.profile;
  if (g.aws.bucket.empty()) g.aws.bucket = file.bucket;
  job::Job job;
  job.options = o;
  job.project = job::project_name(o);
  job.plan = job::base_plan(o);  // the options checked before any request
  job.code = job::code_files(o.project_dir);
  // The folder the inputs are listed from: INPUT, or the folder of a file.
  std::string input_root;
  if (!job::is_s3_uri(o.input)) {
    if (fs::is_directory(o.input)) {
      input_root = o.input;
      job.inputs = job::list_files(o.input);
    } else {
      input_root = fs::path(o.input).parent_path().empty() ? "." : fs::path(o.input).parent_path().string();
      job.inputs = job::list_files(input_root, [&](const std::string& rel, bool is_dir) {
        return is_dir || rel != fs::path(o.input).filename().string();
      });
    }
  } else {
    job.input_s3 = normalise_prefix_uri(o.input);
  }
  {
    // Files unchanged since a previous run (same size, times and inode) are
    // not read again: see HashCache.
    const std::string cache_dir = job::HashCache::default_dir();
    job::HashCache code_cache(cache_dir, o.project_dir);
    job::HashCache input_cache(input_root.empty() ? "" : cache_dir, input_root);  // none for s3:// inputs
    if (o.rehash) {
      code_cache.forget_all();
      input_cache.forget_all();
    }
    auto hashed = job::hash_files(job.code, 4, &code_cache);
    hashed += job::hash_files(job.inputs, 4, &input_cache);
    code_cache.save();
    input_cache.save();
    if (hashed.files_cached > 0)
      say(std::to_string(hashed.files_cached) + " of " + std::to_string(hashed.files_cached + hashed.files_read) +
          " files unchanged since they were last hashed: not read again (--rehash reads them all)");
  }
  say("project " + job.project + ": " + std::to_string(job.code.size()) + " code files (" +
      human_bytes(static_cast<double>(job::total_bytes(job.code))) + "), " +
      (job.input_s3.empty() ? std::to_string(job.inputs.size()) + " input files (" +
                                  human_bytes(static_cast<double>(job::total_bytes(job.inputs))) + ")"
                            : "input " + job.input_s3));

  // 2. Who we are (and meanwhile which image to boot, which needs no
  // account id); then, all at once, what already exists (read-only).
  auto session = aws::Session::create(g.aws);
  // The type from the region's catalog and prices (cached), then its image.
  auto planned =
      std::async(std::launch::async, [&] {
        return job::plan_for_region(session, o, session->region, job::cache_root(), std::chrono::system_clock::now());
      }).share();
  auto image = std::async(std::launch::async, [&, planned] {
    const auto& plan = planned.get();
    return job::find_image(session, plan.type.arch, plan.type.gpus > 0, o.image);
  });
  Connected c = connect(session);
  job.plan = planned.get();
  for (const auto& note : job.plan.notes) say(note);
  // --budget: the deadline from the on-demand price, before anything is created.
  const bool budget_shortened = job::apply_budget(job.plan, o.budget_usd);
  if (budget_shortened) job.options.max_runtime = job.plan.max_runtime;
  job.image = job::image_spec(read_file(fs::path(o.project_dir) / "requirements.txt"), o.python, job.plan.type.gpus > 0,
                              job.plan.type.arch);
  job.account = c.account.account_id;
  job.region = c.account.region;
  job.bucket = c.bucket;
  job.created = std::chrono::system_clock::now();
  job.id = job::new_job_id(job.project, job.created);
  job.repository = job::repository_name(job.project);
  job.registry =
      c.account.account_id + ".dkr.ecr." + job.region + "." + std::string(aws::partition_of(job.region).dns_suffix);
  job.output_s3 =
      job::is_s3_uri(o.output) ? normalise_prefix_uri(o.output) : "s3://" + job.bucket + "/" + job.prefix() + "output/";
  aws::S3 s3(c.session);

  // Read-only probes all at once; nothing is created until every check of
  // the user's own locations has passed (a bad s3:// INPUT or OUTPUT must
  // leave the account as it was).
  auto s3_checks = std::async(std::launch::async, [&] { return check_s3_locations(s3, o); });
  auto bucket = std::async(std::launch::async, [&] { return job::probe_bucket(c.session, job.bucket); });
  auto repo = std::async(std::launch::async, [&] { return job::probe_repository(c.session, job.repository); });
  // The job's s3:// locations outside hoist's bucket, which the boundary
  // must allow.
  const std::string foreign_input =
      !job.input_s3.empty() && aws::S3Uri::parse(job.input_s3).bucket != job.bucket ? job.input_s3 : "";
  const std::string foreign_output = aws::S3Uri::parse(job.output_s3).bucket != job.bucket ? job.output_s3 : "";
  auto boundary = std::async(std::launch::async, [&] {
    return job::probe_boundary(c.session, c.account, !foreign_input.empty() || !foreign_output.empty());
  });
  // Does the region offer the instance type? (RunInstances would say so only after the upload.)
  auto offered = std::async(std::launch::async, [&] { job::check_offered(c.session, o, job.plan, job.region); });
  // Are the code and the inputs already in the bucket, each as a whole?
  auto markers = std::async(std::launch::async, [&] {
    return job::check_markers(s3, job.bucket, {&job.code, &job.inputs});
  });
  // The project's previous runs, for the expected duration.
  auto previous = std::async(std::launch::async, [&]() -> std::vector<std::chrono::seconds> {
    try {
      return job::previous_durations(s3, job.bucket, job.project);
    } catch (const aws::AwsError&) {
      return {};  // no estimate is no reason to stop: the probes say what is wrong
    }
  });
  // --spot: the current price in each zone, cheapest first.
  auto spot_zones = std::async(std::launch::async, [&]() -> std::vector<job::ZonePrice> {
    if (!job.plan.spot) return {};
    aws::Ec2 ec2(c.session);
    std::vector<job::ZonePrice> prices;
    for (const auto& p : ec2.describe_spot_price_history({job.plan.type.name}))
      prices.push_back({p.availability_zone, p.price});
    return job::cheapest_zones(std::move(prices));
  });
  // Every future is waited for before an error leaves this scope.
  std::exception_ptr check_error;
  std::optional<std::uint64_t> s3_input_bytes;
  try {
    s3_input_bytes = s3_checks.get();
  } catch (...) {
    check_error = std::current_exception();
  }
  auto bucket_r = bucket.get();
  auto repo_r = repo.get();
  const job::BoundaryState boundary_r = boundary.get();
  offered.get();
  if (check_error) std::rethrow_exception(check_error);
  job::check_boundary_allows(boundary_r, {foreign_input, foreign_output});
  // A region without the image fails here too, before anything is created.
  const job::MachineImage machine_image = image.get();
  job.ami = machine_image.id;
  // The disk: at least the image's own size, and room for the inputs.
  const int asked_disk = job.plan.disk_gib;
  const bool image_grew = job.plan.fit_image(machine_image.root_gib);
  auto disk_fit = job::InstancePlan::DiskFit::fits;
  std::string inputs;
  const std::optional<std::uint64_t> input_bytes =
      job.input_s3.empty() ? std::optional(job::total_bytes(job.inputs)) : s3_input_bytes;
  if (input_bytes) {
    inputs = human_bytes(static_cast<double>(*input_bytes)) + " of inputs";
    disk_fit = job.plan.fit_inputs(*input_bytes, machine_image.root_gib, o.disk_chosen);
  } else {
    log::warn("input " + job.input_s3 + " was not sized (over " + std::to_string(kInputPagesToSize) +
              ",000 objects, or a listing page failed): the disk stays " + std::to_string(job.plan.disk_gib) +
              " GiB; choose --disk if the inputs need more");
  }
  const std::string disk = std::to_string(job.plan.disk_gib) + " GiB";
  if (disk_fit == job::InstancePlan::DiskFit::grew)
    say("disk: " + disk + ", for the image" +
        (machine_image.root_gib > 0 ? " (" + std::to_string(machine_image.root_gib) + " GiB)" : std::string()) +
        ", the " + inputs + ", the container image and the outputs (asked " + std::to_string(asked_disk) +
        "; --disk to choose)");
  else if (image_grew)
    say("disk: " + disk + ", the size of the image itself (asked " + std::to_string(asked_disk) + ")");
  if (disk_fit == job::InstancePlan::DiskFit::tight)
    log::warn("a " + disk + " disk leaves little room beside the " + inputs +
              " for the container image and the outputs; a job that fills it fails");
  if (!o.dry_run) {
    // The boundary first, alone: without it no job role can be made, and a
    // caller who may not create it must find the account as it was.
    if (!boundary_r.exists) job::ensure_boundary(c.session, c.account);
    // A cold account: create what the probes found missing, in parallel
    // (each step is race-safe against another hoist doing the same).
    std::future<job::EnsureResult> mk_bucket, mk_repo;
    if (!bucket_r.existed || bucket_r.to_finish)
      mk_bucket =
          std::async(std::launch::async, [&] { return job::create_bucket(c.session, job.bucket, bucket_r.existed); });
    if (!repo_r.existed)
      mk_repo = std::async(std::launch::async,
                           [&] { return job::create_repository(c.session, job.repository, job.project); });
    if (mk_bucket.valid()) bucket_r = mk_bucket.get();
    if (mk_repo.valid()) repo_r = mk_repo.get();
  }
  // Missing at the probe and (unless a dry run) made by this run: it holds
  // nothing yet, so staging need not ask which blobs it has.
  const bool bucket_new = !bucket_r.existed;
  job.plan.spot_zones = spot_zones.get();
  if (!job.plan.spot_zones.empty()) job.plan.price_spot_in(job.plan.spot_zones.front().zone);

  const auto history = previous.get();  // read meanwhile: the plan is said once it is in
  say("plan: " + describe_type(job.plan));
  for (const auto& line : job::describe_costs(job.plan, job::estimate(job.plan, history), o.budget_usd,
                                              budget_shortened, std::chrono::system_clock::now()))
    say(line);
  say("job " + job.id + " in " + job.region + " (bucket " + job.bucket + ")");
  if (o.dry_run) {
    auto mark = [](bool existed) { return existed ? "exists" : "would be created"; };
    const std::string bucket_state = bucket_r.existed && bucket_r.to_finish
                                         ? "exists (its settings would be applied again)"
                                         : mark(bucket_r.existed);
    say("bucket " + job.bucket + ": " + bucket_state + "; repository " + job.repository + ": " + mark(repo_r.existed) +
        "; job boundary " + job::kBoundaryName + ": " +
        (boundary_r.exists ? "exists" : "would be created (by a caller who may: `hoist setup`)") +
        "; the job's own role would be made and removed with it");
    say("machine image " + machine_image.id + (o.image.empty() ? "" : " (--image)") + ", container image key " +
        job.image.key.substr(0, 12));
    job::MarkerCheck marker_check = markers.get();
    marker_check.bucket_new = bucket_new;
    const auto plan = job::plan_stage(s3, job.bucket, {&job.code, &job.inputs}, &marker_check);
    say("would upload " + std::to_string(plan.to_send.size()) + " of " + std::to_string(plan.stats.files) + " files (" +
        human_bytes(static_cast<double>(plan.send_bytes)) + "); " + std::to_string(plan.stats.skipped_files) +
        " already in the bucket");
    say("dry run: nothing was created or launched");
    return 0;
  }
  if (!o.yes && ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO)) {
    std::cerr << "hoist: launch it? [Y/n] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (!answer.empty() && answer[0] != 'y' && answer[0] != 'Y') {
      say("not launched");
      return static_cast<int>(Exit::cancelled);
    }
  }

  // 3. Send what the bucket lacks; the job spec; then the instance.
  bool tty = stderr_is_tty();
  auto show = [&](const job::StageStats& s) {
    if (!tty) return;
    double rate = s.seconds > 0 ? static_cast<double>(s.sent_bytes) / s.seconds : 0;
    std::cerr << "\rhoist: uploading " << s.uploaded_files << "/" << (s.files - s.skipped_files) << " files, "
              << human_bytes(static_cast<double>(s.sent_bytes)) << " (" << human_bytes(rate) << "/s), "
              << s.skipped_files << " already there" << job::throttle_note(s) << "\x1b[K" << std::flush;
  };
  job::MarkerCheck marker_check = markers.get();
  // (Another hoist creating the bucket at the same moment may have sent a
  // few blobs already: sending them again is harmless.)
  marker_check.bucket_new = bucket_new;
  // The job's own role, made while the files upload: IAM takes a few
  // seconds more to show a new profile to EC2, which this overlaps too.
  const job::AgentBundle& agent = job::agent_bundle();
  job.agent_sha256 = agent.sha256;
  job.agent_size = agent.bytes.size();
  job::JobScope scope{job.bucket, job.id, job.repository, {agent.sha256}, job.input_s3, job.output_s3};
  for (const auto* files : {&job.code, &job.inputs})
    for (const auto& [rel, f] : *files) scope.blobs.push_back(f.sha256);
  auto role = std::async(std::launch::async, [&] { job::create_job_role(c.session, c.account, scope); });
  nlohmann::json launching = {{"job_id", job.id},
                              {"phase", "launching"},
                              {"updated_at", job::iso8601(std::chrono::system_clock::now())},
                              {"phases", {{"launching", job::iso8601(std::chrono::system_clock::now())}}},
                              {"instance_id", nullptr},
                              {"exit_code", nullptr},
                              {"error", nullptr}};
  bool status_written = false;
  auto stage_and_launch = [&]() -> job::Launched {
    auto stats = job::stage(s3, job.bucket, {&job.code, &job.inputs}, show, &marker_check);
    if (tty) std::cerr << "\r";
    say("staged " + std::to_string(stats.files) + " files (" + human_bytes(static_cast<double>(stats.bytes)) +
        "): sent " + std::to_string(stats.uploaded_files) + " (" +
        human_bytes(static_cast<double>(stats.uploaded_bytes)) + ", " +
        human_bytes(stats.seconds > 0 ? static_cast<double>(stats.uploaded_bytes) / stats.seconds : 0) +
        "/s), skipped " + std::to_string(stats.skipped_files) + " already uploaded (" +
        human_bytes(static_cast<double>(stats.skipped_bytes)) + ")");
    // The agent the instance fetches by hash, beside the job's spec and status.
    auto put_agent = std::async(std::launch::async, [&] { job::ensure_agent_bundle(s3, job.bucket, bucket_new); });
    auto put_job = std::async(std::launch::async, [&] {
      s3.put_object(job.bucket, job.prefix() + "job.json", job.to_json().dump(2), "application/json");
    });
    auto put_status = std::async(std::launch::async, [&] {
      s3.put_object(job.bucket, job.prefix() + "status.json", launching.dump(2), "application/json");
      status_written = true;
    });
    // Each is waited for before an error leaves this scope.
    std::exception_ptr put_error;
    for (auto* put : {&put_agent, &put_job, &put_status, &role}) {
      try {
        put->get();
      } catch (...) {
        if (!put_error) put_error = std::current_exception();
      }
    }
    if (put_error) std::rethrow_exception(put_error);
    return job::launch_fitting(
        c.session, job, machine_image, job::job_role_name(job.id), [&](const job::Job& now, const std::string& why) {
          say(why);
          s3.put_object(job.bucket, job.prefix() + "job.json", now.to_json().dump(2), "application/json");
        });
  };
  job::Launched launched;
  try {
    launched = stage_and_launch();
  } catch (...) {
    // Whatever failed, the role is made or given up on before it is removed.
    if (role.valid()) role.wait();
    if (status_written) {
      launching["phase"] = "failed";
      launching["error"] = "the instance could not be launched";
      s3.put_object(job.bucket, job.prefix() + "status.json", launching.dump(2), "application/json");
    }
    job::release_job_resources(c.session, job.id, "");
    job::raise_if_quota(std::current_exception(), job.plan, job.region);  // one line naming the quota
    throw;
  }
  say("launched " + launched.instance_id + " (" + job.plan.type.name +
      (launched.zone.empty() ? "" : " in " + launched.zone) + ")");
  // Spot, placed in a dearer zone than the cheapest: the spec says what it costs.
  if (launched.zone != job.plan.zone && job.plan.price_spot_in(launched.zone)) {
    say("spot price in " + launched.zone + ": " + job::format_usd(job.plan.usd_per_hour) + "/h");
    s3.put_object(job.bucket, job.prefix() + "job.json", job.to_json().dump(2), "application/json");
  }
  const std::string follow = "hoist logs " + job.id + " -f";
  // Said whenever hoist stops following a job that goes on without it.
  const std::string goes_on =
      "the job goes on in AWS (it ends itself within " + job::format_duration(job.options.max_runtime) + ")";
  const std::string commands =
      "follow: " + follow + "    status: hoist status " + job.id + "    stop: hoist cancel " + job.id;
  if (o.detach) {
    say("detached; follow with `" + follow + "`, stop with `hoist cancel " + job.id + "`");
    std::cout << job.id << "\n";
    return 0;
  }

  // 4. Follow it until it ends; Ctrl-C detaches.
  std::signal(SIGINT, on_sigint);
  auto t0 = std::chrono::steady_clock::now();
  job::WatchEvents events;
  events.on_phase = [&](const std::string& phase, const job::JobStatus& st) {
    if (job::is_terminal_phase(phase)) return;  // the summary below says how it ended
    say("[" + phase + "]" + (phase == "running" ? st.image_note() : std::string()));
  };
  events.on_log = [](const std::string& chunk) { std::cout << chunk << std::flush; };
  events.detach_requested = [] { return g_interrupts.load() > 0; };
  job::WatchResult result;
  try {
    result = job::watch(c.session, job.bucket, job.id, launched.instance_id, job.options.max_runtime, events);
  } catch (const aws::AwsError&) {
    // Say where the job is before the error (expired credentials, say).
    say(goes_on);
    say(commands);
    throw;
  }
  std::signal(SIGINT, SIG_DFL);
  if (result.end == job::WatchEnd::detached) {
    std::cerr << "\n";
    say("detached: " + goes_on);
    say(commands);
    return 130;
  }
  auto wall = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t0);

  // 5. Whatever happened: bring outputs home, end the instance, report.
  int status = 0;
  if (result.end == job::WatchEnd::lost) {
    bool preempted = result.instance_state_reason.find("Spot") != std::string::npos;
    say(std::string("the instance ended without a final status") + (preempted ? " (spot interruption)" : "") +
        "; its logs so far: `hoist logs " + job.id + "`");
    status = static_cast<int>(preempted ? Exit::preempted : Exit::job_lost);
  } else if (result.end == job::WatchEnd::overdue) {
    say("the job outlived --max-runtime; ending its instance");
    status = static_cast<int>(Exit::timed_out);
  } else {
    status = exit_status_for(result.status);
    std::string what = result.status.phase;
    if (result.status.exit_code) what += " (exit " + std::to_string(*result.status.exit_code) + ")";
    if (!result.status.error.empty()) what += ": " + result.status.error;
    say(what + " after " + job::format_duration(wall));
  }
  job::release_job_resources(c.session, job.id, launched.instance_id);
  if (!job::is_s3_uri(o.output)) {
    auto d = job::download_prefix(s3, job.output_s3, o.output);
    say(std::to_string(d.files) + " output files (" + human_bytes(static_cast<double>(d.bytes)) + ") in " + o.output);
  } else {
    say("outputs in " + job.output_s3);
  }
  auto out_uri = aws::S3Uri::parse(job.output_s3);
  say("S3 console: " + job::console_url(out_uri.bucket, job.region, out_uri.key));
  std::string state, launch_time;
  job::find_job_instance(c.session, job.id, &state, &launch_time);
  if (job.plan.price_known) {
    const auto cost = job::job_cost(c.session, s3, job.bucket, job.id, launch_time);
    const bool minimum = job::billed_seconds(cost.ran) > cost.ran;
    say("cost: about " + job::format_usd(cost.usd) + " (" + job.plan.type.name +
        (job.plan.spot ? " spot" : " on-demand") + " for " + job::format_duration(cost.ran) +
        (minimum ? ", billed as EC2's one-minute minimum" : "") + "; " + cost.basis + ")");
  }
  return status;
}

}  // namespace

Command register_run(CLI::App& parent, Globals& g) {
  auto* app = parent.add_subcommand("run", "Run a project's script on an EC2 instance and bring back its outputs");
  auto o = std::make_shared<job::RunOptions>();
  auto max_runtime = std::make_shared<std::string>();
  app->add_option("project", o->project_dir, "Folder with the script, its modules and requirements.txt")->required();
  app->add_option("-i,--input", o->input, "Input folder or file, or s3://BUCKET/PREFIX")->required();
  app->add_option("-o,--output", o->output, "Output folder, or s3://BUCKET/PREFIX")->required();
  app->add_option("--script", o->script, "Entry script in the project (default main.py)");
  app->add_option("--instance-type", o->instance_type, "EC2 instance type (default t3.medium)");
  app->add_option("--cpus", o->cpus, "At least this many vCPUs (picks the cheapest type that fits)");
  app->add_option("--memory", o->memory_gib, "At least this many GiB of memory");
  app->add_option("--gpus", o->gpus, "At least this many GPUs");
  app->add_option("--gpu-type", o->gpu_type, "GPU model: T4, A10G, L4, L40S, V100, A100, H100");
  app->add_option("--arch", o->arch, "CPU architecture for --cpus/--memory/--gpus: x86_64 or arm64 (default: either)");
  app->add_flag("--spot", o->spot, "Use a spot instance (cheaper, may be interrupted)");
  app->add_option("--budget", o->budget_usd,
                  "At most this many USD: the instance ends itself before the job costs more (its deadline from the "
                  "on-demand price)");
  app->add_option(
      "--disk", o->disk_gib,
      "Root disk size in GiB (default 30, or more to hold the image and the inputs; never less than the image)");
  app->add_option("--max-runtime", *max_runtime, "The instance ends itself after this long (default 4h): 90s, 45m, 4h");
  app->add_option("--python", o->python, "Python version of the image (default 3.11)");
  app->add_option("--image", o->image,
                  "AMI to boot instead of the ECS-optimized Amazon Linux 2023 (or the Deep Learning AMI for GPUs); it "
                  "must ship what "
                  "they do: bash, curl, python3, the aws CLI, dnf or docker (and NVIDIA drivers for GPUs)");
  app->add_flag("--detach", o->detach, "Return once the job is launched");
  app->add_flag("--dry-run", o->dry_run, "Print the plan and its price; create nothing");
  app->add_flag("--rehash", o->rehash,
                "Hash every file again, not trusting what the last run found for files whose size, times and inode "
                "have not changed");
  app->add_flag("-y,--yes", o->yes, "Do not ask for confirmation");
  app->add_option("args", o->args, "Extra arguments for the script (after --)");
  add_aws_options(*app, g);
  return {app, [o, max_runtime, &g] {
            if (!max_runtime->empty()) o->max_runtime = job::parse_duration(*max_runtime, "--max-runtime");
            return run_job(*o, g);
          }};
}

}  // namespace hoist::cli

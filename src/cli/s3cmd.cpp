// `hoist s3 cp SRC DST`: a hidden developer command that moves one file
// between disk and S3 with hoist's transfer code, and says how fast.
// `hoist s3 stage DIR s3://BUCKET`: sends a folder's files as `hoist run`
// stages them (blobs/sha256/..., one transfer), to measure and test it.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "aws/client.hpp"
#include "aws/s3.hpp"
#include "cli/commands.hpp"
#include "job/connect.hpp"
#include "job/manifest.hpp"
#include "job/staging.hpp"
#include "util/error.hpp"

namespace hoist::cli {

namespace {

struct CpArgs {
  std::string src, dst;
  std::uint64_t threshold_mib = 16, part_size_mib = 8;
  std::size_t parallelism = 8;
};

int run_cp(const CpArgs& a, Globals& globals) {
  const bool up = a.dst.rfind("s3://", 0) == 0;
  const bool down = a.src.rfind("s3://", 0) == 0;
  if (up == down) throw Fatal(Exit::bad_option, "s3 cp copies a file to s3://BUCKET/KEY or from one");

  aws::TransferOptions options;
  options.multipart_threshold = a.threshold_mib << 20;
  options.part_size = a.part_size_mib << 20;
  options.parallelism = std::max<std::size_t>(a.parallelism, 1);
  // Connected, so that hoist's own bucket gets its owner checked.
  aws::S3 s3(job::connect(globals.aws).session);

  const auto start = std::chrono::steady_clock::now();
  std::uint64_t bytes = 0;
  if (up) {
    auto uri = aws::S3Uri::parse(a.dst);
    // Like `aws s3 cp`: a key ending in '/' (or none) names a folder.
    if (uri.key.empty() || uri.key.back() == '/') uri.key += std::filesystem::path(a.src).filename().string();
    s3.upload_file(uri.bucket, uri.key, a.src, options);
    bytes = std::filesystem::file_size(a.src);
  } else {
    auto uri = aws::S3Uri::parse(a.src);
    std::filesystem::path dst = a.dst;
    if (std::filesystem::is_directory(dst)) dst /= std::filesystem::path(uri.key).filename();
    s3.download_file(uri.bucket, uri.key, dst.string(), options);
    bytes = std::filesystem::file_size(dst);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu bytes in %.2f s (%.1f MB/s)\n", static_cast<unsigned long long>(bytes), seconds,
              seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0);
  return 0;
}

int run_stage(const std::string& dir, const std::string& dst, Globals& globals) {
  const auto uri = aws::S3Uri::parse(dst);
  if (!std::filesystem::is_directory(dir)) throw Fatal(Exit::input_missing, "s3 stage: " + dir + " is not a folder");
  job::Manifest files = job::list_files(dir);
  job::hash_files(files, 4);
  aws::S3 s3(aws::Session::create(globals.aws));
  const auto stats = job::stage(s3, uri.bucket, {&files}, {});
  std::printf("staged %llu files (%llu bytes): sent %llu, skipped %llu, in %.2f s; %llu throttling answers\n",
              static_cast<unsigned long long>(stats.files), static_cast<unsigned long long>(stats.bytes),
              static_cast<unsigned long long>(stats.uploaded_files),
              static_cast<unsigned long long>(stats.skipped_files), stats.seconds,
              static_cast<unsigned long long>(stats.throttles));
  return 0;
}

}  // namespace

Command register_s3(CLI::App& parent, Globals& globals) {
  auto* app = parent.add_subcommand("s3", "Developer tools for hoist's S3 transfers");
  app->group("");  // hidden from --help
  app->require_subcommand(1);
  auto args = std::make_shared<CpArgs>();
  auto* cp = app->add_subcommand("cp", "Copy one file to or from S3");
  cp->add_option("src", args->src, "FILE or s3://BUCKET/KEY")->required();
  cp->add_option("dst", args->dst, "FILE or s3://BUCKET/KEY")->required();
  cp->add_option("--threshold-mib", args->threshold_mib, "Multipart / ranged above this size (MiB)");
  cp->add_option("--part-size-mib", args->part_size_mib, "Part size (MiB)");
  cp->add_option("--parallelism", args->parallelism, "Parts in flight");
  add_aws_options(*cp, globals);
  auto* stage = app->add_subcommand("stage", "Send a folder's files as `hoist run` stages them");
  stage->add_option("dir", args->src, "FOLDER")->required();
  stage->add_option("dst", args->dst, "s3://BUCKET (which must exist)")->required();
  add_aws_options(*stage, globals);
  return {app, [args, stage, &globals] {
            return stage->parsed() ? run_stage(args->src, args->dst, globals) : run_cp(*args, globals);
          }};
}

}  // namespace hoist::cli

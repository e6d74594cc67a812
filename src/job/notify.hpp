#pragma once
// Telling a job's end (--notify): the instance sends it, so the laptop may
// be gone. E-mail goes through one SNS topic (kNotifyTopic), each address
// subscribed once; webhooks are POSTed to by the instance itself.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aws/client.hpp"
#include "job/account.hpp"

namespace hoist::job {

class Reporter;

struct NotifyTargets {
  std::vector<std::string> emails;
  std::vector<std::string> webhooks;
};
// --notify's targets, by kind (each already valid: project.cpp's validate).
NotifyTargets notify_targets(const std::vector<std::string>& targets);

// The topic (made when missing, tagged hoist:managed=true) with every
// address subscribed: one not yet subscribed, pending ones included, is
// subscribed now, and the reporter tells the user to confirm AWS's mail.
// Returns the topic's ARN.
std::string ensure_notifications(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                                 const std::vector<std::string>& emails, Reporter& reporter);

// job.json's "notify": where the instance tells the end, and what it says
// beside its own figures (the S3 console link of the outputs).
nlohmann::json notify_record(const std::string& topic_arn, const NotifyTargets& targets, const std::string& console);

}  // namespace hoist::job

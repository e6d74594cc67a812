#include "job/notify.hpp"

#include <algorithm>

#include "aws/sns.hpp"
#include "job/naming.hpp"
#include "job/project.hpp"
#include "job/reporter.hpp"
#include "util/text.hpp"

namespace hoist::job {

NotifyTargets notify_targets(const std::vector<std::string>& targets) {
  NotifyTargets out;
  for (const auto& t : targets) {
    auto& into = notify_kind(t) == NotifyKind::email ? out.emails : out.webhooks;
    if (std::ranges::find(into, t) == into.end()) into.push_back(t);
  }
  return out;
}

std::string ensure_notifications(const std::shared_ptr<aws::Session>& session, const AccountFacts& account,
                                 const std::vector<std::string>& emails, Reporter& reporter) {
  aws::Sns sns(session);
  std::string arn = sns.create_topic(kNotifyTopic, managed_tags());
  if (arn != notify_topic_arn(account))
    reporter.detail("SNS named the topic " + arn + ", not " + notify_topic_arn(account));
  const auto subscribed = sns.subscriptions(arn);
  for (const auto& address : emails) {
    const bool known = std::ranges::any_of(subscribed, [&](const aws::Subscription& s) {
      return s.protocol == "email" && ascii_lower(s.endpoint) == ascii_lower(address);
    });
    if (known) continue;
    sns.subscribe(arn, "email", address);
    reporter.note("AWS sent a confirmation mail to " + address +
                  ": open it and confirm, or no mail from hoist reaches it (asked once per address)");
  }
  return arn;
}

nlohmann::json notify_record(const std::string& topic_arn, const NotifyTargets& targets, const std::string& console) {
  return {{"topic_arn", topic_arn.empty() ? nlohmann::json(nullptr) : nlohmann::json(topic_arn)},
          {"webhooks", targets.webhooks},
          {"console_url", console}};
}

}  // namespace hoist::job

#pragma once
// SNS (query protocol): the one topic hoist's jobs publish their end to
// (hoist-notifications), its e-mail subscriptions, and what `hoist down`
// needs of it: whether it is there and hoist's (its tags), and its deletion.
// CreateTopic is idempotent by name, so two runs making it at once get the
// same topic.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/client.hpp"

namespace hoist::aws {

struct Subscription {
  std::string arn;  // "PendingConfirmation" until the address confirms it
  std::string protocol;
  std::string endpoint;
};

class Sns {
 public:
  explicit Sns(std::shared_ptr<Session> session);
  // The topic's ARN (made when missing, tagged as given).
  std::string create_topic(const std::string& name, const std::map<std::string, std::string>& tags);
  // Every subscription of the topic, pending ones included (paged).
  std::vector<Subscription> subscriptions(const std::string& topic_arn);
  // Subscribes an address; SNS mails it a confirmation link.
  void subscribe(const std::string& topic_arn, const std::string& protocol, const std::string& endpoint);
  // The topic's tags (ListTagsForResource); nullopt when there is no such topic.
  std::optional<std::map<std::string, std::string>> topic_tags(const std::string& topic_arn);
  // Deletes the topic and its subscriptions; false when there was none.
  bool delete_topic(const std::string& topic_arn);

 private:
  Client client_;
};

}  // namespace hoist::aws

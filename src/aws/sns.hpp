#pragma once
// SNS (query protocol): what `hoist down` needs of the notification topic
// hoist-notifications: whether it is there and hoist's (its tags), and its
// deletion.
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aws/client.hpp"

namespace hoist::aws {

class Sns {
 public:
  explicit Sns(std::shared_ptr<Session> session);
  // The topic's tags (ListTagsForResource); nullopt when there is no such topic.
  std::optional<std::map<std::string, std::string>> topic_tags(const std::string& topic_arn);
  // Deletes the topic and its subscriptions; false when there was none.
  bool delete_topic(const std::string& topic_arn);

 private:
  Client client_;
};

}  // namespace hoist::aws

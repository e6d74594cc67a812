#include "aws/sns.hpp"

#include "aws/error.hpp"
#include "aws/protocols.hpp"

namespace hoist::aws {

Sns::Sns(std::shared_ptr<Session> session)
    : client_(std::move(session), Service{"sns", "sns", Protocol::query, "2010-03-31"}) {}

std::optional<std::map<std::string, std::string>> Sns::topic_tags(const std::string& topic_arn) {
  try {
    auto doc = query_call(client_, "ListTagsForResource", {{"ResourceArn", topic_arn}});
    std::map<std::string, std::string> tags;
    auto list = doc->document_element().child("ListTagsForResourceResult").child("Tags");
    for (auto member : list.children("member"))
      tags[member.child("Key").child_value()] = member.child("Value").child_value();
    return tags;
  } catch (const AwsError& e) {
    if (e.is("NotFound") || e.is("ResourceNotFound") || e.is("ResourceNotFoundException") || e.not_found())
      return std::nullopt;
    throw;
  }
}

bool Sns::delete_topic(const std::string& topic_arn) {
  if (!topic_tags(topic_arn)) return false;
  query_call(client_, "DeleteTopic", {{"TopicArn", topic_arn}});
  return true;
}

}  // namespace hoist::aws

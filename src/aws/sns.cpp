#include "aws/sns.hpp"

#include "aws/error.hpp"
#include "aws/protocols.hpp"

namespace hoist::aws {

Sns::Sns(std::shared_ptr<Session> session)
    : client_(std::move(session), Service{"sns", "sns", Protocol::query, "2010-03-31"}) {}

std::string Sns::create_topic(const std::string& name, const std::map<std::string, std::string>& tags) {
  QueryParams p{{"Name", name}};
  std::size_t n = 0;
  for (const auto& [key, value] : tags) {
    const std::string member = "Tags.member." + std::to_string(++n);
    p.emplace_back(member + ".Key", key);
    p.emplace_back(member + ".Value", value);
  }
  const auto doc = query_call(client_, "CreateTopic", p);
  std::string arn = xml_text(doc->document_element(), "TopicArn");
  if (arn.empty()) throw std::runtime_error("SNS CreateTopic returned no TopicArn");
  return arn;
}

std::vector<Subscription> Sns::subscriptions(const std::string& topic_arn) {
  std::vector<Subscription> out;
  query_paginate(
      client_, "ListSubscriptionsByTopic", {{"TopicArn", topic_arn}}, "NextToken", "NextToken",
      [&](const pugi::xml_document& doc) {
        for (const auto& member :
             doc.document_element().child("ListSubscriptionsByTopicResult").child("Subscriptions").children("member"))
          out.push_back({member.child("SubscriptionArn").child_value(), member.child("Protocol").child_value(),
                         member.child("Endpoint").child_value()});
      });
  return out;
}

void Sns::subscribe(const std::string& topic_arn, const std::string& protocol, const std::string& endpoint) {
  query_call(client_, "Subscribe", {{"TopicArn", topic_arn}, {"Protocol", protocol}, {"Endpoint", endpoint}});
}

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

// Error bodies of each protocol, xml_text, and what describe() tells a user.
#include "aws/protocols.hpp"

#include <gtest/gtest.h>

#include "aws/error.hpp"

namespace hoist::aws {
namespace {

HttpResponse response(long status, std::string body, Headers headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(ParseError, Query) {
  const auto info =
      parse_error(Protocol::query, response(403, R"(<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message></Error>
  <RequestId>4a5b</RequestId></ErrorResponse>)"));
  EXPECT_EQ(info.code, "AccessDenied");
  EXPECT_EQ(info.message, "not allowed");
  EXPECT_EQ(info.request_id, "4a5b");
}

TEST(ParseError, Ec2) {
  const auto info = parse_error(Protocol::query, response(400, R"(<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized.</Message></Error></Errors><RequestID>ab-12</RequestID></Response>)"));
  EXPECT_EQ(info.code, "UnauthorizedOperation");
  EXPECT_EQ(info.message, "You are not authorized.");
  EXPECT_EQ(info.request_id, "ab-12");
}

TEST(ParseError, RestXml) {
  const auto info =
      parse_error(Protocol::rest_xml,
                  response(404,
                           "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
                           "<BucketName>b</BucketName><RequestId>r1</RequestId></Error>",
                           {{"x-amz-request-id", "hdr-id"}}));
  EXPECT_EQ(info.code, "NoSuchBucket");
  EXPECT_EQ(info.message, "The specified bucket does not exist");
  EXPECT_EQ(info.request_id, "hdr-id");  // the header wins
}

TEST(ParseError, Json) {
  auto info = parse_error(
      Protocol::json, response(400, R"({"__type":"com.amazonaws.ecr#RepositoryNotFoundException","message":"gone"})",
                               {{"x-amzn-RequestId", "j-1"}}));
  EXPECT_EQ(info.code, "RepositoryNotFoundException");
  EXPECT_EQ(info.message, "gone");
  EXPECT_EQ(info.request_id, "j-1");
  info = parse_error(Protocol::json, response(400, R"({"__type":"ThrottlingException","Message":"slow"})"));
  EXPECT_EQ(info.code, "ThrottlingException");
  EXPECT_EQ(info.message, "slow");
  info = parse_error(Protocol::json,
                     response(400, "{}", {{"x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/"}}));
  EXPECT_EQ(info.code, "ValidationException");
}

TEST(ParseError, NoBodyFallsBackOnTheStatus) {
  EXPECT_EQ(parse_error(Protocol::rest_xml, response(404, "")).code, "NotFound");
  EXPECT_EQ(parse_error(Protocol::rest_xml, response(403, "")).code, "Forbidden");
  EXPECT_EQ(parse_error(Protocol::rest_xml, response(503, "<html>proxy</html>")).code, "ServiceUnavailable");
  EXPECT_EQ(parse_error(Protocol::json, response(418, "not json")).code, "HTTP418");
}

TEST(XmlText, IgnoresNamespacesAndFindsDescendants) {
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(
      R"(<a:Root xmlns:a="urn:x"><a:Outer><a:Account>123</a:Account></a:Outer><Arn>arn:x</Arn></a:Root>)"));
  EXPECT_EQ(xml_text(doc, "Account"), "123");
  EXPECT_EQ(xml_text(doc, "Arn"), "arn:x");
  EXPECT_EQ(xml_text(doc, "Missing"), "");
}

TEST(Describe, NamesTheOperationCodeAndRequest) {
  const AwsError e("ec2", "RunInstances", "UnauthorizedOperation",
                   "You are not authorized to perform this operation. User: arn:aws:iam::1:user/u is not "
                   "authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:*",
                   "req-1", 403);
  EXPECT_TRUE(e.access_denied());
  const std::string text = describe(e);
  EXPECT_TRUE(text.starts_with("ec2 RunInstances failed: UnauthorizedOperation: You are not authorized"));
  EXPECT_NE(text.find("(HTTP 403, request id req-1)."), std::string::npos) << text;
  EXPECT_NE(text.find("The credentials lack the permission ec2:RunInstances."), std::string::npos) << text;
  // The layer knows no program's commands: those come from the caller.
  EXPECT_EQ(text.find("hoist"), std::string::npos) << text;
}

TEST(Describe, GivesTheCallersAdvice) {
  const Advice advice{"prog", "`prog who`", "`prog policy`"};
  auto described = [&](const std::string& code, const std::string& message, const Advice& a) {
    return describe(AwsError("sts", "GetCallerIdentity", code, message, "", 403), a);
  };
  EXPECT_EQ(described("AccessDenied", "m", advice),
            "sts GetCallerIdentity failed: AccessDenied: m (HTTP 403). The credentials lack a permission prog needs; "
            "`prog policy` prints the policy prog needs.");
  EXPECT_EQ(described("AccessDenied", "m", {}),
            "sts GetCallerIdentity failed: AccessDenied: m (HTTP 403). The credentials lack a permission this "
            "request needs.");
  EXPECT_NE(described("SignatureDoesNotMatch", "m", advice).find("in use (`prog who` shows its source) and the"),
            std::string::npos);
  EXPECT_NE(described("SignatureDoesNotMatch", "m", {}).find("Check the secret access key in use and the system"),
            std::string::npos);
  EXPECT_NE(described("InvalidClientTokenId", "m", advice).find("are in use with `prog who`, and that the region"),
            std::string::npos);
  EXPECT_NE(described("InvalidClientTokenId", "m", {}).find("are in use, and that the region"), std::string::npos);
}

// As Python's urllib.parse.urlencode writes it, which is what botocore sends
// (and what moto re-encodes when it checks a signature).
TEST(QueryProtocol, FormEncodingIsBotocoresByteForByte) {
  EXPECT_EQ(form_encode("hoist job instances in us-east-1 a+b/c~d*\xc3\xa9 %20"),
            "hoist+job+instances+in+us-east-1+a%2Bb%2Fc~d%2A%C3%A9+%2520");
  EXPECT_EQ(form_encode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(form_encode(""), "");
}

TEST(Describe, HintsPerKindOfFailure) {
  auto hint_of = [](const std::string& code, long status) {
    return describe(AwsError("s3", "GetObject", code, "m", "", status));
  };
  EXPECT_NE(hint_of("ExpiredToken", 400).find("aws sso login"), std::string::npos);
  EXPECT_NE(hint_of("NetworkError", 0).find("(no response)."), std::string::npos);
  EXPECT_NE(hint_of("NetworkError", 0).find("--endpoint-url"), std::string::npos);
  EXPECT_NE(hint_of("SlowDown", 503).find("retry"), std::string::npos);
  EXPECT_NE(hint_of("NoSuchBucket", 404).find("bucket does not exist"), std::string::npos);
  EXPECT_NE(hint_of("AccessDenied", 403).find("lack a permission"), std::string::npos);
  EXPECT_NE(hint_of("InvalidClientTokenId", 403).find("check which credentials are in use"), std::string::npos);
  // What STS says to valid keys in an opt-in region the account has not enabled.
  EXPECT_NE(hint_of("InvalidClientTokenId", 403).find("region is enabled"), std::string::npos);
  EXPECT_NE(hint_of("InsufficientInstanceCapacity", 500).find("try another type"), std::string::npos);
  EXPECT_NE(hint_of("VcpuLimitExceeded", 400).find("Service Quotas"), std::string::npos);
  // An account whose default VPC was deleted (common under AWS Organizations).
  EXPECT_NE(hint_of("VPCIdNotSpecified", 400).find("aws ec2 create-default-vpc"), std::string::npos);
  EXPECT_EQ(hint_of("InvalidParameterValue", 400), "s3 GetObject failed: InvalidParameterValue: m (HTTP 400).");
}

TEST(AwsErrorKinds, NotFound) {
  EXPECT_TRUE(AwsError("s3", "HeadObject", "NotFound", "", "", 404).not_found());
  EXPECT_TRUE(AwsError("ecr", "X", "RepositoryNotFoundException", "", "", 400).not_found());
  EXPECT_TRUE(AwsError("iam", "GetRole", "NoSuchEntity", "", "", 404).not_found());
  EXPECT_FALSE(AwsError("iam", "GetRole", "AccessDenied", "", "", 403).not_found());
  EXPECT_FALSE(AwsError("iam", "GetRole", "AccessDenied", "", "", 403).is("NoSuchEntity"));
}

}  // namespace
}  // namespace hoist::aws

#include <gtest/gtest.h>
#include <zlib.h>

#include "job/launcher.hpp"

namespace {
std::string gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}
}  // namespace

TEST(UserData, CoordinatesThenBootstrapWithTheAgentInlined) {
  std::string ud = hoist::job::user_data("hoist-1-us-east-1", "wc-20261124-031500-ab12", "us-east-1");
  ASSERT_LE(ud.size(), 16384u);  // EC2's limit, before base64
  std::string script = ud.rfind("#!", 0) == 0 ? ud : gunzip(ud);
  EXPECT_EQ(script.rfind("#!/bin/bash\nHOIST_BUCKET='hoist-1-us-east-1'\nHOIST_JOB_ID='wc-20261124-031500-ab12'\n"
                         "HOIST_REGION='us-east-1'\n",
                         0),
            0u);
  EXPECT_NE(script.find("<<'HOIST_AGENT_PY_EOF'\n"), std::string::npos);
  EXPECT_EQ(script.find("\n#@HOIST_AGENT_PY@\n"), std::string::npos);  // the marker line was replaced
  EXPECT_EQ(script.find("AWS_SECRET_ACCESS_KEY="), std::string::npos);
}

TEST(UserData, QuotesValuesForTheShell) {
  std::string ud = hoist::job::user_data("b", "it's", "r");
  std::string script = ud.rfind("#!", 0) == 0 ? ud : gunzip(ud);
  EXPECT_NE(script.find("HOIST_JOB_ID='it'\\''s'"), std::string::npos);
}

TEST(Ami, ParametersPerArchitecture) {
  EXPECT_EQ(hoist::job::ami_parameter("x86_64", false),
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64");
  EXPECT_EQ(hoist::job::ami_parameter("arm64", false),
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64");
  EXPECT_NE(hoist::job::ami_parameter("x86_64", true).find("nvidia"), std::string::npos);
}

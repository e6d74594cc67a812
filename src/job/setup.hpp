#pragma once
// `hoist setup`: what an administrator makes once so that people with only
// the printed policy can run hoist.
#include <string>
#include <vector>

#include "job/connect.hpp"

namespace hoist::job {

class Reporter;

inline constexpr const char* kUserPolicyName = "hoist-user";

// Creates (or brings up to date) the job boundary, allowing these data
// buckets besides hoist's own (none: any bucket, with a warning), and the
// hoist-user policy. Fatal(Exit::access_denied) for a caller who may not.
void setup(const Connected& c, const std::vector<std::string>& data_buckets, Reporter& reporter);

}  // namespace hoist::job

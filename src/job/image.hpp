#pragma once
// The container image a job runs in: the Dockerfile hoist generates and the
// key that names it in ECR. Code is mounted at run time, so only
// requirements.txt, the Python version, the Dockerfile and the CPU
// architecture decide the key: an arm64 job never reuses an amd64 image.
#include <string>

namespace hoist::job {

struct ImageSpec {
  std::string python;      // "3.11"
  std::string dockerfile;  // text
  std::string arch;        // EC2's name: x86_64 or arm64
  std::string key;         // sha256 hex: the ECR tag
};

ImageSpec image_spec(const std::string& requirements_txt, const std::string& python, bool gpu, const std::string& arch);

}  // namespace hoist::job

#include "job/image.hpp"

#include "aws/crypto.hpp"
#include "util/error.hpp"

namespace hoist::job {

ImageSpec image_spec(const std::string& requirements_txt, const std::string& python, bool gpu,
                     const std::string& arch) {
  for (char c : python)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.'))
      throw Fatal(Exit::bad_option, "python version '" + python + "' is not like 3.11: fix `python` in hoist.toml");
  ImageSpec s;
  s.python = python;
  s.arch = arch;
  // Public ECR's mirror of the Docker official image avoids Docker Hub's pull
  // limits on fresh instances.
  s.dockerfile = "FROM public.ecr.aws/docker/library/python:" + python + "-slim\n" +
                 "ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1\n" +
                 std::string(gpu ? "ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility\n" : "") +
                 "COPY requirements.txt /opt/hoist/requirements.txt\n"
                 "RUN pip install -r /opt/hoist/requirements.txt\n"
                 "WORKDIR /opt/hoist/code\n";
  s.key = aws::sha256_hex(requirements_txt + "\n" + python + "\n" + s.dockerfile + "\n" + arch);
  return s;
}

}  // namespace hoist::job

// HttpRequest's host and URL; the query is encoded exactly as SigV4's
// canonical query string, so the bytes signed are the bytes sent.
#include "aws/http.hpp"
#include "aws/sigv4.hpp"

namespace hoist::aws {

// Lower-cased host, with the port only when it is not the scheme's default
// (what botocore signs as Host, and what curl would send).
std::string HttpRequest::host() const {
  std::string_view rest = endpoint;
  std::string_view scheme;
  if (auto p = rest.find("://"); p != std::string_view::npos) {
    scheme = rest.substr(0, p);
    rest.remove_prefix(p + 3);
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);  // userinfo
  std::string_view port;
  // A ':' after the last ']' separates the port (IPv6 hosts are bracketed).
  const std::size_t bracket = rest.rfind(']');
  const std::size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    port = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  std::string out(rest);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const bool default_port = (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
  if (!port.empty() && !default_port) out += ":" + std::string(port);
  return out;
}

std::string HttpRequest::url() const {
  std::string out = endpoint + (path.empty() ? std::string("/") : path);
  if (!query.empty()) out += "?" + sigv4::canonical_query_string(query);
  return out;
}

}  // namespace hoist::aws

// The job record: its round trip, and the agent's side of the contract
// (agent/hoist_agent/record.py and the phases the agent writes) held against
// src/job/record.hpp.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "job/record.hpp"
#include "job/spec.hpp"

using namespace hoist;

namespace {

std::string agent_file(const std::string& rel) {
  std::ifstream in(std::string(HOIST_TEST_DATA) + "/../../agent/" + rel);
  EXPECT_TRUE(in) << "cannot read agent/" << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The quoted names of `NAME = ("a", "b", ...)` in a Python file.
std::vector<std::string> python_tuple(const std::string& text, const std::string& name) {
  std::smatch m;
  const std::regex def(name + R"(\s*=\s*\(([^)]*)\))");
  EXPECT_TRUE(std::regex_search(text, m, def)) << name << " not found";
  std::vector<std::string> out;
  const std::string body = m[1];
  const std::regex quoted(R"re("([^"]*)")re");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), quoted); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1]);
  return out;
}

std::vector<std::string> phase_names(bool terminal_only) {
  std::vector<std::string> out;
  for (auto p : job::kPhases)
    if (!terminal_only || job::is_terminal(p)) out.emplace_back(job::phase_name(p));
  return out;
}

TEST(Record, TheAgentsPhasesAndFieldsAreOurs) {
  const std::string record = agent_file("hoist_agent/record.py");
  EXPECT_EQ(python_tuple(record, "PHASES"), phase_names(false));
  EXPECT_EQ(python_tuple(record, "TERMINAL"), phase_names(true));
  const std::vector<std::string> fields(job::kStatusFields.begin(), job::kStatusFields.end());
  EXPECT_EQ(python_tuple(record, "STATUS_FIELDS"), fields);
}

// Every phase the agent writes, wherever it names one: status("X"),
// Abort("X", ...) and bootstrap.sh's `finalize PHASE` / phase=X.
TEST(Record, EveryPhaseTheAgentWritesIsKnown) {
  std::set<std::string> written;
  const std::string job = agent_file("hoist_agent/job.py") + agent_file("hoist_agent/cli.py");
  for (const auto* pattern :
       {R"re(status\("([a-z_]+)")re", R"re(Abort\("([a-z_]+)")re", R"re(phase\s*=\s*"([a-z_]+)")re"}) {
    const std::regex re(pattern);
    for (auto it = std::sregex_iterator(job.begin(), job.end(), re); it != std::sregex_iterator(); ++it)
      written.insert((*it)[1]);
  }
  const std::string boot = agent_file("bootstrap.sh");
  for (const auto* pattern : {R"re(HOIST_AGENT" finalize ([a-z_]+))re", R"(phase=([a-z_]+))"}) {
    const std::regex re(pattern);
    for (auto it = std::sregex_iterator(boot.begin(), boot.end(), re); it != std::sregex_iterator(); ++it)
      written.insert((*it)[1]);
  }
  EXPECT_GE(written.size(), 8U) << "the patterns no longer find the agent's phases";
  for (const auto& p : written) EXPECT_TRUE(job::parse_phase(p)) << "the agent writes phase '" << p << "'";
}

TEST(Record, Keys) {
  const std::string id = "demo-20261124-120000-abcd";
  EXPECT_EQ(job::keys::prefix(id), "jobs/" + id + "/");
  EXPECT_EQ(job::keys::spec(id), "jobs/" + id + "/job.json");
  EXPECT_EQ(job::keys::status(id), "jobs/" + id + "/status.json");
  EXPECT_EQ(job::keys::cancel(id), "jobs/" + id + "/cancel");
  EXPECT_EQ(job::keys::job_logs(id), "jobs/" + id + "/logs/job/");
  EXPECT_EQ(job::keys::bootstrap_log(id), "jobs/" + id + "/logs/bootstrap.log");
  EXPECT_EQ(job::keys::outputs(id), "jobs/" + id + "/output/");
}

TEST(Record, PhasesParseAndEndWhereTheyShould) {
  for (auto p : job::kPhases) EXPECT_EQ(job::parse_phase(job::phase_name(p)), p);
  EXPECT_FALSE(job::parse_phase("rebooting"));
  EXPECT_FALSE(job::is_terminal_phase("rebooting"));  // a newer agent's phase is not an end
  EXPECT_FALSE(job::is_terminal(job::Phase::uploading));
  EXPECT_TRUE(job::is_terminal(job::Phase::timed_out));
}

TEST(Record, StatusRoundTrip) {
  auto st = job::JobStatus::launching("demo-20261124-120000-abcd", "2026-11-24T12:00:00Z");
  EXPECT_EQ(st.phase, "launching");
  EXPECT_FALSE(st.terminal());
  st.advance(job::Phase::failed, "2026-11-24T12:00:09Z", "the instance could not be launched");
  const auto back = job::JobStatus::from_json(nlohmann::json::parse(st.to_json().dump()));
  EXPECT_EQ(back.phase, "failed");
  EXPECT_TRUE(back.terminal());
  EXPECT_EQ(back.error, "the instance could not be launched");
  EXPECT_EQ(back.updated_at, "2026-11-24T12:00:09Z");
  EXPECT_TRUE(back.reached(job::Phase::launching));
  EXPECT_TRUE(back.reached(job::Phase::failed));
  EXPECT_FALSE(back.reached(job::Phase::running));
  EXPECT_FALSE(back.exit_code);
  EXPECT_TRUE(back.raw.at("instance_id").is_null());
  for (const auto& [key, value] : back.raw.items())
    EXPECT_NE(std::find(job::kStatusFields.begin(), job::kStatusFields.end(), key), job::kStatusFields.end()) << key;
}

TEST(Record, StatusFromTheAgent) {
  const auto st = job::JobStatus::from_json(nlohmann::json::parse(R"({
    "job_id": "demo-20261124-120000-abcd", "phase": "running", "updated_at": "2026-11-24T12:01:00Z",
    "phases": {"launching": "a", "booting": "b", "staging": "c", "running": "d"},
    "instance_id": "i-0123", "exit_code": null, "error": null, "outputs": null,
    "image": {"reused": false, "pushed": true, "runtime": "docker"}})"));
  EXPECT_TRUE(st.reached(job::Phase::staging));
  EXPECT_FALSE(st.reached(job::Phase::building));  // skipped: the image was found
  EXPECT_EQ(st.instance_id, "i-0123");
  EXPECT_EQ(st.image_note(), " (image built and pushed to ECR)");
}

}  // namespace

TEST(Record, TheAttemptsOfARelaunchedJob) {
  const auto st = job::JobStatus::from_json(nlohmann::json::parse(R"({
    "job_id": "demo-20261124-120000-abcd", "phase": "running", "attempt": 2, "instance_id": "i-2",
    "attempts": [{"attempt": 1, "instance_id": "i-1", "spot": true, "zone": "us-east-1a", "started_at": "a",
                  "ended_at": "b", "ended": "interrupted", "error": "spot interruption notice"},
                 "not an attempt", {"attempt": 9, "zone": null}]})"));
  ASSERT_EQ(st.attempts.size(), 2U);
  const job::Attempt& first = st.attempts[0];
  EXPECT_EQ(first.attempt, 1);
  EXPECT_EQ(first.instance_id, "i-1");
  EXPECT_TRUE(first.spot);
  EXPECT_EQ(first.zone, "us-east-1a");
  EXPECT_EQ(first.ended, "interrupted");
  EXPECT_EQ(first.error, "spot interruption notice");
  EXPECT_EQ(st.attempts[1].zone, "");  // null: unknown
  EXPECT_FALSE(st.attempts[1].spot);
  EXPECT_FALSE(st.attempt_going_on());  // attempt 2 of 2 recorded entries: none after them
  const auto next = job::JobStatus::from_json(nlohmann::json::parse(R"({"phase": "booting", "attempt": 2,
    "attempts": [{"attempt": 1, "ended": "interrupted"}]})"));
  EXPECT_TRUE(next.attempt_going_on());
}

TEST(Record, TheBlobsAJobJsonNamesAreTheOnesItWasWrittenWith) {
  job::Job j;
  j.id = "p-20260101-000000-abcd";
  j.code["main.py"].sha256 = std::string(64, 'a');
  j.inputs["in/x.csv"].sha256 = std::string(64, 'b');
  j.options.checkpoint = "/tmp/ckpt";
  j.checkpoint["state.pt"].sha256 = std::string(64, 'c');
  j.agent_sha256 = std::string(64, 'd');
  std::set<std::string> named;
  job::add_blobs_named(nlohmann::json::parse(j.to_json().dump()), named);
  EXPECT_EQ(named, (std::set<std::string>{std::string(64, 'a'), std::string(64, 'b'), std::string(64, 'c'),
                                          std::string(64, 'd')}));
  // Without a checkpoint folder its seed is not written, so it names nothing.
  j.options.checkpoint.clear();
  named.clear();
  job::add_blobs_named(j.to_json(), named);
  EXPECT_FALSE(named.contains(std::string(64, 'c')));
  // Anything else in the place of a manifest names nothing, and is no error.
  named.clear();
  job::add_blobs_named(nlohmann::json::parse(R"({"code": [1], "inputs": {"a": 3}, "agent": "x"})"), named);
  EXPECT_TRUE(named.empty());
}

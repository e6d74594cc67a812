#pragma once
// What the client does to itself before anything else, since its memory
// holds credentials (keys, session tokens, SSO tokens).

namespace hoist {

// No core file (RLIMIT_CORE 0, inherited by children) and not dumpable
// (PR_SET_DUMPABLE 0: no core either way, no ptrace attach by other
// processes of the user, /proc/<pid>/mem and environ closed to them).
// Failures are ignored: this only narrows what could leak.
void disable_core_dumps();

}  // namespace hoist

#!/usr/bin/env bash
# clang-tidy over every source file of the compile database under the paths
# below, with .clang-tidy's checks (warnings are errors there), two at a
# time. Usage: scripts/tidy.sh [BUILD_DIR [PATH...]]   (default: build, and
# the paths below; given paths check only those, e.g. while fixing one)
#
# Only what clang-tidy would see anew is checked again: a file found clean is
# remembered under $HOIST_TIDY_CACHE (default /var/tmp/hoist-tidy), keyed by
# the hash of its preprocessed text (so of every header it includes), its
# compile command, .clang-tidy and the clang-tidy version.
# $HOIST_TIDY_CHECKS, when set, is added to .clang-tidy's checks (clang-tidy
# --checks), e.g. '-clang-analyzer-*' to leave out the static analyzer, about
# 40% of an uncached run (.ci/run does, see the README).
# Exits 77 (ctest's "skipped") when clang-tidy is not installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# What is checked: these files and directories, and the headers in them.
paths=(src/util src/aws src/job src/cli src/main.cpp tests/unit)

build=${1:-build}
# The files to check: under the given paths, else all of the above. The
# headers checked are always those under the paths above, so a file's
# result does not depend on which paths were given.
selected=("${paths[@]}")
if [ $# -gt 1 ]; then
  selected=("${@:2}")
fi
tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
if [ -z "$tidy" ]; then
  echo "tidy: clang-tidy is not installed; skipped"
  exit 77
fi
if [ ! -f "$build/compile_commands.json" ]; then
  echo "tidy: $build/compile_commands.json is missing: configure the build first" >&2
  exit 1
fi
cache=${HOIST_TIDY_CACHE:-/var/tmp/hoist-tidy}
mkdir -p "$cache"

root=$(pwd)
# A layer's headers are reached through build/layers/<layer>/<dir>, which
# links to src/<dir> (see CMakeLists.txt): both spellings are checked.
in_src=""
elsewhere=""
for p in "${paths[@]}"; do
  case $p in
    src/*) in_src+="${p#src/}|" ;;
    *) elsewhere+="$p|" ;;
  esac
done
header_filter="^$root/(src/(${in_src%|})|${elsewhere%|})/|/layers/[^/]+/(${in_src%|})/"
# Everything the result depends on besides the file's own preprocessed text.
checks=${HOIST_TIDY_CHECKS:-}
config_hash=$({
  "$tidy" --version
  cat .clang-tidy tests/unit/.clang-tidy 2>/dev/null
  echo "$header_filter"
  if [ -n "$checks" ]; then echo "$checks"; fi
} | sha256sum | cut -d' ' -f1)

# One line per file: FILE<TAB>DIRECTORY<TAB>the compile command turned into
# one that preprocesses to stdout (shell-quoted).
list=$(python3 - "$build/compile_commands.json" "$root" "${selected[@]}" <<'EOF'
import json, os, shlex, sys
database, root, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
wanted = [os.path.join(root, p) for p in paths]
seen = set()
for entry in json.load(open(database)):
    file = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    if file in seen or not any(file == w or file.startswith(w + "/") for w in wanted):
        continue
    seen.add(file)
    argv = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("-o", "-c"):
            skip = True
        elif arg not in (entry["file"], file):
            out.append(arg)
    print(file, entry["directory"], shlex.join(out + ["-E", file]), sep="\t")
EOF
)
if [ -z "$list" ]; then
  echo "tidy: no files of ${selected[*]} in $build/compile_commands.json" >&2
  exit 1
fi

check_one() {
  local file dir preprocess key out
  IFS=$'\t' read -r file dir preprocess <<<"$1"
  key=$( {
    echo "$config_hash $preprocess"
    (cd "$dir" && eval "$preprocess" 2>/dev/null)
  } | sha256sum | cut -d' ' -f1)
  if [ -e "$cache/$key" ]; then
    echo "tidy: ${file#"$root"/}: clean (cached)"
    return 0
  fi
  if out=$("$tidy" -p "$build" --quiet --header-filter="$header_filter" ${checks:+"--checks=$checks"} "$file" 2>&1); then
    touch "$cache/$key"
    echo "tidy: ${file#"$root"/}: clean"
  else
    printf 'tidy: %s:\n%s\n' "${file#"$root"/}" "$out"
    return 1
  fi
}
export -f check_one
export tidy build cache root header_filter checks config_hash

count=$(wc -l <<<"$list")
echo "tidy: $count files of ${selected[*]}${checks:+ (checks also $checks)}"
# shellcheck disable=SC2016  # $1 is the child shell's: one line of the list
if ! xargs -d '\n' -P 2 -n 1 bash -c 'check_one "$1"' _ <<<"$list"; then
  echo "tidy: clang-tidy found problems (see above)" >&2
  exit 1
fi
echo "tidy: all $count files clean"

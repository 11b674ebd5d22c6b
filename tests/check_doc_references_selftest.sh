#!/usr/bin/env bash
# check_doc_references_selftest.sh — shows that tests/check_doc_references.sh can fail: it runs the
# check on small temporary trees and asserts its verdict on each.
#
#   1. references that resolve (from the root, relative to the naming file, with a #section, a
#      URL to another project's .md): the check passes;
#   2. the same tree plus one dangling reference: the check fails (exit 1) and names the file,
#      the line and the missing name;
#   3. as 2, as a git checkout (the `git ls-files` path), with a second dangling reference in a
#      file .gitignore excludes: the check fails on the tracked reference only.
# The .md names are assembled from "$ext" so that this file itself names no missing .md.
set -euo pipefail

check=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/check_doc_references.sh
ext=md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run_check TREE -> sets status and output
run_check() {
  set +e
  output=$(bash "$check" "$1" 2>&1)
  status=$?
  set -e
}

# 1. A tree whose references all resolve.
good="$tmp/good"
mkdir -p "$good/docs" "$good/src"
echo "# Real" >"$good/docs/real.$ext"
echo "# Top" >"$good/README.$ext"
printf '// see docs/real.%s#some-section and README.%s\n' "$ext" "$ext" >"$good/src/a.h"
printf 'See [real](real.%s) and https://example.com/other/gone.%s.\n' "$ext" "$ext" \
  >"$good/docs/other.$ext"
run_check "$good"
[ "$status" -eq 0 ] || fail "a tree whose references resolve: exit $status, expected 0: $output"

# 2. One dangling reference.
bad="$tmp/bad"
cp -r "$good" "$bad"
printf 'int x;\n// details in docs/gone.%s\n' "$ext" >"$bad/src/b.h"
run_check "$bad"
[ "$status" -eq 1 ] || fail "a dangling reference: exit $status, expected 1: $output"
grep -qF "src/b.h:2: docs/gone.$ext does not exist" <<<"$output" ||
  fail "the report does not name src/b.h:2 and docs/gone.$ext: $output"

# 3. A git checkout: tracked files are checked, ignored ones are not.
if command -v git >/dev/null 2>&1; then
  repo="$tmp/repo"
  cp -r "$bad" "$repo"
  mkdir -p "$repo/build"
  printf 'see docs/ignored.%s\n' "$ext" >"$repo/build/log.txt"
  echo "/build/" >"$repo/.gitignore"
  git -C "$repo" init -q
  git -C "$repo" add -A
  run_check "$repo"
  [ "$status" -eq 1 ] || fail "a git checkout with a dangling reference: exit $status: $output"
  grep -qF "src/b.h:2: docs/gone.$ext" <<<"$output" || fail "git: src/b.h not reported: $output"
  if grep -qF "ignored.$ext" <<<"$output"; then fail "git: an ignored file was checked: $output"; fi
else
  echo "git not found: the git ls-files case is skipped"
fi

if [ "$failures" -gt 0 ]; then
  echo "check_doc_references_selftest: $failures failure(s)"
  exit 1
fi
echo "check_doc_references_selftest: the check passes a clean tree and fails a dangling reference"

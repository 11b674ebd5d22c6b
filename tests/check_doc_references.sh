#!/usr/bin/env bash
# check_doc_references.sh — fail when a file of the repository names a .md file that is not in it.
#
#   tests/check_doc_references.sh [ROOT]      (ROOT: the repository root; default: this script's ..)
#
# Every text file is scanned for names ending in `.md` — `docs/results.md`, `README.md`,
# `docs/tgmm.md#the-loss` (the `#section` part is not checked) — in comments, docs, scripts and
# tests alike. URLs (`https://...`) are skipped: they name other projects' files. A name resolves
# when it exists relative to ROOT or relative to the directory of the file that names it (a
# relative link inside docs/). Exit status: 0 when every name resolves, 1 otherwise (each
# dangling name printed as FILE:LINE: NAME), 2 on a usage error.
#
# The files: in a git checkout, `git ls-files` (tracked files plus untracked ones that .gitignore
# does not exclude), so a clean clone (CI) and a working tree are checked alike; elsewhere `find`,
# skipping .git, build*/ and runs/ (what .gitignore excludes).
set -euo pipefail
export LC_ALL=C

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
if [ ! -d "$root" ]; then
  echo "check_doc_references: $root is not a directory" >&2
  exit 2
fi
root=$(cd "$root" && pwd -P)
cd "$root"

# NUL-separated list of the files to scan, relative to ROOT.
list_files() {
  local top
  top=$(git rev-parse --show-toplevel 2>/dev/null || true)
  if [ -n "$top" ] && [ "$(cd "$top" && pwd -P)" = "$root" ]; then
    git ls-files -z --cached --others --exclude-standard
  else
    find . \( -name .git -o -name 'build*' -o -name runs -o -name __pycache__ \) -prune -o \
      -type f -print0 | sed -z 's|^\./||'
  fi
}

# FILE<TAB>LINE<TAB>NAME for every .md name outside a URL, in the text files that mention ".md".
references() {
  list_files | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
    xargs -0 -r grep -IlZ -F '.md' -- |
    xargs -0 -r awk '{
      line = $0
      gsub(/[A-Za-z][A-Za-z0-9+.-]*:\/\/[^ \t)>"'"'"'`]*/, "", line)  # drop URLs
      while (match(line, /[A-Za-z0-9_.\/-]*[A-Za-z0-9_-]\.md/)) {
        name = substr(line, RSTART, RLENGTH)
        after = substr(line, RSTART + RLENGTH, 1)
        line = substr(line, RSTART + RLENGTH)
        if (after !~ /[A-Za-z0-9_]/) printf "%s\t%d\t%s\n", FILENAME, FNR, name
      }
    }'
}

checked=0
dangling=0
while IFS=$'\t' read -r file line name; do
  checked=$((checked + 1))
  dir=$(dirname "$file")
  if [ -e "$root/${name#/}" ] || [ -e "$dir/$name" ]; then continue; fi
  echo "$file:$line: $name does not exist"
  dangling=$((dangling + 1))
done < <(references)

if [ "$dangling" -gt 0 ]; then
  echo "check_doc_references: $dangling of $checked references to .md files do not resolve" >&2
  exit 1
fi
echo "check_doc_references: all $checked references to .md files resolve"

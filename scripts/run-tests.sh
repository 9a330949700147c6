#!/usr/bin/env bash
# Runs the compiled test files (*.test.js) under one directory with `node --test`, and only them.
#
# Why not `node --test <dir>`: which files Node picks from a directory depends on the Node version
# (Node 20 runs every .js file under any directory named `test` it walks into, which would include
# the harness modules if the argument were dist/ or dist/test/), it fails when the directory does
# not exist, and `node --test` without files runs everything under the current directory. Listing
# the files ourselves makes the set explicit. A directory without test files is not an error.
#
# Usage: scripts/run-tests.sh <dir> [node --test options...]
set -euo pipefail

dir=${1:?usage: scripts/run-tests.sh <dir> [node --test options...]}
shift

files=()
if [[ -d $dir ]]; then
  mapfile -t files < <(find "$dir" -type f -name '*.test.js' | LC_ALL=C sort)
fi
if ((${#files[@]} == 0)); then
  echo "no test files (*.test.js) under $dir; nothing to run"
  exit 0
fi
exec node --test "$@" "${files[@]}"

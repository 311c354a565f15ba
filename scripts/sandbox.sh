#!/usr/bin/env bash
# `npm run sandbox`: install what is missing, then run the local substrate until Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/ensure-deps.sh" >/dev/null
exec "$root/node_modules/.bin/tsx" "$root/packages/sandbox/src/bin/sandbox.ts" "$@"

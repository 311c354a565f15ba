#!/usr/bin/env bash
# Installs schemathesis (from PyPI, pinned) into a virtualenv in breakfix's cache; the orchestrator's
# contract test (apps/orchestrator/test/schemathesis.test.ts) runs it against the OpenAPI document.
# Idempotent. Prints the schemathesis path on its last line.
#   install.sh --check   install nothing: print the path, exit 3 if it is missing
set -euo pipefail
version=4.32.5
cache_root=${BREAKFIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/breakfix}
venv="$cache_root/schemathesis-$version"
st="$venv/bin/schemathesis"

if [[ -x $st ]]; then
  echo "schemathesis $version up to date"
  echo "$st"
  exit 0
fi
if [[ ${1:-} == --check ]]; then
  echo "schemathesis $version is not installed"
  echo "$st"
  exit 3
fi
echo "installing schemathesis $version into $venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
"$st" --version >/dev/null
echo "$st"

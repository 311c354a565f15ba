#!/usr/bin/env bash
# Installs np-guard's network-config-analyzer (`nca`, from PyPI) into a virtualenv in breakfix's
# cache; `npm run verify:isolation` runs it. Idempotent. Prints the nca path on its last line.
#   install.sh --check   install nothing: print the path, exit 3 if it is missing
set -euo pipefail
version=2.1.0
cache_root=${BREAKFIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/breakfix}
venv="$cache_root/nca-$version"
nca="$venv/bin/nca"

if [[ -x $nca ]]; then
  echo "nca $version up to date"
  echo "$nca"
  exit 0
fi
if [[ ${1:-} == --check ]]; then
  echo "nca $version is not installed"
  echo "$nca"
  exit 3
fi
echo "installing network-config-analyzer $version into $venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "network-config-analyzer==$version"
"$nca" --version >/dev/null
echo "$nca"

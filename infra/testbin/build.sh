#!/usr/bin/env bash
# Builds the test binaries breakfix runs against (kube-apiserver, kube-controller-manager, etcd,
# kubeadm, kubectl) from the Go modules pinned in go.mod, into a cache directory keyed by version.
# Idempotent: a binary already in the cache is not rebuilt. Prints the directory on its last line.
#
#   BREAKFIX_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/breakfix)
#   GOFLAGS, GOPROXY     passed to go as usual
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${BREAKFIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/breakfix}

module_version() { awk -v m="$1" '$1 == "require" { $1 = "" ; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' "$here/go.mod"; }
kube_version=$(module_version k8s.io/kubernetes)
etcd_version=$(module_version go.etcd.io/etcd/server/v3)
if [[ -z $kube_version || -z $etcd_version ]]; then
  echo "build.sh: cannot read the Kubernetes or etcd version from $here/go.mod" >&2
  exit 1
fi

bin_dir="$cache_root/bin/kubernetes-$kube_version-etcd-$etcd_version"
mkdir -p "$bin_dir"

if ! command -v go >/dev/null; then
  echo "build.sh: Go is needed to build the test binaries (or point BREAKFIX_KUBE_APISERVER & co. at existing ones; see README)" >&2
  exit 1
fi

minor=${kube_version#v1.}
minor=${minor%%.*}
# Stamp the release version the way Kubernetes' own build does (hack/lib/version.sh), so that
# `kubeadm config validate` and `kubectl version` see v1.x instead of v0.0.0-master.
version_pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
ldflags="-s -w"
for pkg in "${version_pkgs[@]}"; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

targets=(
  "kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver"
  "etcd ./cmd/etcd"
  "kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager"
  "kubectl k8s.io/kubernetes/cmd/kubectl"
  "kubeadm k8s.io/kubernetes/cmd/kubeadm"
)

missing=()
for target in "${targets[@]}"; do
  name=${target%% *}
  [[ -x "$bin_dir/$name" ]] || missing+=("$target")
done

if ((${#missing[@]} == 0)); then
  echo "test binaries up to date"
  echo "$bin_dir"
  exit 0
fi

cd "$here"
echo "building ${#missing[@]} test binaries (Kubernetes $kube_version, etcd $etcd_version) into $bin_dir"
echo "first build downloads modules and compiles for several minutes; later runs reuse the cache"
start=$SECONDS
i=0
for target in "${missing[@]}"; do
  i=$((i + 1))
  name=${target%% *}
  pkg=${target#* }
  step_start=$SECONDS
  echo "[$i/${#missing[@]}] $name ($pkg)"
  go build -ldflags "$ldflags" -o "$bin_dir/.$name.tmp" "$pkg"
  mv "$bin_dir/.$name.tmp" "$bin_dir/$name"
  echo "      done in $((SECONDS - step_start)) s"
done
echo "built in $((SECONDS - start)) s"
echo "$bin_dir"

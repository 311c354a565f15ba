#!/usr/bin/env bash
# Builds the test binaries breakfix runs against from the Go modules pinned here, into a cache
# directory keyed by version: kube-apiserver, kube-controller-manager, kubectl, kubeadm and etcd
# from ./go.mod (the newest release), plus kubeadm-v<version> for every older Kubernetes minor
# breakfix supports (./release-1.*/go.mod). Idempotent: a binary already in the cache is not
# rebuilt. Prints the directory on its last line.
#
#   build.sh --check     build nothing: print the directory, exit 3 if a binary is missing
#   build.sh --node      also kubelet, kube-scheduler, kube-proxy, etcdctl and etcdutl: with the
#                        above, every binary a node of this release runs or a learner restores
#                        etcd with (images/build.sh --source build)
#   build.sh --node --release v1.35.4
#                        the same binaries of an older release, from its ./release-1.35 module
#                        (with the etcd its kubeadm names), into their own directory
#   BREAKFIX_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/breakfix)
#   GOFLAGS, GOPROXY     passed to go as usual
set -euo pipefail
check_only=false
node=false
release=
while (($# > 0)); do
  case $1 in
  --check) check_only=true ;;
  --node) node=true ;;
  --release)
    release=${2:-}
    shift
    ;;
  *) echo "build.sh: unknown argument $1 (use --check, --node, --release v1.x.y)" >&2; exit 2 ;;
  esac
  shift
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${BREAKFIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/breakfix}

# module_version <go.mod> <module path>
module_version() {
  awk -v m="$2" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' "$1"
}
kube_version=$(module_version "$here/go.mod" k8s.io/kubernetes)
etcd_version=$(module_version "$here/go.mod" go.etcd.io/etcd/server/v3)
if [[ -z $kube_version || -z $etcd_version ]]; then
  echo "build.sh: cannot read the Kubernetes or etcd version from $here/go.mod" >&2
  exit 1
fi

node_targets() {
  local module=$1
  targets+=(
    "$module kubelet k8s.io/kubernetes/cmd/kubelet"
    "$module kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler"
    "$module kube-proxy k8s.io/kubernetes/cmd/kube-proxy"
    "$module etcdctl go.etcd.io/etcd/etcdctl/v3"
    "$module etcdutl go.etcd.io/etcd/etcdutl/v3"
  )
}

# Each target: <module dir> <binary name> <package>
targets=()
if [[ -n $release && $release != "$kube_version" ]]; then
  # An older release's node: every binary from its own module, nothing else.
  $node || { echo "build.sh: --release needs --node" >&2; exit 2; }
  module=
  for candidate in "$here"/release-1.*/; do
    candidate=${candidate%/}
    [[ $(module_version "$candidate/go.mod" k8s.io/kubernetes) == "$release" ]] && module=${candidate#"$here"/}
  done
  if [[ -z $module ]]; then
    echo "build.sh: no module here pins Kubernetes $release (./go.mod has $kube_version; ./release-1.*/go.mod the older minors)" >&2
    exit 1
  fi
  etcd_version=$(module_version "$here/$module/go.mod" go.etcd.io/etcd/server/v3)
  if [[ -z $etcd_version ]]; then
    echo "build.sh: $module/go.mod builds kubeadm only: add the node commands (tool lines) and the etcd server its kubeadm names" >&2
    exit 1
  fi
  bin_dir="$cache_root/bin/kubernetes-$release-etcd-$etcd_version"
  targets+=(
    "$module kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver"
    "$module etcd go.etcd.io/etcd/server/v3"
    "$module kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager"
    "$module kubectl k8s.io/kubernetes/cmd/kubectl"
    "$module kubeadm k8s.io/kubernetes/cmd/kubeadm"
  )
  node_targets "$module"
else
  bin_dir="$cache_root/bin/kubernetes-$kube_version-etcd-$etcd_version"
  targets+=(
    ". kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver"
    ". etcd go.etcd.io/etcd/server/v3"
    ". kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager"
    ". kubectl k8s.io/kubernetes/cmd/kubectl"
    ". kubeadm k8s.io/kubernetes/cmd/kubeadm"
  )
  if $node; then node_targets .; fi
  for module in "$here"/release-1.*/; do
    module=${module%/}
    version=$(module_version "$module/go.mod" k8s.io/kubernetes)
    targets+=("${module#"$here"/} kubeadm-$version k8s.io/kubernetes/cmd/kubeadm")
  done
fi

missing=()
for target in "${targets[@]}"; do
  read -r _ name _ <<<"$target"
  [[ -x "$bin_dir/$name" ]] || missing+=("$target")
done

if ((${#missing[@]} == 0)); then
  echo "test binaries up to date"
  echo "$bin_dir"
  exit 0
fi
if $check_only; then
  names=()
  for target in "${missing[@]}"; do
    read -r _ name _ <<<"$target"
    names+=("$name")
  done
  echo "missing in $bin_dir: ${names[*]}"
  echo "$bin_dir"
  exit 3
fi
if ! command -v go >/dev/null; then
  echo "build.sh: Go is needed to build the test binaries (or point BREAKFIX_KUBE_APISERVER & co. at existing ones; see README)" >&2
  exit 1
fi
mkdir -p "$bin_dir"

# Stamp the release version the way Kubernetes' own build does (hack/lib/version.sh), so that
# `kubeadm config validate` and `kubectl version` see v1.x instead of v0.0.0-master.
ldflags_for() {
  local version=$1 minor flags="-s -w" pkg
  minor=${version#v1.}
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

echo "building ${#missing[@]} test binaries into $bin_dir"
echo "a first build downloads modules and compiles for several minutes; later runs reuse the cache"
start=$SECONDS
i=0
for target in "${missing[@]}"; do
  read -r module name pkg <<<"$target"
  i=$((i + 1))
  version=$(module_version "$here/$module/go.mod" k8s.io/kubernetes)
  step_start=$SECONDS
  echo "[$i/${#missing[@]}] $name ($pkg @ $version)"
  (cd "$here/$module" && go build -ldflags "$(ldflags_for "$version")" -o "$bin_dir/.$name.tmp" "$pkg")
  mv "$bin_dir/.$name.tmp" "$bin_dir/$name"
  echo "      done in $((SECONDS - step_start)) s"
done
echo "built in $((SECONDS - start)) s"
echo "$bin_dir"

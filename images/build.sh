#!/usr/bin/env bash
# Builds breakfix's golden node image for one Kubernetes release: Debian 13 with containerd, runc,
# the CNI plugins, kubeadm/kubelet/kubectl/crictl, every image `kubeadm config images list` names
# plus flannel's, already in containerd's k8s.io namespace, so a lab boots with no network at all.
# The contract every image fulfils is the table in images/README.md (checked by
# images/test/contract.test.ts).
#
#   images/build.sh [--source build|official] [v1.36.3]      (default: build, the newest release)
#   images/build.sh --print-dir [--source ...] [version]       where the image is (or would be)
#
# --source build     Kubernetes from its tagged Go modules (infra/testbin), CoreDNS, flannel and
#                    crictl from theirs, container images assembled locally: needs only a Debian
#                    mirror and the Go module proxy. Runs as root (mmdebstrap, chroot, mounts).
# --source official  kubeadm, kubelet, kubectl and crictl from pkgs.k8s.io (apt verifies them
#                    against the repository's signing key), every image from its registry
#                    (registry.k8s.io, ghcr.io; linux/amd64, digests kept), etcdctl/etcdutl from
#                    kubeadm's etcd image and the flannel CNI plugin from flannel's own image, as
#                    upstream installs them. For build hosts with the internet, or with mirrors:
#   BREAKFIX_K8S_APT_URL    the Kubernetes apt repository (default https://pkgs.k8s.io/core:/stable:/v1.NN/deb/)
#   BREAKFIX_K8S_APT_KEY    its signing key, a URL or a file (default: Release.key in that repository)
#   BREAKFIX_IMAGE_MIRRORS  registry=mirror pairs, space-separated, e.g.
#                           "registry.k8s.io=mirror.example/k8s ghcr.io=mirror.example/ghcr"
#                    An image built through mirrors is cached apart from one built from upstream.
#
# Output, cached per version, source and recipe under ${BREAKFIX_CACHE_DIR:-~/.cache/breakfix}/images/:
#   disk.raw      GPT disk (sparse, 12 GiB): an EFI system partition with the unified kernel image
#                 at \EFI\BOOT\BOOTX64.EFI, and the ext4 root file system labelled `root`
#   disk.qcow2    the same disk as qcow2, what the containerDisk carries
#   containerdisk.tar   KubeVirt containerDisk: an OCI image layout tarball whose one layer holds
#                 /disk/disk.qcow2 owned by 107:107 (skopeo copies it to a registry)
#   vmlinuz, initrd.img, cmdline   for direct kernel boot
#   manifest.json versions, images, digests: what the contract test checks
# Prints the directory on its last line. Idempotent: a finished image is not rebuilt.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
source_kind=build
print_dir=false
version=
while (($# > 0)); do
  case $1 in
  --source) source_kind=${2:?--source needs build or official}; shift ;;
  --print-dir) print_dir=true ;;
  v1.*) version=$1 ;;
  *) echo "build.sh: unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
[[ $source_kind == build || $source_kind == official ]] || { echo "build.sh: --source is build or official" >&2; exit 2; }

# Pinned upstream versions: bump deliberately, rebuild every release.
FLANNEL_VERSION=v0.28.10
# The flannel CNI plugin's own module is not on the Go module proxy; its last release inside the CNI plugins
# module is the same delegate (reads /run/flannel/subnet.env, calls bridge + host-local).
FLANNEL_CNI_MODULE=github.com/containernetworking/plugins@v0.9.1
CRICTL_VERSION=v1.36.0
# The official source takes the flannel CNI plugin from the image flannel's own manifest
# (Documentation/kube-flannel.yml of $FLANNEL_VERSION) copies it from.
FLANNEL_CNI_PLUGIN_IMAGE=ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3
# NetworkPolicy beside flannel (which enforces none): recipe/cni/network-policy.yaml, ADR 0032.
NETPOL_VERSION=v0.8.0
DISK_SIZE=12G

cache_root=${BREAKFIX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/breakfix}
testbin_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$repo/infra/testbin/go.mod")
version=${version:-$testbin_version}
[[ $version =~ ^v1\.[0-9]+\.[0-9]+$ ]] || { echo "build.sh: version must look like v1.36.3" >&2; exit 2; }

# The recipe's own files name the output: change any of them and a new image is built.
# hash_tree <path>...: one short hash of every file under the paths, in a stable order.
hash_tree() { find "$@" -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-12; }
recipe_hash=$(cd "$repo" && hash_tree images/build.sh images/recipe images/tools)
# What the output is named by: the source, and for the official one any mirror it came through.
source_id=$source_kind
if [[ $source_kind == official ]]; then
  minor=${version%.*}
  apt_url=${BREAKFIX_K8S_APT_URL:-https://pkgs.k8s.io/core:/stable:/$minor/deb/}
  apt_url=${apt_url%/}/
  apt_key=${BREAKFIX_K8S_APT_KEY:-${apt_url}Release.key}
  read -r -a image_mirrors <<<"${BREAKFIX_IMAGE_MIRRORS:-}"
  if [[ -n ${BREAKFIX_K8S_APT_URL:-}${BREAKFIX_K8S_APT_KEY:-}${BREAKFIX_IMAGE_MIRRORS:-} ]]; then
    source_id=official-mirror-$(printf '%s\n' "$apt_url" "$apt_key" "${image_mirrors[@]}" | sha256sum | cut -c1-8)
  fi
fi
out="$cache_root/images/node-$version-$source_id-$recipe_hash"
if $print_dir; then echo "$out"; exit 0; fi
if [[ -f $out/manifest.json ]]; then
  echo "node image up to date"
  echo "$out"
  exit 0
fi
[[ $(id -u) == 0 ]] || { echo "build.sh: run as root (mmdebstrap, chroot and mounts need it)" >&2; exit 1; }
for tool in mmdebstrap mkfs.ext4 sfdisk mkfs.vfat mcopy qemu-img go; do
  command -v "$tool" >/dev/null || { echo "build.sh: missing $tool (npm run deps installs it)" >&2; exit 1; }
done

work="$cache_root/images/.work-$version-$source_id"
mkdir -p "$work/src" "$cache_root/images"
started=$SECONDS
step() { printf '==> [%4ss] %s\n' "$((SECONDS - started))" "$*"; }

# --- Debian root file systems (shared by every release and source) -----------------------------
rootfs_hash=$(hash_tree "$here/recipe/rootfs.sh" "$here/recipe/rootfs-customize.sh" "$here/recipe/files")
rootfs="$cache_root/images/rootfs-trixie-$rootfs_hash"
if [[ ! -d $rootfs ]]; then
  step "Debian 13 root file system (mmdebstrap, a few minutes)"
  bash "$here/recipe/rootfs.sh" "$rootfs.tmp" >"$work/rootfs.log" 2>&1 ||
    { tail -20 "$work/rootfs.log" >&2; echo "build.sh: rootfs failed, see $work/rootfs.log" >&2; exit 1; }
  mv "$rootfs.tmp" "$rootfs"
fi

# --- Kubernetes: binaries and images -----------------------------------------------------------
bin="$work/bin"
mkdir -p "$bin"

# module_source <module@version>: a writable copy of a module's source, to build from its own
# go.mod (replace directives and all). Printed on stdout.
module_source() {
  local module=$1 dir src
  src="$work/src/${module//[\/@]/_}"
  if [[ ! -d $src ]]; then
    dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [[ -n $dir ]] || { echo "build.sh: could not download $module" >&2; return 1; }
    cp -r "$dir" "$src.tmp" && chmod -R u+w "$src.tmp" && mv "$src.tmp" "$src"
  fi
  echo "$src"
}

# go_module_build <module@version> <package dir in the module> <output> [ldflags]: a static build.
go_module_build() {
  local module=$1 package=$2 output=$3 ldflags=${4:-} src
  [[ -x $output ]] && return 0
  src=$(module_source "$module") || return 1
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ldflags" -o "$output.tmp" "./$package")
  mv "$output.tmp" "$output"
}

if [[ $source_kind == build ]]; then
  # The newest release comes from infra/testbin/go.mod, an older one from its release-1.x module.
  step "Kubernetes $version binaries (Go, infra/testbin; a first build takes many minutes)"
  kube_bin=$(bash "$repo/infra/testbin/build.sh" --node --release "$version" | tail -n 1)
  [[ -x $kube_bin/kubelet ]] || { echo "build.sh: no Kubernetes $version node binaries (infra/testbin/build.sh said so above)" >&2; exit 1; }
  step "pause, imgbuild, CoreDNS, flannel, kube-network-policies, crictl (Go)"
  (cd "$here/tools" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/pause" ./cmd/pause &&
    CGO_ENABLED=0 go build -trimpath -o "$bin/imgbuild" ./cmd/imgbuild)
  mapfile -t kubeadm_images < <("$kube_bin/kubeadm" config images list --kubernetes-version "$version")
  image_tag() { printf '%s\n' "${kubeadm_images[@]}" | awk -F: -v n="$1" '$1 ~ ("/" n "$") { print $2 }'; }
  coredns_tag=$(image_tag coredns)
  go_module_build "github.com/coredns/coredns@$coredns_tag" . "$bin/coredns"
  # Labs use flannel's VXLAN backend. Left out: Tencent VPC (its SDK is not on the Go module
  # proxy) and the deprecated UDP backend (it needs cgo; the images are static).
  sed -i -e '/pkg\/backend\/tencentvpc"/d' -e '/pkg\/backend\/udp"/d' \
    "$(module_source "github.com/flannel-io/flannel@$FLANNEL_VERSION")/main.go"
  go_module_build "github.com/flannel-io/flannel@$FLANNEL_VERSION" . "$bin/flanneld" \
    "-X github.com/flannel-io/flannel/pkg/version.Version=$FLANNEL_VERSION"
  go_module_build "$FLANNEL_CNI_MODULE" plugins/meta/flannel "$bin/flannel"
  go_module_build "sigs.k8s.io/kube-network-policies@$NETPOL_VERSION" cmd "$bin/netpol"
  go_module_build "sigs.k8s.io/cri-tools@$CRICTL_VERSION" cmd/crictl "$bin/crictl" \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION"

  etcd_tag=$(image_tag etcd)
  etcd_have=$("$kube_bin/etcd" --version | awk '/^etcd Version/ { print $3 }')
  [[ ${etcd_tag%-*} == "v$etcd_have" || ${etcd_tag%-*} == "$etcd_have" ]] ||
    { echo "build.sh: kubeadm wants etcd $etcd_tag, infra/testbin builds $etcd_have" >&2; exit 1; }

  base="$cache_root/images/image-base-trixie-$rootfs_hash.tar"
  if [[ ! -f $base ]]; then
    step "image base layer (Debian minbase + iptables/nftables for kube-proxy and flannel)"
    mmdebstrap --variant=minbase --format=tar --include=iptables,nftables,conntrack,kmod,ca-certificates,iproute2 \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      trixie "$base.tmp" "$(bash "$here/recipe/rootfs.sh" --print-mirror)" >"$work/base.log" 2>&1 ||
      { tail -20 "$work/base.log" >&2; exit 1; }
    mv "$base.tmp" "$base"
  fi

  step "container images (no registry: imgbuild)"
  # etcd's image carries its command-line tools too, as registry.k8s.io/etcd does.
  etcd_files=$(for tool in etcd etcdctl etcdutl; do
    printf '{"src":"%s","dst":"/usr/local/bin/%s","mode":493}\n' "$kube_bin/$tool" "$tool"
  done | paste -sd,)
  flannel_image="ghcr.io/flannel-io/flannel:$FLANNEL_VERSION"
  netpol_image="registry.k8s.io/networking/kube-network-policies:$NETPOL_VERSION"
  {
    echo '['
    sep=
    for ref in "${kubeadm_images[@]}"; do
      name=${ref%:*}
      name=${name##*/}
      case $name in
      pause) spec="{\"ref\":\"$ref\",\"files\":[{\"src\":\"$bin/pause\",\"dst\":\"/pause\",\"mode\":493}],\"entrypoint\":[\"/pause\"]}" ;;
      coredns) spec="{\"ref\":\"$ref\",\"files\":[{\"src\":\"$bin/coredns\",\"dst\":\"/coredns\",\"mode\":493}],\"entrypoint\":[\"/coredns\"]}" ;;
      etcd) spec="{\"ref\":\"$ref\",\"base\":\"$base\",\"files\":[$etcd_files]}" ;;
      kube-apiserver | kube-controller-manager | kube-scheduler | kube-proxy)
        spec="{\"ref\":\"$ref\",\"base\":\"$base\",\"files\":[{\"src\":\"$kube_bin/$name\",\"dst\":\"/usr/local/bin/$name\",\"mode\":493}]}" ;;
      *) echo "build.sh: kubeadm names an image this recipe cannot build: $ref" >&2; exit 1 ;;
      esac
      printf '%s%s\n' "$sep" "$spec"
      sep=,
    done
    printf ',{"ref":"%s","base":"%s","files":[{"src":"%s","dst":"/opt/bin/flanneld","mode":493}],"entrypoint":["/opt/bin/flanneld"]}\n' \
      "$flannel_image" "$base" "$bin/flanneld"
    printf ',{"ref":"%s","files":[{"src":"%s","dst":"/bin/netpol","mode":493}],"entrypoint":["/bin/netpol"]}\n' \
      "$netpol_image" "$bin/netpol"
    echo ']'
  } >"$work/images.json"
  "$bin/imgbuild" -o "$work/images.tar" "$work/images.json"
  images=("${kubeadm_images[@]}" "$flannel_image" "$netpol_image")
else
  step "imgbuild (Go)"
  (cd "$here/tools" && CGO_ENABLED=0 go build -trimpath -o "$bin/imgbuild" ./cmd/imgbuild)
  step "Kubernetes $version packages from $apt_url (apt, signature checked)"
  # A private apt configuration: the host's own sources, state and cache are not touched.
  apt_dir="$work/apt"
  rm -rf "$apt_dir" "$work/debs" "$work/debroot"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/preferences.d" "$work/debs" "$work/debroot"
  if [[ $apt_key == http://* || $apt_key == https://* ]]; then
    curl -fsSL --retry 3 -o "$apt_dir/kubernetes.asc" "$apt_key" ||
      { echo "build.sh: could not fetch the Kubernetes apt key $apt_key" >&2; exit 1; }
  else
    cp "$apt_key" "$apt_dir/kubernetes.asc"
  fi
  # apt reads a key file named *.asc as ASCII-armoured, *.gpg as binary: keep whichever it is.
  grep -q -- '-----BEGIN PGP PUBLIC KEY BLOCK-----' "$apt_dir/kubernetes.asc" || mv "$apt_dir/kubernetes.asc" "$apt_dir/kubernetes.gpg"
  key_file=$(ls "$apt_dir"/kubernetes.*)
  echo "deb [signed-by=$key_file] $apt_url /" >"$apt_dir/sources.list"
  : >"$apt_dir/status"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::Etc::Preferences=$apt_dir/preferences" -o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=$apt_dir/status"
    -o "Dir::Cache=$apt_dir" -o "Dir::Cache::archives=$apt_dir/archives"
    -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o APT::Sandbox::User=root
    -o Debug::NoLocking=1 -o Acquire::Retries=3)
  # A signature apt could not check is only a warning to apt-get update, and an error here.
  if ! apt-get "${apt_opts[@]}" -q update >"$work/apt.log" 2>&1 || grep -qE '^(W|E):' "$work/apt.log"; then
    grep -E '^(W|E):' "$work/apt.log" >&2 || cat "$work/apt.log" >&2
    if grep -qE 'NO_PUBKEY|BADSIG|EXPKEYSIG|not signed|GPG error' "$work/apt.log"; then
      echo "build.sh: $apt_url is not signed by the key $apt_key: check BREAKFIX_K8S_APT_KEY (or the repository)" >&2
    else
      echo "build.sh: apt could not read $apt_url: check BREAKFIX_K8S_APT_URL and the network" >&2
    fi
    exit 1
  fi
  # newest_version <package> <version prefix>: the newest package version starting with it.
  newest_version() {
    apt-cache "${apt_opts[@]}" madison "$1" | awk -F'|' -v p="$2" '{ gsub(/ /, "", $2) } index($2, p) == 1 { print $2; exit }'
  }
  deb_version=$(newest_version kubeadm "${version#v}-")
  [[ -n $deb_version ]] || { echo "build.sh: $apt_url has no kubeadm ${version#v}" >&2; exit 1; }
  crictl_deb_version=$(newest_version cri-tools "${minor#v}.")
  [[ -n $crictl_deb_version ]] || { echo "build.sh: $apt_url has no cri-tools ${minor#v}.x" >&2; exit 1; }
  (cd "$work/debs" && apt-get "${apt_opts[@]}" -q download "kubeadm=$deb_version" "kubelet=$deb_version" \
    "kubectl=$deb_version" "cri-tools=$crictl_deb_version" >>"$work/apt.log" 2>&1) ||
    { tail -20 "$work/apt.log" >&2; echo "build.sh: apt could not download the Kubernetes packages" >&2; exit 1; }
  for deb in "$work/debs"/*.deb; do dpkg-deb -x "$deb" "$work/debroot"; done
  kube_bin="$work/debroot/usr/bin"
  install -m 0755 "$kube_bin/crictl" "$bin/crictl"
  CRICTL_VERSION=v${crictl_deb_version%%-*}
  for tool in kubeadm kubelet kubectl; do
    [[ -x $kube_bin/$tool ]] || { echo "build.sh: the $tool package has no /usr/bin/$tool" >&2; exit 1; }
  done

  step "images from their registries (linux/amd64, digests kept)"
  mapfile -t kubeadm_images < <("$kube_bin/kubeadm" config images list --kubernetes-version "$version")
  flannel_image="ghcr.io/flannel-io/flannel:$FLANNEL_VERSION"
  netpol_image="registry.k8s.io/networking/kube-network-policies:$NETPOL_VERSION"
  images=("${kubeadm_images[@]}" "$flannel_image" "$netpol_image")
  etcd_image=$(printf '%s\n' "${kubeadm_images[@]}" | grep '/etcd:')
  mirror_flags=()
  for mirror in "${image_mirrors[@]}"; do mirror_flags+=(-mirror "$mirror"); done
  "$bin/imgbuild" pull -o "$work/images.tar" "${mirror_flags[@]}" \
    -copy "$etcd_image=/usr/local/bin/etcdctl=$kube_bin/etcdctl" \
    -copy "$etcd_image=/usr/local/bin/etcdutl=$kube_bin/etcdutl" \
    -copy "$FLANNEL_CNI_PLUGIN_IMAGE=/flannel=$bin/flannel" \
    "${images[@]}" >"$work/images.digests"
  cat "$work/images.digests"
fi

# --- The node's root file system ---------------------------------------------------------------
step "node root file system"
node_root="$work/root"
rm -rf "$node_root"
cp -a "$rootfs" "$node_root"
install -m 0755 "$kube_bin/kubeadm" "$kube_bin/kubelet" "$kube_bin/kubectl" "$bin/crictl" "$node_root/usr/bin/"
# For backups and restores on the node, as learners do them (etcd itself runs in its static pod).
install -m 0755 "$kube_bin/etcdctl" "$kube_bin/etcdutl" "$node_root/usr/bin/"
install -m 0755 "$bin/flannel" "$node_root/usr/lib/cni/flannel"
ln -sf /usr/lib/cni/flannel "$node_root/opt/cni/bin/flannel"
pause_image=$(printf '%s\n' "${images[@]}" | grep '/pause:')
# containerd's sandbox image must be the pause kubeadm pre-pulls: nothing else is there offline.
sed -i -e "s#sandbox_image = \".*\"#sandbox_image = \"$pause_image\"#" \
  -e 's#bin_dir = "/usr/lib/cni"#bin_dir = "/opt/cni/bin"#' "$node_root/etc/containerd/config.toml"
grep -q "sandbox_image = \"$pause_image\"" "$node_root/etc/containerd/config.toml"
printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\ntimeout: 10\n' \
  >"$node_root/etc/crictl.yaml"
install -d -m 0755 "$node_root/opt/breakfix/cni" "$node_root/var/lib/breakfix"
sed "s#@FLANNEL_IMAGE@#$flannel_image#g" "$here/recipe/cni/flannel.yaml" >"$node_root/opt/breakfix/cni/flannel.yaml"
sed "s#@NETPOL_IMAGE@#$netpol_image#g" "$here/recipe/cni/network-policy.yaml" >"$node_root/opt/breakfix/cni/network-policy.yaml"
echo "$version" >"$node_root/var/lib/breakfix/image-version"

step "importing ${#images[@]} images into containerd's k8s.io namespace (the image's own containerd, chrooted)"
bash "$here/recipe/preimport.sh" "$node_root" "$work/images.tar" >"$work/preimport.log" 2>&1 ||
  { tail -20 "$work/preimport.log" >&2; echo "build.sh: import failed, see $work/preimport.log" >&2; exit 1; }

# --- Kernel, disk, containerDisk ---------------------------------------------------------------
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
kernel=$(find "$node_root/boot" -name 'vmlinuz-*' | sort | tail -n 1)
cp "$kernel" "$out.tmp/vmlinuz"
cp "$node_root/boot/initrd.img-${kernel##*/vmlinuz-}" "$out.tmp/initrd.img"
# panic=10: a guest whose kernel panics reboots, as a VM on a hypervisor is expected to.
echo "root=LABEL=root ro console=ttyS0 net.ifnames=0 systemd.journald.forward_to_console=0 panic=10" >"$out.tmp/cmdline"
step "unified kernel image (ukify; its tools root is made once)"
uki_tools="$cache_root/images/uki-tools-trixie-$(hash_tree "$here/recipe/uki.sh")"
bash "$here/recipe/uki.sh" "$uki_tools" "$node_root" "$(cat "$out.tmp/cmdline")" "$work/uki.efi" >"$work/uki.log" 2>&1 ||
  { tail -20 "$work/uki.log" >&2; echo "build.sh: UKI failed, see $work/uki.log" >&2; exit 1; }
step "disk (GPT: EFI system partition with the UKI, ext4 root; $DISK_SIZE sparse)"
bash "$here/recipe/disk.sh" "$node_root" "$work/uki.efi" "$out.tmp/disk.raw" "$DISK_SIZE"
rm -f "$work/uki.efi"
step "containerDisk (qcow2, OCI archive)"
qemu-img convert -O qcow2 "$out.tmp/disk.raw" "$out.tmp/disk.qcow2"
# KubeVirt's containerDisk: the disk under /disk/, readable by its qemu user 107
# (https://kubevirt.io/user-guide/storage/disks_and_volumes/#containerdisk).
container_disk_ref="localhost/breakfix/node:$version"
printf '[{"ref":"%s","files":[{"src":"%s","dst":"/disk/disk.qcow2","mode":288,"uid":107,"gid":107}]}]\n' \
  "$container_disk_ref" "$out.tmp/disk.qcow2" >"$work/containerdisk.json"
container_disk_digest=$("$bin/imgbuild" -format oci-archive -o "$out.tmp/containerdisk.tar" "$work/containerdisk.json" |
  sed -n "s#^$container_disk_ref@##p")
[[ $container_disk_digest == sha256:* ]] || { echo "build.sh: imgbuild printed no digest for the containerDisk" >&2; exit 1; }

containerd_version=$(chroot "$node_root" dpkg-query -W -f "\${Version}" containerd)
kernel_version=${kernel##*/vmlinuz-}
{
  echo '{'
  echo "  \"kubernetesVersion\": \"$version\","
  echo "  \"source\": \"$source_kind\","
  echo "  \"recipe\": \"$recipe_hash\","
  echo "  \"os\": \"debian-13\","
  echo "  \"kernel\": \"$kernel_version\","
  echo "  \"containerd\": \"$containerd_version\","
  echo "  \"flannel\": \"$FLANNEL_VERSION\","
  echo "  \"networkPolicy\": \"kube-network-policies $NETPOL_VERSION\","
  echo "  \"crictl\": \"$CRICTL_VERSION\","
  echo "  \"pauseImage\": \"$pause_image\","
  printf '  "images": [%s],\n' "$(printf '"%s",' "${images[@]}" | sed 's/,$//')"
  echo "  \"disk\": \"disk.raw\", \"kernelFile\": \"vmlinuz\", \"initrdFile\": \"initrd.img\","
  echo "  \"cmdline\": \"$(cat "$out.tmp/cmdline")\","
  echo "  \"uki\": \"/EFI/BOOT/BOOTX64.EFI\", \"qcow2\": \"disk.qcow2\","
  echo "  \"containerDisk\": {\"archive\": \"containerdisk.tar\", \"format\": \"oci-archive\", \"ref\": \"$container_disk_ref\","
  echo "    \"digest\": \"$container_disk_digest\", \"archiveSha256\": \"$(sha256sum "$out.tmp/containerdisk.tar" | cut -d' ' -f1)\","
  echo "    \"disk\": \"/disk/disk.qcow2\"},"
  echo "  \"builtAt\": \"$(date -u +%FT%TZ)\""
  echo '}'
} >"$out.tmp/manifest.json"
rm -rf "$out"
mv "$out.tmp" "$out"
rm -rf "$node_root"
# Images of this release and source from an older recipe are never used again (each is ~5 GB),
# nor are the remains of a build that stopped half-way.
for stale in "$cache_root/images/node-$version-$source_id-"*; do
  [[ $stale == "$out" ]] || rm -rf "$stale"
done
step "done: $(du -sh --apparent-size "$out/disk.raw" | cut -f1) disk, $(du -sh "$out/disk.raw" | cut -f1) used, containerDisk $(du -sh "$out/containerdisk.tar" | cut -f1)"
echo "$out"

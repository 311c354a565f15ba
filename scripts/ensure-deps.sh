#!/usr/bin/env bash
# Installs what breakfix's sandbox and tests need on a Debian/Ubuntu machine, then builds the Go
# test binaries. Idempotent and quiet when everything is present. Prints the binaries' directory last.
#   --packages-only       skip the Go build (the sandbox CLI builds, with progress, itself)
#   BREAKFIX_SKIP_APT=1   never call apt-get (report what is missing instead)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# command-or-file : Debian package
needs=(
  "redis-server:redis-server"
  "/usr/sbin/sshd:openssh-server"
  "ssh:openssh-client"
  "ssh-keygen:openssh-client"
  "/bin/busybox:busybox-static"
  "setpriv:util-linux"
  "shellcheck:shellcheck"
  # scenario lint reads scripts through shfmt's parser (packages/scenarios/src/shell-syntax.ts)
  "shfmt:shfmt"
  # labctl's zsh completion is tested in zsh (apps/labctl/test/cli.test.ts), and on the Tab key in
  # interactive zsh and bash under util-linux's `script` (apps/labctl/test/completion-keys.test.ts)
  "zsh:zsh"
  "script:bsdutils"
  "cloud-init:cloud-init"
  "chromium:chromium"
  # the node image (images/build.sh) and real labs under QEMU (packages/qemu)
  "mmdebstrap:mmdebstrap"
  "debugfs:e2fsprogs"
  # the disk's GPT and EFI system partition, written into the file (images/recipe/disk.sh), and
  # read back by the contract test: the UKI's sections with binutils, the containerDisk with skopeo
  "sfdisk:fdisk"
  "mkfs.vfat:dosfstools"
  "mcopy:mtools"
  "objdump:binutils"
  "skopeo:skopeo"
  # the image's official source fetches its apt key with curl; its test signs a mirror with gpg
  "curl:curl"
  "gpg:gpg"
  "gpgconf:gpgconf"
  "/usr/bin/gpg-agent:gpg-agent"
  # UEFI firmware for guests KubeVirt would boot with `efi` (packages/qemu)
  "/usr/share/OVMF/OVMF_CODE_4M.fd:ovmf"
  "qemu-system-x86_64:qemu-system-x86"
  "qemu-img:qemu-utils"
  "genisoimage:genisoimage"
  "/usr/sbin/dnsmasq:dnsmasq-base"
  "socat:socat"
  "ip:iproute2"
  # container nodes: the golden root file system booted on the host's kernel (docs/adr/0037)
  "/usr/bin/systemd-nspawn:systemd-container"
  "mkfs.ext4:e2fsprogs"
)
missing=()
for entry in "${needs[@]}"; do
  probe=${entry%%:*}
  package=${entry#*:}
  if [[ $probe == /* ]]; then [[ -e $probe ]] && continue; else command -v "$probe" >/dev/null && continue; fi
  [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
done
# python3 -m venv (for the isolation analyzer) needs ensurepip, which Debian ships apart.
python3 -c 'import ensurepip' 2>/dev/null || missing+=("python3-venv")

if ((${#missing[@]} > 0)); then
  if [[ ${BREAKFIX_SKIP_APT:-} == 1 || $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "missing packages: ${missing[*]}" >&2
    echo "install them (e.g. sudo apt-get install -y ${missing[*]}) and run again" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[[ ${1:-} == --packages-only ]] && exit 0
bash "$here/../infra/nca/install.sh" | tail -n 2 | head -n 1
bash "$here/install-schemathesis.sh" | tail -n 2 | head -n 1
bash "$here/../infra/testbin/build.sh"

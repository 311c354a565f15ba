#!/usr/bin/env bash
# Runs inside the build VM (as root, from cloud-init): everything a lab node needs, so that a lab
# boots with no network. Kubernetes packages come from pkgs.k8s.io, pinned to K8S_VERSION.
set -euxo pipefail
: "${K8S_VERSION:?K8S_VERSION must be set, e.g. v1.36.3}"
FLANNEL_VERSION=${FLANNEL_VERSION:-v0.27.4}
CALICO_VERSION=${CALICO_VERSION:-v3.30.3}
minor=${K8S_VERSION%.*}
package_version="${K8S_VERSION#v}-*"
export DEBIAN_FRONTEND=noninteractive

# Kernel: no swap, the modules and sysctls kubeadm's preflight checks want.
swapoff -a
sed -i '/\sswap\s/ s/^/#/' /etc/fstab
printf 'overlay\nbr_netfilter\n' >/etc/modules-load.d/breakfix.conf
modprobe overlay
modprobe br_netfilter
cat >/etc/sysctl.d/99-kubernetes.conf <<'SYSCTL'
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
SYSCTL
sysctl --system

# Container runtime with the systemd cgroup driver (kubelet's default since 1.22).
apt-get update
apt-get install -y --no-install-recommends containerd apt-transport-https ca-certificates curl gpg qemu-guest-agent jq
mkdir -p /etc/containerd
containerd config default >/etc/containerd/config.toml
sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
grep -q 'SystemdCgroup = true' /etc/containerd/config.toml
systemctl enable --now containerd qemu-guest-agent

# kubeadm, kubelet, kubectl pinned to the release, held against upgrades.
install -d -m 0755 /etc/apt/keyrings
curl -fsSL "https://pkgs.k8s.io/core:/stable:/${minor}/deb/Release.key" | gpg --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/${minor}/deb/ /" >/etc/apt/sources.list.d/kubernetes.list
apt-get update
apt-get install -y "kubelet=${package_version}" "kubeadm=${package_version}" "kubectl=${package_version}"
apt-mark hold kubelet kubeadm kubectl
systemctl enable kubelet
[[ $(kubeadm version -o short) == "$K8S_VERSION" ]]

# Every image kubeadm will ask for, and the CNIs', in containerd's k8s.io namespace.
kubeadm config images pull --kubernetes-version "$K8S_VERSION" --cri-socket unix:///var/run/containerd/containerd.sock
install -d -m 0755 /opt/breakfix/cni
curl -fsSL -o /opt/breakfix/cni/flannel.yaml \
  "https://github.com/flannel-io/flannel/releases/download/${FLANNEL_VERSION}/kube-flannel.yml"
curl -fsSL -o /opt/breakfix/cni/calico.yaml \
  "https://raw.githubusercontent.com/projectcalico/calico/${CALICO_VERSION}/manifests/calico.yaml"
# Calico ships its pool commented out; set it to the upstream default the bootstrap rewrites.
sed -i -e 's|# - name: CALICO_IPV4POOL_CIDR|- name: CALICO_IPV4POOL_CIDR|' \
  -e 's|#   value: "192.168.0.0/16"|  value: "10.244.0.0/16"|' /opt/breakfix/cni/calico.yaml
for manifest in /opt/breakfix/cni/*.yaml; do
  grep -E '^\s*image:' "$manifest" | awk '{print $2}' | tr -d '"' | sort -u | while read -r image; do
    [[ $image == */*/* ]] || image="docker.io/$image"
    ctr --namespace k8s.io images pull "$image"
  done
done

# Leave a clean image: the lab's cloud-init must run as on first boot.
install -d -m 0755 /var/lib/breakfix
echo "$K8S_VERSION" >/var/lib/breakfix/image-version
apt-get clean
cloud-init clean --logs --seed
truncate -s 0 /etc/machine-id

#!/bin/bash
# Deploys billing, takes "this morning's" etcd snapshot, then deletes the namespace as the
# clean-up job did. The objects' UIDs are kept for the check: a restore brings back the very
# objects from the snapshot, recreating them by hand gives look-alikes with new UIDs.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
state=/var/lib/breakfix/etcd-snapshot-restore
snapshot=/var/backups/etcd/etcd-$(date +%Y%m%d)-0600.db
[[ -f $state/uids ]] && exit 0 # broken already: the snapshot is taken once
install -d -m 0700 "$state" /var/backups/etcd
image=$(kubeadm config images list --kubernetes-version "$(kubeadm version -o short)" 2>/dev/null | grep "/coredns:")
cat >"$state/billing.yaml" <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: billing}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: invoices, namespace: billing}
data:
  Corefile: |
    .:5353 {
        health :8080
        whoami
    }
  currency: EUR
---
apiVersion: v1
kind: Secret
metadata: {name: payment-gateway, namespace: billing}
stringData: {token: sk-live-7f3a9c2e}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: invoices, namespace: billing}
spec:
  replicas: 1
  selector: {matchLabels: {app: invoices}}
  template:
    metadata: {labels: {app: invoices}}
    spec:
      containers:
        - name: invoices
          image: "$image"
          imagePullPolicy: IfNotPresent
          args: [-conf, /etc/coredns/Corefile]
          readinessProbe:
            httpGet: {path: /health, port: 8080}
            periodSeconds: 5
          volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes:
        - {name: config, configMap: {name: invoices}}
YAML
kubectl apply -f "$state/billing.yaml" >/dev/null
kubectl -n billing rollout status deploy/invoices --timeout="$(left)" >/dev/null
for ref in deployment/invoices configmap/invoices secret/payment-gateway; do
  echo "$ref $(kubectl -n billing get "$ref" -o jsonpath='{.metadata.uid}')"
done >"$state/uids.tmp"
etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt \
  --cert=/etc/kubernetes/pki/apiserver-etcd-client.crt --key=/etc/kubernetes/pki/apiserver-etcd-client.key \
  snapshot save "$snapshot.part" >/dev/null
chmod 0600 "$snapshot.part"
mv "$snapshot.part" "$snapshot"
kubectl delete namespace billing --timeout="$(left)" >/dev/null
mv "$state/uids.tmp" "$state/uids"

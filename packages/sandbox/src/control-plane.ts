import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { waitFor } from '@breakfix/core';
import { type ManagedProcess, spawnManaged } from '@breakfix/qemu';
import type { Binaries } from './binaries.js';
import { freePort } from './ports.js';

export interface ControlPlaneOptions {
  binaries: Binaries;
  /** Working directory for data, certificates and logs. */
  dir: string;
  /** Service CIDR handed to the apiserver. */
  serviceCidr: string;
  /** NodePort range handed to the apiserver, e.g. `30000-32767`. */
  nodePortRange: string;
  startTimeoutMs: number;
}

export interface ControlPlane {
  url: string;
  /** Bearer token of a `system:masters` user. */
  adminToken: string;
  /** PEM bundle that verifies the apiserver's serving certificate. */
  caPem: string;
  /** Writes a kubeconfig for `user` with `token`, returns its path. */
  writeKubeconfig(path: string, user: string, token: string): string;
  /** Starts kube-controller-manager; call it after installing CRDs (see below). */
  startControllerManager(): ManagedProcess;
  processes: ManagedProcess[];
}

/**
 * Starts etcd, kube-apiserver and kube-controller-manager the way controller-runtime's envtest
 * starts the first two: loopback only, token authentication, RBAC on. The controller manager adds
 * what a real cluster has and a bare apiserver lacks: garbage collection of owned objects, namespace
 * deletion, ServiceAccount tokens.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { binaries, dir, startTimeoutMs } = options;
  const pki = join(dir, 'pki');
  mkdirSync(pki, { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const processes: ManagedProcess[] = [];

  try {
    const [etcdClient, etcdPeer, securePort, kcmPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);

    processes.push(
      spawnManaged(
        'etcd',
        binaries.etcd,
        [
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
          `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
          `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        { logFile: join(dir, 'logs', 'etcd.log') },
      ),
    );

    const serviceAccountKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = join(pki, 'service-account.key');
    const pubFile = join(pki, 'service-account.pub');
    writeFileSync(keyFile, serviceAccountKey.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(pubFile, serviceAccountKey.publicKey.export({ type: 'spki', format: 'pem' }));

    const adminToken = randomBytes(24).toString('hex');
    const tokenFile = join(pki, 'tokens.csv');
    writeFileSync(tokenFile, `${adminToken},breakfix-admin,breakfix-admin,"system:masters"\n`, { mode: 0o600 });

    processes.push(
      spawnManaged(
        'kube-apiserver',
        binaries['kube-apiserver'],
        [
          `--etcd-servers=http://127.0.0.1:${etcdClient}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${securePort}`,
          `--cert-dir=${pki}`,
          `--token-auth-file=${tokenFile}`,
          '--authorization-mode=RBAC',
          `--service-cluster-ip-range=${options.serviceCidr}`,
          `--service-node-port-range=${options.nodePortRange}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          `--service-account-key-file=${pubFile}`,
          `--service-account-signing-key-file=${keyFile}`,
          '--allow-privileged=true',
          '--endpoint-reconciler-type=none',
          '--profiling=false',
          '--v=1',
        ],
        { logFile: join(dir, 'logs', 'kube-apiserver.log') },
      ),
    );

    const url = `https://127.0.0.1:${securePort}`;
    // The apiserver writes its self-signed serving certificate (with its CA) before it listens.
    const caPem = await waitFor(async () => readOptional(join(pki, 'apiserver.crt')), {
      what: `kube-apiserver to write its certificate (log: ${join(dir, 'logs', 'kube-apiserver.log')})`,
      timeoutMs: startTimeoutMs,
    });
    await waitFor(async () => ((await httpsGet(`${url}/readyz`, adminToken, caPem)) === 200 ? true : undefined), {
      what: `kube-apiserver /readyz (log: ${join(dir, 'logs', 'kube-apiserver.log')})`,
      timeoutMs: startTimeoutMs,
      intervalMs: 100,
    });

    const writeKubeconfig = (path: string, user: string, token: string): string => {
      writeFileSync(path, kubeconfigYaml(url, caPem, user, token), { mode: 0o600 });
      return path;
    };
    const adminKubeconfig = writeKubeconfig(join(dir, 'admin.kubeconfig'), 'breakfix-admin', adminToken);

    // Started by the caller once CRDs are in place: the controller manager's quota and GC
    // controllers discover resources at start and only every few minutes after.
    const startControllerManager = () => {
      const kcm = spawnManaged(
        'kube-controller-manager',
        binaries['kube-controller-manager'],
        [
          `--kubeconfig=${adminKubeconfig}`,
          `--authentication-kubeconfig=${adminKubeconfig}`,
          `--authorization-kubeconfig=${adminKubeconfig}`,
          '--bind-address=127.0.0.1',
          `--secure-port=${kcmPort}`,
          '--leader-elect=false',
          `--service-account-private-key-file=${keyFile}`,
          `--root-ca-file=${join(pki, 'apiserver.crt')}`,
          `--service-cluster-ip-range=${options.serviceCidr}`,
          '--concurrent-gc-syncs=5',
          '--v=1',
        ],
        { logFile: join(dir, 'logs', 'kube-controller-manager.log') },
      );
      processes.push(kcm);
      return kcm;
    };
    return { url, adminToken, caPem, writeKubeconfig, processes, startControllerManager };
  } catch (error) {
    await Promise.all(processes.map((p) => p.stop(1_000)));
    throw error;
  }
}

function readOptional(path: string): string | undefined {
  try {
    const text = readFileSync(path, 'utf8');
    return text.includes('END CERTIFICATE') ? text : undefined;
  } catch {
    return undefined;
  }
}

function httpsGet(url: string, token: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { headers: { Authorization: `Bearer ${token}` }, ca, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

export function kubeconfigYaml(server: string, caPem: string, user: string, token: string): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: sandbox',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: sandbox',
    '  context:',
    '    cluster: sandbox',
    `    user: ${user}`,
    'current-context: sandbox',
    '',
  ].join('\n');
}

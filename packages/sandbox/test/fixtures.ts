import { connect } from 'node:net';
import type { KubeObject } from '@breakfix/kube';
import { generateEd25519 } from '@breakfix/secrets';
import ssh2 from 'ssh2';

export interface KeyPair {
  private: string;
  public: string;
}

export function keyPair(comment = 'test'): KeyPair {
  const pair = generateEd25519(comment);
  return { private: pair.privateKey, public: pair.publicKey };
}

export function userData(options: {
  hostKey: KeyPair;
  users: Record<string, string[]>;
  hostname?: string;
  runcmd?: string[];
  /** Users cloud-init gives no sudo rule (the others get breakfix's passwordless one). */
  withoutSudo?: string[];
  /** cloud-init write_files (mode 0644). */
  files?: { path: string; content: string }[];
}): string {
  const indent = (text: string) =>
    text
      .trim()
      .split('\n')
      .map((line) => `    ${line}`)
      .join('\n');
  const users = Object.entries(options.users)
    .map(
      ([name, keys]) =>
        // As breakfix's own user-data: passwordless sudo (cloud-init/src/user-data.ts).
        `  - name: ${name}\n${options.withoutSudo?.includes(name) ? '' : '    sudo: ALL=(ALL) NOPASSWD:ALL\n'}` +
        `    ssh_authorized_keys: [${keys.map((k) => JSON.stringify(k)).join(', ')}]`,
    )
    .join('\n');
  return [
    '#cloud-config',
    ...(options.hostname === undefined ? [] : [`hostname: ${options.hostname}`]),
    'ssh_keys:',
    '  ed25519_private: |',
    indent(options.hostKey.private),
    `  ed25519_public: ${options.hostKey.public}`,
    'users:',
    users,
    ...(options.runcmd === undefined ? [] : ['runcmd:', ...options.runcmd.map((command) => `  - ${command}`)]),
    ...(options.files === undefined
      ? []
      : [
          'write_files:',
          ...options.files.map(
            (file) => `  - path: ${file.path}\n    permissions: '0644'\n    content: ${JSON.stringify(file.content)}`,
          ),
        ]),
    '',
  ].join('\n');
}

export function cloudInitSecret(namespace: string, name: string, data: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'Opaque',
    stringData: { userdata: data },
  };
}

export function virtualMachine(
  namespace: string,
  name: string,
  options: { secret: string; runStrategy?: string; annotations?: Record<string, string> },
): KubeObject {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace, ...(options.annotations ? { annotations: options.annotations } : {}) },
    spec: {
      runStrategy: options.runStrategy ?? 'Always',
      template: {
        metadata: { labels: { 'breakfix.dev/role': 'control-plane' } },
        spec: {
          domain: {
            cpu: { cores: 2 },
            memory: { guest: '2Gi' },
            devices: {
              disks: [
                { name: 'root', disk: { bus: 'virtio' } },
                { name: 'cloudinit', disk: { bus: 'virtio' } },
              ],
              interfaces: [{ name: 'default', bridge: {} }],
            },
            resources: { requests: { memory: '2Gi', cpu: '1' } },
          },
          networks: [{ name: 'default', pod: {} }],
          volumes: [
            { name: 'root', containerDisk: { image: 'registry.example/breakfix/node:1.36' } },
            { name: 'cloudinit', cloudInitNoCloud: { secretRef: { name: options.secret } } },
          ],
        },
      },
    },
  };
}

export function namespace(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'breakfix.dev/test': 'true' } } };
}

/** Runs one command over SSH, verifying the server's host key against `hostKey` (OpenSSH public form). */
export function sshExec(options: {
  host: string;
  port?: number;
  username: string;
  privateKey: string;
  hostKey: string;
  command: string;
}): Promise<{ stdout: string; code: number | null }> {
  const expected = Buffer.from(options.hostKey.split(' ')[1] ?? '', 'base64');
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on('error', reject);
    client.on('ready', () =>
      client.exec(options.command, (error, stream) => {
        if (error) return reject(error);
        let stdout = '';
        stream.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
        });
        stream.stderr.resume();
        stream.on('exit', (code: number | null) => {
          stream.on('close', () => {
            client.end();
            resolve({ stdout, code });
          });
        });
      }),
    );
    client.connect({
      host: options.host,
      port: options.port ?? 22,
      username: options.username,
      privateKey: options.privateKey,
      readyTimeout: 5_000,
      hostVerifier: (key: Buffer) => key.equals(expected),
    });
  });
}

/** Resolves true when something accepts TCP connections on host:port. */
export function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000);
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

import 'reflect-metadata';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import ssh2 from 'ssh2';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export interface SshKeyPair {
  /** OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`). */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string;
}

/** What one lab's kubeadm cluster and SSH pinning need; generated once per lab, never reused. */
export interface LabSecrets {
  ca: { certPem: string; keyPem: string };
  /** `sha256:<hex>` of the CA's DER SubjectPublicKeyInfo, as `kubeadm join --discovery-token-ca-cert-hash` wants. */
  caCertHash: string;
  /** `[a-z0-9]{6}.[a-z0-9]{16}` */
  bootstrapToken: string;
  /** One host key per node name. */
  hostKeys: Record<string, SshKeyPair>;
}

/** The randomness and key generators, injectable so tests and benchmarks can pin or count them. */
export interface SecretSources {
  randomBytes(size: number): Uint8Array;
  sshKeyPair(comment: string): SshKeyPair;
  now(): Date;
}

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator drops a leading zero byte of the public
 * key about once in 400 keys (a 31-byte key: "Malformed OpenSSH private key" on use), so every
 * pair is parsed back and a malformed one is made again.
 */
export function generateEd25519(comment: string): SshKeyPair {
  for (let attempt = 0; attempt < 10; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    const parsed = ssh2.utils.parseKey(pair.private);
    if (!(parsed instanceof Error) && (Array.isArray(parsed) ? parsed[0] : parsed)?.getPublicSSH().length === 51) {
      return { privateKey: pair.private, publicKey: pair.public };
    }
  }
  throw new Error('could not generate a well-formed ed25519 key in 10 attempts');
}

export const defaultSources: SecretSources = {
  randomBytes: (size) => webcrypto.getRandomValues(new Uint8Array(size)),
  sshKeyPair: generateEd25519,
  now: () => new Date(),
};

const CA_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const CA_VALIDITY_YEARS = 10;

/**
 * Generates a lab's cluster CA (ECDSA P-256, the algorithm the kubeadm config asks for), its
 * discovery hash, a bootstrap token and one SSH host key per node.
 */
export async function createLabSecrets(
  lab: { labId: string; nodes: readonly string[] },
  sources: SecretSources = defaultSources,
): Promise<LabSecrets> {
  const ca = await createClusterCa(lab.labId, sources);
  return {
    ca,
    caCertHash: caCertHash(ca.certPem),
    bootstrapToken: bootstrapToken(sources),
    hostKeys: Object.fromEntries(lab.nodes.map((node) => [node, sources.sshKeyPair(`${node}.${lab.labId}`)])),
  };
}

async function createClusterCa(labId: string, sources: SecretSources): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(CA_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(sources.now().getTime() - 60_000);
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const serial = sources.randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // a positive serial number
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(serial).toString('hex'),
    name: `CN=kubernetes, O=breakfix lab ${labId}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: CA_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: `${certificate.toString('pem')}\n`, keyPem: toPem('PRIVATE KEY', pkcs8) };
}

/** `sha256:<hex>` over the certificate's DER SubjectPublicKeyInfo (kubeadm's discovery pin). */
export function caCertHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

function bootstrapToken(sources: SecretSources): string {
  const pick = (length: number) => {
    let out = '';
    while (out.length < length) {
      for (const byte of sources.randomBytes(length)) {
        // Rejection sampling keeps every character equally likely (252 = 7 * 36).
        if (byte < 252 && out.length < length) out += TOKEN_ALPHABET[byte % 36];
      }
    }
    return out;
  };
  return `${pick(6)}.${pick(16)}`;
}

function toPem(label: string, der: Buffer): string {
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${body}${body.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

/** The platform's own key pair, used for every lab's operator account; made once per installation. */
export function createOperatorKey(sources: SecretSources = defaultSources): SshKeyPair {
  return sources.sshKeyPair('breakfix-operator');
}

import type { LabSecrets } from '@breakfix/secrets';
import { type LabSpec, labNodes, type PlatformConfigInput, parseLabSpec, parsePlatformConfig } from '../src/index.js';

export const OPERATOR_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFIXTUREFIXTUREFIXTUREFIXTUREFIXTUREFIXTURE0 breakfix-operator';

export const platformInput: PlatformConfigInput = {
  imageRepository: 'registry.example.com/breakfix/node',
  hostNetworks: { podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], nodeCidrs: ['192.168.10.0/24'] },
  operator: { publicKey: OPERATOR_KEY },
};

export const platform = parsePlatformConfig(platformInput);

/** Stable stand-ins, so snapshots change only when rendering does. */
export function fixtureSecrets(spec: LabSpec): LabSecrets {
  const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
  return {
    ca: {
      certPem: pem('CERTIFICATE', `FIXTURE-CA-${spec.labId}`),
      keyPem: pem('PRIVATE KEY', `FIXTURE-KEY-${spec.labId}`),
    },
    caCertHash: `sha256:${'ab'.repeat(32)}`,
    bootstrapToken: 'abcdef.0123456789abcdef',
    hostKeys: Object.fromEntries(
      labNodes(spec).map((node) => [
        node.name,
        {
          privateKey: pem('OPENSSH PRIVATE KEY', `FIXTURE-HOSTKEY-${node.name}`),
          publicKey: `ssh-ed25519 AAAAFIXTURE${node.name.replace('-', '')} ${node.name}.${spec.labId}`,
        },
      ]),
    ),
  };
}

export function spec(input: Record<string, unknown> = {}): LabSpec {
  return parseLabSpec({ labId: 'demo', ...input });
}

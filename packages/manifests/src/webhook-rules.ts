import type { KubeObject } from '@breakfix/kube';

/** KubeVirt caps inline cloud-init user-data (its admission webhook, not the CRD schema). */
export const INLINE_USER_DATA_LIMIT = 2048;
/** etcd's object size limit applies to the Secrets that carry user-data. */
export const SECRET_DATA_LIMIT = 1024 * 1024;

export interface RuleViolation {
  object: string;
  rule: string;
}

interface VmLike {
  spec?: {
    runStrategy?: string;
    running?: boolean;
    template?: {
      spec?: {
        domain?: {
          firmware?: { bootloader?: { bios?: unknown; efi?: { secureBoot?: boolean } } };
          devices?: { interfaces?: { name: string; masquerade?: unknown; bridge?: unknown }[] };
        };
        networks?: { name: string; pod?: unknown }[];
        volumes?: {
          name: string;
          containerDisk?: unknown;
          cloudInitNoCloud?: { userData?: string; userDataBase64?: string };
        }[];
      };
    };
  };
}

/**
 * Checks rendered objects against rules KubeVirt's webhooks enforce, or that breakfix labs need,
 * which no CRD schema carries, so the sandbox apiserver cannot catch them for us.
 */
export function checkKubevirtRules(objects: readonly KubeObject[]): RuleViolation[] {
  const violations: RuleViolation[] = [];
  for (const object of objects) {
    const name = `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    if (object.kind === 'Secret') {
      const data = {
        ...(object.stringData as Record<string, string> | undefined),
        ...(object.data as Record<string, string> | undefined),
      };
      const size = Object.values(data).reduce((sum, value) => sum + Buffer.byteLength(value), 0);
      if (size > SECRET_DATA_LIMIT)
        violations.push({ object: name, rule: `Secret data is ${size} bytes, over etcd's ${SECRET_DATA_LIMIT}` });
    }
    if (object.kind !== 'VirtualMachine') continue;
    const vm = object as KubeObject & VmLike;
    if (vm.spec?.runStrategy === undefined) violations.push({ object: name, rule: 'spec.runStrategy must be set' });
    if (vm.spec?.running !== undefined)
      violations.push({ object: name, rule: 'spec.running is deprecated; use spec.runStrategy' });
    const template = vm.spec?.template?.spec;
    const strategy = vm.spec?.runStrategy;
    const ephemeral = (template?.volumes ?? []).some((v) => v.containerDisk !== undefined);
    if (ephemeral && (strategy === 'Always' || strategy === 'RerunOnFailure')) {
      violations.push({
        object: name,
        rule: `runStrategy ${strategy} with a containerDisk replaces a lost VMI with a fresh disk (a fresh, unbroken cluster the learner never saw); use Once`,
      });
    }
    const efi = template?.domain?.firmware?.bootloader?.efi;
    if (ephemeral && (efi === undefined || efi.secureBoot !== false)) {
      violations.push({
        object: name,
        rule: 'firmware.bootloader must be efi with secureBoot: false: the golden image boots an unsigned unified kernel image from its EFI system partition, which SeaBIOS cannot find and Secure Boot refuses',
      });
    }
    const podNetworks = new Set((template?.networks ?? []).filter((n) => n.pod !== undefined).map((n) => n.name));
    for (const iface of template?.domain?.devices?.interfaces ?? []) {
      if (podNetworks.has(iface.name) && iface.masquerade !== undefined) {
        violations.push({
          object: name,
          rule: `interface ${iface.name} uses masquerade on the pod network: every guest would be 10.0.2.2 and kubeadm nodes would share one address; use bridge`,
        });
      }
    }
    for (const volume of template?.volumes ?? []) {
      const inline = volume.cloudInitNoCloud?.userData ?? volume.cloudInitNoCloud?.userDataBase64;
      if (inline !== undefined && Buffer.byteLength(inline) > INLINE_USER_DATA_LIMIT) {
        violations.push({
          object: name,
          rule: `volume ${volume.name} has ${Buffer.byteLength(inline)} bytes of inline user-data; KubeVirt accepts ${INLINE_USER_DATA_LIMIT}: use secretRef`,
        });
      }
    }
  }
  return violations;
}

import { Buffer } from 'node:buffer';
import { InvalidInputError, NotFoundError } from '@breakfix/core';
import type { Kube, KubeObject } from '@breakfix/kube';
import { VM_CONTROLLER_FINALIZER, VMI_FINALIZER, type VmState } from './vm-controller.js';

/** The fields of a KubeVirt VirtualMachine the simulator reads. */
export interface VirtualMachine extends KubeObject {
  status?: VmState['status'];
  spec: {
    runStrategy?: string;
    running?: boolean;
    template: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec: {
        volumes?: {
          name: string;
          cloudInitNoCloud?: CloudInitSource;
          cloudInitConfigDrive?: CloudInitSource;
        }[];
        [field: string]: unknown;
      };
    };
  };
}

interface CloudInitSource {
  secretRef?: { name: string };
  userDataSecretRef?: { name: string };
  userData?: string;
  userDataBase64?: string;
}

export interface VirtualMachineInstance extends KubeObject {
  status?: { phase?: string; phaseTransitionTimestamps?: { phase?: string }[] };
}

/**
 * `fails-to-start`: the domain never starts (virt-launcher fails before Running), so the VMI is
 * Failed without having run: a start failure, which KubeVirt backs off from.
 */
export type Fault = 'unschedulable' | 'no-ssh' | 'bootstrap-fails' | 'fails-to-start';

export interface Faults {
  bootDelayMs?: number;
  /** How long the emulated node bootstrap (kubeadm) takes after the guest is up. */
  bootstrapMs?: number;
  fault?: Fault;
  crashAfterMs?: number;
  poweroffAfterMs?: number;
  /** Play the node bootstrap's outcome (a ready or failed marker) in a simulated guest. */
  emulateBootstrap?: boolean;
  /** How long after Running the `default` interface's address is reported. */
  addressDelayMs?: number;
  /** The guest runs a guest agent that connects (the AgentConnected condition, guestOSInfo). */
  guestAgent?: boolean;
}

export const ANNOTATION_BOOT_DELAY = 'sim.breakfix.dev/boot-delay-ms';
export const ANNOTATION_FAULT = 'sim.breakfix.dev/fault';
export const ANNOTATION_CRASH_AFTER = 'sim.breakfix.dev/crash-after-ms';
/** The guest powers itself off this long after Running: its VMI Succeeds. */
export const ANNOTATION_POWEROFF_AFTER = 'sim.breakfix.dev/poweroff-after-ms';
export const ANNOTATION_BOOTSTRAP = 'sim.breakfix.dev/bootstrap-ms';
/**
 * `"true"`: the simulated guest writes the bootstrap's readiness marker itself, since no kubeadm
 * runs in it. Opt-in, named by the tests and tools that need a "ready" simulated lab: a simulator
 * that did this for every VM would report ready what never booted.
 */
export const ANNOTATION_EMULATE_BOOTSTRAP = 'sim.breakfix.dev/emulate-bootstrap';
/**
 * `qemu`: a real guest from the golden image; `container`: a container node, the golden image's
 * root file system under systemd-nspawn on the host's kernel (docs/adr/0037); `process`: a
 * simulated guest (an sshd).
 */
export const ANNOTATION_BACKEND = 'sim.breakfix.dev/backend';

/** How the sandbox runs a VM: see ANNOTATION_BACKEND. */
export type VmBackend = 'process' | 'qemu' | 'container';

export function parseVmBackend(value: string | undefined, what: string): VmBackend {
  if (value === undefined || value === '' || value === 'process') return 'process';
  if (value === 'qemu' || value === 'container') return value;
  throw new InvalidInputError(`${what}=${value} is not a VM backend`, { hint: 'use process, qemu or container' });
}
/**
 * How long after Running the VMI reports the guest's address (KubeVirt learns it from the guest
 * agent or the launcher's DHCP, after the domain runs); the simulator's default otherwise.
 */
export const ANNOTATION_ADDRESS_DELAY = 'sim.breakfix.dev/address-delay-ms';
/**
 * `"true"`: the simulated guest runs a guest agent (AgentConnected, guestOSInfo). Without it a
 * simulated guest has none, like any image without qemu-guest-agent.
 */
export const ANNOTATION_GUEST_AGENT = 'sim.breakfix.dev/guest-agent';
const FAULTS: readonly Fault[] = ['unschedulable', 'no-ssh', 'bootstrap-fails', 'fails-to-start'];

export function faultsOf(vm: VirtualMachine): Faults {
  const annotations = { ...vm.spec.template.metadata?.annotations, ...vm.metadata.annotations };
  const number = (key: string) => {
    const value = annotations[key];
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < 0) {
      throw new InvalidInputError(
        `annotation ${key} on VM ${vm.metadata.name} must be a number of milliseconds, got "${value}"`,
      );
    }
    return parsed;
  };
  const fault = annotations[ANNOTATION_FAULT];
  if (fault !== undefined && !FAULTS.includes(fault as Fault)) {
    throw new InvalidInputError(`annotation ${ANNOTATION_FAULT} must be one of ${FAULTS.join(', ')}, got "${fault}"`);
  }
  const faults: Faults = {};
  const bootDelayMs = number(ANNOTATION_BOOT_DELAY);
  const crashAfterMs = number(ANNOTATION_CRASH_AFTER);
  const bootstrapMs = number(ANNOTATION_BOOTSTRAP);
  const addressDelayMs = number(ANNOTATION_ADDRESS_DELAY);
  if (addressDelayMs !== undefined) faults.addressDelayMs = addressDelayMs;
  if (bootstrapMs !== undefined) faults.bootstrapMs = bootstrapMs;
  if (bootDelayMs !== undefined) faults.bootDelayMs = bootDelayMs;
  if (crashAfterMs !== undefined) faults.crashAfterMs = crashAfterMs;
  const poweroffAfterMs = number(ANNOTATION_POWEROFF_AFTER);
  if (poweroffAfterMs !== undefined) faults.poweroffAfterMs = poweroffAfterMs;
  if (fault !== undefined) faults.fault = fault as Fault;
  const emulate = annotations[ANNOTATION_EMULATE_BOOTSTRAP];
  if (emulate !== undefined && emulate !== 'true' && emulate !== 'false') {
    throw new InvalidInputError(
      `annotation ${ANNOTATION_EMULATE_BOOTSTRAP} must be "true" or "false", got "${emulate}"`,
    );
  }
  if (emulate === 'true') faults.emulateBootstrap = true;
  const agent = annotations[ANNOTATION_GUEST_AGENT];
  if (agent !== undefined && agent !== 'true' && agent !== 'false') {
    throw new InvalidInputError(`annotation ${ANNOTATION_GUEST_AGENT} must be "true" or "false", got "${agent}"`);
  }
  if (agent === 'true') faults.guestAgent = true;
  return faults;
}

/**
 * The VMI virt-controller creates for a VM: the template, owned by the VM, with the VM
 * controller's finalizer and the one virt-api's webhook adds to every VMI.
 */
export function vmiFor(vm: VirtualMachine): VirtualMachineInstance {
  const template = vm.spec.template;
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachineInstance',
    metadata: {
      name: vm.metadata.name,
      namespace: vm.metadata.namespace ?? '',
      labels: { ...template.metadata?.labels, 'kubevirt.io/created-by': vm.metadata.uid ?? '' },
      annotations: { ...template.metadata?.annotations },
      finalizers: [VM_CONTROLLER_FINALIZER, VMI_FINALIZER],
      ownerReferences: [
        {
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachine',
          name: vm.metadata.name,
          uid: vm.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: template.spec,
    status: { phase: 'Pending' },
  };
}

/** Reads the VM's cloud-init user-data from its inline field or its Secret (key `userdata` or `userData`). */
export async function readUserData(kube: Kube, vm: VirtualMachine): Promise<string> {
  const namespace = vm.metadata.namespace ?? '';
  for (const volume of vm.spec.template.spec.volumes ?? []) {
    const source = volume.cloudInitNoCloud ?? volume.cloudInitConfigDrive;
    if (source === undefined) continue;
    if (source.userData !== undefined) return source.userData;
    if (source.userDataBase64 !== undefined) return Buffer.from(source.userDataBase64, 'base64').toString('utf8');
    const secretName = (source.userDataSecretRef ?? source.secretRef)?.name;
    if (secretName === undefined) continue;
    const secret = await kube.get<KubeObject & { data?: Record<string, string> }>({
      apiVersion: 'v1',
      kind: 'Secret',
      namespace,
      name: secretName,
    });
    if (secret === undefined) {
      throw new NotFoundError(`cloud-init Secret ${namespace}/${secretName} of VM ${vm.metadata.name} does not exist`);
    }
    const encoded = secret.data?.userdata ?? secret.data?.userData;
    if (encoded === undefined) {
      throw new InvalidInputError(`Secret ${namespace}/${secretName} has no "userdata" key`);
    }
    return Buffer.from(encoded, 'base64').toString('utf8');
  }
  throw new InvalidInputError(`VM ${namespace}/${vm.metadata.name} has no cloud-init volume`);
}

/**
 * A `decorate` hook for the provisioner: every VM of the lab gets `annotations` on its template
 * (where KubeVirt copies them to the VMI). Composes: `annotateVms({...})` of another's output.
 */
export function annotateVms(annotations: Record<string, string>) {
  return (objects: KubeObject[]): KubeObject[] =>
    objects.map((object) => {
      if (object.kind !== 'VirtualMachine') return object;
      const vm = object as VirtualMachine;
      const template = vm.spec.template;
      return {
        ...vm,
        spec: {
          ...vm.spec,
          template: {
            ...template,
            metadata: { ...template.metadata, annotations: { ...template.metadata?.annotations, ...annotations } },
          },
        },
      } as KubeObject;
    });
}

/** The decorate hook of simulated labs that should become "ready": the bootstrap is emulated. */
export const emulatedBootstrap = annotateVms({ [ANNOTATION_EMULATE_BOOTSTRAP]: 'true' });

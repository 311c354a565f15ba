import { createHash } from 'node:crypto';
import type { KubeObject } from '@breakfix/kube';
import {
  type ContainerResources,
  EPHEMERAL_STORAGE_OVERHEAD_BYTES,
  LAUNCHER_CONTAINERS,
  launcherMemoryOverheadBytes,
  parseQuantity,
  type VmiSpecForOverhead,
  vcpus,
} from '@breakfix/manifests';
import type { VirtualMachineInstance } from './vm-objects.js';

/** The image the launcher pod's containers name; nothing pulls or runs it here. */
export const LAUNCHER_IMAGE = 'quay.io/kubevirt/virt-launcher:simulated';
/** virt-controller's label on launcher pods, `kubevirt.io: virt-launcher`. */
export const LAUNCHER_LABEL = { key: 'kubevirt.io', value: 'virt-launcher' } as const;
/** The node label virt-handler sets on nodes that can run VMs; every launcher pod selects it. */
export const SCHEDULABLE_LABEL = 'kubevirt.io/schedulable';
/** The readiness gate virt-controller adds to launcher pods and sets while the VM is not paused. */
export const UNPAUSED_CONDITION = 'kubevirt.io/virtual-machine-unpaused';
/** KubeVirt's default CPU allocation ratio: a VMI without a CPU request asks 1/10 of a core per vCPU. */
const CPU_ALLOCATION_RATIO = 10;
/** KubeVirt's runtime user: VMIs run non-root unless the `Root` feature gate is on. */
const NON_ROOT_UID = 107;
/** The paths virt-launcher mounts its emptyDirs and the cloud-init Secrets at (pkg/util, pkg/config). */
const PRIVATE_DIR = '/var/run/kubevirt-private';
const SHARE_DIR = '/var/run/kubevirt';

interface VmiSpec extends VmiSpecForOverhead {
  hostname?: string;
  subdomain?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
  terminationGracePeriodSeconds?: number;
  domain: VmiSpecForOverhead['domain'] & {
    devices?: VmiSpecForOverhead['domain']['devices'] & {
      autoattachSerialConsole?: boolean;
      logSerialConsole?: boolean;
    };
  };
  volumes?: {
    name: string;
    containerDisk?: { image: string; imagePullPolicy?: string };
    cloudInitNoCloud?: { secretRef?: { name: string }; networkDataSecretRef?: { name: string } };
    downwardMetrics?: unknown;
  }[];
}

/**
 * The virt-launcher pod virt-controller renders for a VMI (TemplateService.renderLaunchManifest at
 * KubeVirt's defaults: no Root feature gate, ImageVolume off, serial console log on): the compute
 * container first, with the VMI's requests plus KubeVirt's memory overhead and the KVM, tun and
 * vhost-net devices; a `volume<name>` container per containerDisk; the `guest-console-log`
 * sidecar, `container-disk-binary` and `volume<name>-init` as init containers; the VMI's labels
 * and KubeVirt's own; a nodeSelector that adds `kubevirt.io/schedulable`; the cloud-init Secrets
 * as volumes (a missing Secret keeps the pod from starting). Pure: it creates nothing.
 */
export function launcherPod(vmi: VirtualMachineInstance & { spec?: VmiSpec }): KubeObject {
  const spec = vmi.spec ?? { domain: {} };
  const name = vmi.metadata.name;
  const hostname = spec.hostname ?? name;
  const volumes = spec.volumes ?? [];
  const containerDisks = volumes.filter((volume) => volume.containerDisk !== undefined);
  const secretVolumes = volumes.flatMap((volume) => cloudInitSecretVolumes(volume));
  const annotations = Object.fromEntries(
    Object.entries(vmi.metadata.annotations ?? {}).filter(
      ([key]) =>
        !key.startsWith('kubectl.kubernetes.io') &&
        !key.startsWith('kubevirt.io/storage-observed-api-version') &&
        !key.startsWith('kubevirt.io/latest-observed-api-version'),
    ),
  );

  const compute = {
    name: 'compute',
    image: LAUNCHER_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    command: ['/usr/bin/virt-launcher-monitor'],
    args: ['--name', name, '--uid', vmi.metadata.uid ?? '', '--namespace', vmi.metadata.namespace ?? ''],
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    resources: computeResources(spec),
    securityContext: {
      runAsUser: NON_ROOT_UID,
      runAsGroup: NON_ROOT_UID,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'private', mountPath: PRIVATE_DIR },
      { name: 'public', mountPath: SHARE_DIR },
      { name: 'ephemeral-disks', mountPath: `${PRIVATE_DIR}/vmi-disks` },
      { name: 'libvirt-runtime', mountPath: '/var/run/libvirt' },
      { name: 'sockets', mountPath: `${SHARE_DIR}/sockets` },
      { name: 'container-disks', mountPath: `${SHARE_DIR}/container-disks`, mountPropagation: 'HostToContainer' },
      ...secretVolumes.flatMap((volume) => volume.mounts),
    ],
  };
  const diskContainer = (volume: (typeof containerDisks)[number], index: number, init: boolean) => ({
    name: `volume${volume.name}${init ? '-init' : ''}`,
    image: volume.containerDisk?.image ?? '',
    ...(volume.containerDisk?.imagePullPolicy === undefined
      ? {}
      : { imagePullPolicy: volume.containerDisk.imagePullPolicy }),
    command: ['/usr/bin/container-disk'],
    args: init ? ['--no-op'] : ['--copy-path', `${SHARE_DIR}/container-disks/disk_${index}`],
    resources: resources(LAUNCHER_CONTAINERS.containerDisk),
    securityContext: nonRootSupportContainer(),
    volumeMounts: [
      { name: 'container-disks', mountPath: `${SHARE_DIR}/container-disks` },
      { name: 'virt-bin-share-dir', mountPath: '/usr/bin' },
    ],
  });
  const consoleLog = serialConsoleLogged(spec)
    ? [
        {
          name: 'guest-console-log',
          image: LAUNCHER_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          command: ['/usr/bin/virt-tail'],
          args: ['--logfile', `${PRIVATE_DIR}/${vmi.metadata.uid ?? ''}/virt-serial0-log`],
          resources: resources(LAUNCHER_CONTAINERS.guestConsoleLog),
          securityContext: nonRootSupportContainer(),
          volumeMounts: [{ name: 'private', mountPath: PRIVATE_DIR, readOnly: true }],
          restartPolicy: 'Always',
        },
      ]
    : [];
  const diskInit =
    containerDisks.length === 0
      ? []
      : [
          {
            name: 'container-disk-binary',
            image: LAUNCHER_IMAGE,
            imagePullPolicy: 'IfNotPresent',
            command: ['/usr/bin/cp'],
            args: ['--preserve=all', '/usr/bin/container-disk', '/init/usr/bin/container-disk'],
            resources: resources(LAUNCHER_CONTAINERS.containerDiskBinary),
            securityContext: {
              runAsUser: NON_ROOT_UID,
              runAsGroup: NON_ROOT_UID,
              runAsNonRoot: true,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'] },
            },
            volumeMounts: [{ name: 'virt-bin-share-dir', mountPath: '/init/usr/bin' }],
          },
          ...containerDisks.map((volume) => diskContainer(volume, volumes.indexOf(volume), true)),
        ];

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: launcherPodName(vmi),
      namespace: vmi.metadata.namespace ?? '',
      labels: {
        ...vmi.metadata.labels,
        [LAUNCHER_LABEL.key]: LAUNCHER_LABEL.value,
        'kubevirt.io/created-by': vmi.metadata.uid ?? '',
        'vm.kubevirt.io/name': hostname,
      },
      annotations: {
        'kubevirt.io/domain': name,
        ...annotations,
        'kubectl.kubernetes.io/default-container': 'compute',
        'kubevirt.io/migrationTransportUnix': 'true',
        'descheduler.alpha.kubernetes.io/request-evict-only': '',
      },
      ownerReferences: [
        {
          apiVersion: 'kubevirt.io/v1',
          kind: 'VirtualMachineInstance',
          name,
          uid: vmi.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      hostname,
      ...(spec.subdomain === undefined ? {} : { subdomain: spec.subdomain }),
      securityContext: {
        fsGroup: NON_ROOT_UID,
        runAsUser: NON_ROOT_UID,
        runAsGroup: NON_ROOT_UID,
        runAsNonRoot: true,
      },
      // The VMI's grace period (30 s by default) padded twice by 15 s.
      terminationGracePeriodSeconds: (spec.terminationGracePeriodSeconds ?? 30) + 30,
      restartPolicy: 'Never',
      containers: [compute, ...containerDisks.map((volume) => diskContainer(volume, volumes.indexOf(volume), false))],
      initContainers: [...consoleLog, ...diskInit],
      nodeSelector: { ...spec.nodeSelector, [SCHEDULABLE_LABEL]: 'true' },
      ...(spec.tolerations === undefined ? {} : { tolerations: spec.tolerations }),
      ...(spec.affinity === undefined ? {} : { affinity: spec.affinity }),
      volumes: [
        ...['private', 'public', 'sockets', 'virt-bin-share-dir', 'libvirt-runtime', 'ephemeral-disks'].map(
          (volume) => ({ name: volume, emptyDir: {} }),
        ),
        { name: 'container-disks', emptyDir: {} },
        ...secretVolumes.map((volume) => volume.volume),
      ],
      readinessGates: [{ conditionType: UNPAUSED_CONDITION }],
      enableServiceLinks: false,
      automountServiceAccountToken: false,
    },
  };
}

/** `virt-launcher-<vmi>-<5 characters>`: KubeVirt's generateName, the suffix derived from the VMI's uid. */
export function launcherPodName(vmi: VirtualMachineInstance): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256')
    .update(vmi.metadata.uid ?? vmi.metadata.name)
    .digest();
  const suffix = [...digest.subarray(0, 5)].map((byte) => alphabet[byte % alphabet.length]).join('');
  return `virt-launcher-${vmi.metadata.name}-${suffix}`;
}

/**
 * The compute container's resources (ResourceRenderer): the VMI's own requests and limits; memory
 * is the request (else the guest memory) plus KubeVirt's overhead; CPU without a request is one
 * tenth of a core per vCPU; 50M of ephemeral storage; the devices virt-handler's device plugins
 * serve as limits.
 */
function computeResources(spec: VmiSpec) {
  const own = spec.domain.resources ?? {};
  const memory = own.requests?.memory ?? spec.domain.memory?.guest;
  const requests: Record<string, string> = { ...own.requests };
  if (memory !== undefined) {
    requests.memory = String(Math.ceil(parseQuantity(memory)) + launcherMemoryOverheadBytes(spec));
  }
  if (requests.cpu === undefined) requests.cpu = `${Math.round((vcpus(spec.domain) * 1000) / CPU_ALLOCATION_RATIO)}m`;
  requests['ephemeral-storage'] = String(
    parseQuantity(own.requests?.['ephemeral-storage'] ?? '0') + EPHEMERAL_STORAGE_OVERHEAD_BYTES,
  );
  return {
    requests,
    limits: {
      ...own.limits,
      'devices.kubevirt.io/kvm': '1',
      'devices.kubevirt.io/tun': '1',
      'devices.kubevirt.io/vhost-net': '1',
    },
  };
}

function resources(container: ContainerResources) {
  const { requests, limits } = container;
  return {
    requests: {
      cpu: `${requests.cpuMilli}m`,
      memory: String(requests.memoryBytes),
      ...(requests.ephemeralStorageBytes === undefined
        ? {}
        : { 'ephemeral-storage': String(requests.ephemeralStorageBytes) }),
    },
    limits: { cpu: `${limits.cpuMilli}m`, memory: String(limits.memoryBytes) },
  };
}

function nonRootSupportContainer() {
  return {
    runAsUser: NON_ROOT_UID,
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  };
}

/** KubeVirt logs the serial console unless the VM turns the console or its log off. */
function serialConsoleLogged(spec: VmiSpec): boolean {
  const devices = spec.domain.devices;
  if (devices?.autoattachSerialConsole === false) return false;
  return devices?.logSerialConsole ?? true;
}

/** A cloudInitNoCloud volume's user-data and network-data Secrets, as the pod mounts them. */
function cloudInitSecretVolumes(volume: NonNullable<VmiSpec['volumes']>[number]) {
  const source = volume.cloudInitNoCloud;
  if (source === undefined) return [];
  const found: { volume: object; mounts: object[] }[] = [];
  for (const [ref, suffix, keys] of [
    [source.secretRef, 'udata', ['userdata', 'userData']],
    [source.networkDataSecretRef, 'ndata', ['networkdata', 'networkData']],
  ] as const) {
    if (ref === undefined) continue;
    const name = `${volume.name}-${suffix}`;
    found.push({
      volume: { name, secret: { secretName: ref.name } },
      mounts: keys.map((key) => ({
        name,
        mountPath: `${PRIVATE_DIR}/secret/${volume.name}/${key}`,
        subPath: key,
        readOnly: true,
      })),
    });
  }
  return found;
}

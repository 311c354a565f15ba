import { InvalidInputError, UpstreamError, waitFor } from '@breakfix/core';
import type { Kube, KubeObject } from '@breakfix/kube';
import { type InstanceOwnership, isOwnLab, LABELS, SSH_SERVICE_NAME, sshService } from '@breakfix/manifests';
import type { NodePortAllocator } from './nodeport-allocator.js';

export interface ExposureDeps {
  kube: Kube;
  allocator: NodePortAllocator;
  /** How long a port found taken outside breakfix is skipped. Default 10 minutes. */
  blockMs?: number;
  now?: () => number;
}

export interface LabRef {
  labId: string;
  namespace: string;
  labels: Record<string, string>;
}

const PORT_TAKEN = /provided port is already allocated/;
const MAX_ATTEMPTS = 5;

/** Runs one step of opening SSH, for a caller that times them (the claim trace); by default just runs it. */
export type ExposureStep = <T>(step: 'nodeport_lease' | 'service_apply', work: () => Promise<T>) => Promise<T>;

/**
 * Opens SSH into a claimed lab: leases a NodePort and creates the lab's `ssh` Service on it. When
 * the apiserver says the port is taken (a Service breakfix did not make), the port is blocked and
 * another one picked. Idempotent: a lab that already has its port gets the same Service again.
 */
export async function openSsh(
  deps: ExposureDeps,
  lab: LabRef,
  step: ExposureStep = (_step, work) => work(),
): Promise<{ nodePort: number }> {
  const now = deps.now ?? Date.now;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const nodePort = await step('nodeport_lease', () => deps.allocator.allocate(lab.labId));
    try {
      await step('service_apply', () => deps.kube.apply(sshService(lab, nodePort)));
      return { nodePort };
    } catch (error) {
      if (!(error instanceof InvalidInputError && PORT_TAKEN.test(error.message))) {
        await deps.allocator.release(lab.labId);
        throw error;
      }
      await deps.allocator.block(nodePort, now() + (deps.blockMs ?? 10 * 60_000));
    }
  }
  throw new InvalidInputError(`lab ${lab.labId}: ${MAX_ATTEMPTS} NodePorts in a row were taken outside breakfix`, {
    hint: 'run the NodePort reconciler, or give breakfix a range no other Service uses',
  });
}

interface EndpointSlice extends KubeObject {
  endpoints?: { addresses?: string[]; nodeName?: string; conditions?: { ready?: boolean | null } }[] | null;
  ports?: { name?: string | null; port?: number }[] | null;
}

/**
 * Waits until the lab's `ssh` Service has a ready endpoint on `nodeName`, the node whose address
 * learners get. Until the EndpointSlice controller publishes one, kube-proxy has nothing to forward
 * to: it rejects connections to the NodePort (no endpoints anywhere) or, with
 * `externalTrafficPolicy: Local`, drops them on a node without a local endpoint. A lab handed over
 * earlier would refuse its learner's first login (docs/adr/0031). kube-proxy's own sync, after the
 * slice, cannot be watched through the API and is not waited for. Without `nodeName` (a lab
 * recorded before nodes were), any ready endpoint will do.
 */
export async function waitForSshEndpoint(
  kube: Kube,
  lab: Pick<LabRef, 'labId' | 'namespace'>,
  nodeName: string | undefined,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    async () => {
      const slices = await kube.list<EndpointSlice>('discovery.k8s.io/v1', 'EndpointSlice', {
        namespace: lab.namespace,
        labelSelector: `kubernetes.io/service-name=${SSH_SERVICE_NAME}`,
      });
      const ready = slices.some(
        (slice) =>
          (slice.ports ?? []).some((port) => port.name === 'ssh' && port.port !== undefined) &&
          (slice.endpoints ?? []).some(
            (endpoint) =>
              endpoint.conditions?.ready !== false &&
              (endpoint.addresses ?? []).length > 0 &&
              (nodeName === undefined || endpoint.nodeName === nodeName),
          ),
      );
      return ready ? true : undefined;
    },
    {
      what: `a ready endpoint of lab ${lab.labId}'s ssh Service on ${nodeName ?? 'any node'}`,
      timeoutMs,
      intervalMs: 100,
    },
  ).catch((error: unknown) => {
    throw new UpstreamError(`lab ${lab.labId}: its SSH NodePort forwards to nothing: ${(error as Error).message}`, {
      hint: "the ssh Service's selector or the control plane's launcher pod: is the pod Ready, with the lab's labels?",
      cause: error,
    });
  });
}

/** Closes SSH into a lab: deletes its `ssh` Service, then frees the port. Safe to call twice. */
export async function closeSsh(deps: ExposureDeps, lab: Pick<LabRef, 'labId' | 'namespace'>): Promise<void> {
  await deps.kube.delete({ apiVersion: 'v1', kind: 'Service', namespace: lab.namespace, name: SSH_SERVICE_NAME });
  await deps.allocator.release(lab.labId);
}

export interface ReconcileReport {
  /** This instance's lab SSH Services whose port Redis did not record for that lab. */
  adopted: { labId: string; port: number }[];
  /**
   * Ports in breakfix's range held by Services this instance did not make: anything else's, and
   * other breakfix instances' lab Services on a shared range (never adopted: not ours to free).
   */
  blocked: number[];
  /** Leases with no Service past the grace period, and leases displaced by a Service that exists. */
  freed: { labId: string; port: number }[];
}

interface ServiceLike extends KubeObject {
  spec?: { ports?: { nodePort?: number }[] };
}

/**
 * Compares leases with the Services that really exist (Kubernetes is the truth of what exists):
 * adopts this instance's lab SSH Services Redis lost, blocks ports other Services hold (another
 * instance's lab Services included), and frees leases whose Service is gone once `graceMs` has
 * passed since allocation (a claim may be creating it now).
 */
export async function reconcileNodePorts(
  deps: ExposureDeps & { graceMs?: number; owner: InstanceOwnership },
): Promise<ReconcileReport> {
  const now = (deps.now ?? Date.now)();
  const { first, last } = deps.allocator.range;
  const report: ReconcileReport = { adopted: [], blocked: [], freed: [] };
  const leases = await deps.allocator.leases();
  const leaseByPort = new Map(leases.map((l) => [l.port, l]));
  const inUse = new Set<number>();

  for (const service of await deps.kube.list<ServiceLike>('v1', 'Service')) {
    for (const { nodePort } of service.spec?.ports ?? []) {
      if (nodePort === undefined || nodePort < first || nodePort > last) continue;
      inUse.add(nodePort);
      const labId = service.metadata.labels?.[LABELS.lab];
      const ownLab = labId !== undefined && isOwnLab(service.metadata.labels, deps.owner);
      if (service.metadata.name === SSH_SERVICE_NAME && ownLab) {
        const holder = leaseByPort.get(nodePort)?.labId;
        if (holder !== labId) {
          report.adopted.push({ labId, port: nodePort });
          // Redis had given the port to another lab: the Service that exists wins.
          if (holder !== undefined) report.freed.push({ labId: holder, port: nodePort });
        }
        await deps.allocator.adopt(labId, nodePort);
      } else {
        // Taken outside this instance (a Service of another install counts): skipped until the
        // block runs out, renewed by every reconcile while the Service exists. A lease of ours on
        // it cannot be real (the apiserver gives a port to one Service) and goes with the block.
        report.blocked.push(nodePort);
        const holder = leaseByPort.get(nodePort)?.labId;
        if (holder !== undefined) report.freed.push({ labId: holder, port: nodePort });
        await deps.allocator.block(nodePort, now + (deps.blockMs ?? 10 * 60_000));
      }
    }
  }
  for (const lease of leases) {
    if (inUse.has(lease.port) || now - lease.allocatedAt < (deps.graceMs ?? 60_000)) continue;
    if ((await deps.allocator.release(lease.labId)) !== undefined)
      report.freed.push({ labId: lease.labId, port: lease.port });
  }
  return report;
}

import { performance } from 'node:perf_hooks';

/**
 * The steps of a claim, in the order they run (see createLabAccess):
 * - `redis_claim`: the atomic claim of a ready lab (one Lua script);
 * - `vmi_lookup`: the nodes' addresses: as the provisioner recorded them (no I/O), else the lab's VMIs read;
 * - `keys_generate`: the claim's ed25519 pairs (lab key, terminal key, the learner's when none was given);
 * - `nodeport_lease`: the lab's NodePort leased in Redis (one Lua script);
 * - `service_apply`: the lab's `ssh` Service applied on that port (both again when the port was taken);
 * - `endpoint_ready`: until that Service's EndpointSlice lists the control plane's pod, ready, on the node
 *   handed out (the EndpointSlice controller's work; kube-proxy forwards nothing before);
 * - `key_install`: the authorized keys written on one node over the operator's SSH, handshake included (per
 *   node); absent when the preparation runs them in its own command (ClaimRequest.prepareRunsSetup);
 * - `lab_key`: the lab key and known_hosts placed on the control plane as the learner, handshake included
 *   (labs with more than one node only);
 * - `prepare`: the caller's preparation (the scenario's break, with the keys when it runs them), any
 *   handshake it needs included; it runs beside `nodeport_lease`, `service_apply` and `endpoint_ready`;
 * - `connection_address`: where learners connect (the control plane's Node read, unless publicHost is set);
 * - `record`: the access details saved and the record read back;
 * - `release_after_failure`: handing the lab back when a step failed;
 * - `total`: the whole claim, as its caller waits for it.
 */
export type ClaimStep =
  | 'redis_claim'
  | 'vmi_lookup'
  | 'keys_generate'
  | 'nodeport_lease'
  | 'service_apply'
  | 'endpoint_ready'
  | 'key_install'
  | 'lab_key'
  | 'prepare'
  | 'connection_address'
  | 'record'
  | 'release_after_failure'
  | 'total';

/** One step of one claim, timed. */
export interface ClaimStepEvent {
  step: ClaimStep;
  pool: string;
  learner: string;
  /** The claimed lab; absent when the Redis claim itself failed. */
  labId?: string;
  /** The node, for steps run on each node. */
  node?: string;
  /** `performance.now()` when the step began. */
  startedAt: number;
  ms: number;
  ok: boolean;
}

/** Told of every step of every claim (LabAccessOptions.trace). */
export type ClaimTrace = (event: ClaimStepEvent) => void;

/**
 * Times the steps of one claim for `trace`; without a trace each step simply runs. The lab id
 * is learned from the Redis claim (`labIs`) and carried by the later steps.
 */
export function claimTimer(trace: ClaimTrace | undefined, claim: { pool: string; learner: string }) {
  let labId: string | undefined;
  return {
    labIs(id: string): void {
      labId = id;
    },
    async step<T>(step: ClaimStep, work: () => Promise<T> | T, node?: string): Promise<T> {
      if (trace === undefined) return await work();
      const startedAt = performance.now();
      let ok = false;
      try {
        const result = await work();
        ok = true;
        return result;
      } finally {
        trace({
          step,
          pool: claim.pool,
          learner: claim.learner,
          ...(labId === undefined ? {} : { labId }),
          ...(node === undefined ? {} : { node }),
          startedAt,
          ms: performance.now() - startedAt,
          ok,
        });
      }
    },
  };
}

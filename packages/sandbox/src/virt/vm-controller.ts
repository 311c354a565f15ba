/**
 * What KubeVirt's VM controller decides, as pure functions of a VirtualMachine and its instance:
 * transcribed from kubevirt/kubevirt pkg/virt-controller/watch/vm/vm.go (`syncRunStrategy`,
 * `isTrimFirstChangeRequestNeeded`, `syncStartFailureStatus`, `calculateStartBackoffTime`,
 * `setPrintableStatus`) and virt-api's start/stop handlers (pkg/virt-api/rest/lifecycle.go), which
 * write nothing but `spec.runStrategy` and `status.stateChangeRequests`.
 */

/** Added by virt-api's mutating webhook to every VMI; removed once the VMI is final and its pods are gone. */
export const VMI_FINALIZER = 'kubevirt.io/foregroundDeleteVirtualMachine';
/** Added by the VM controller to its VMs and to the VMIs it creates. */
export const VM_CONTROLLER_FINALIZER = 'kubevirt.io/virtualMachineControllerFinalize';

export type RunStrategy = 'Always' | 'RerunOnFailure' | 'Once' | 'Manual' | 'Halted';

export interface StateChangeRequest {
  action: 'Start' | 'Stop';
  /** The VMI a Stop request is for. */
  uid?: string;
}

export interface StartFailure {
  lastFailedVMIUID: string;
  retryAfterTimestamp: string;
  consecutiveFailCount: number;
}

export interface VmState {
  metadata: { deletionTimestamp?: string };
  spec: { runStrategy?: string; running?: boolean };
  status?: {
    runStrategy?: string;
    created?: boolean;
    stateChangeRequests?: StateChangeRequest[];
    startFailure?: StartFailure;
  };
}

export interface VmiState {
  metadata: { uid?: string; deletionTimestamp?: string };
  status?: { phase?: string; phaseTransitionTimestamps?: { phase?: string }[] };
}

export type Decision =
  | { kind: 'none' }
  | { kind: 'start' }
  /** Delete the VMI; `thenStart` queues a Start request (RerunOnFailure after a failure). */
  | { kind: 'stop'; thenStart?: boolean }
  /** A start request on a Halted VM: virt-controller sets the VM to Always. */
  | { kind: 'set-always' }
  /** Start, but not before the start-failure back-off ends. */
  | { kind: 'wait'; ms: number };

/** KubeVirt's start-failure back-off: 10 s x failures², plus up to half again, at most 300 s. */
export interface StartBackoff {
  /** Default 10 000 (`minInterval`). */
  minIntervalMs?: number;
  /** Default 300 000 (`defaultMaxCrashLoopBackoffDelaySeconds`). */
  maxDelayMs?: number;
}

export function runStrategyOf(vm: VmState): RunStrategy | undefined {
  const strategy = vm.spec.runStrategy ?? (vm.spec.running === true ? 'Always' : 'Halted');
  const known: readonly string[] = ['Always', 'RerunOnFailure', 'Once', 'Manual', 'Halted'];
  return known.includes(strategy) ? (strategy as RunStrategy) : undefined;
}

export const isFinal = (vmi: VmiState | undefined) =>
  vmi?.status?.phase === 'Succeeded' || vmi?.status?.phase === 'Failed';

const wasRunning = (vmi: VmiState | undefined) =>
  (vmi?.status?.phaseTransitionTimestamps ?? []).some((t) => t.phase === 'Running');

/** `syncRunStrategy`: what the VM controller does about the VMI, for each runStrategy. */
export function decide(vm: VmState, vmi: VmiState | undefined, now: number): Decision {
  const strategy = runStrategyOf(vm);
  const first = vm.status?.stateChangeRequests?.[0];
  const startRequested = first?.action === 'Start';
  const stopRequested = vmi !== undefined && first?.action === 'Stop' && first.uid === vmi.metadata.uid;
  const deleting = vmi?.metadata.deletionTimestamp !== undefined;
  const startUnlessBackingOff = (): Decision => {
    const left = backoffLeftMs(vm, now);
    return left > 0 ? { kind: 'wait', ms: left } : { kind: 'start' };
  };
  switch (strategy) {
    case 'Always':
      if (vmi === undefined) return startUnlessBackingOff();
      return !deleting && (stopRequested || isFinal(vmi)) ? { kind: 'stop' } : { kind: 'none' };
    case 'RerunOnFailure':
      if (vmi !== undefined) {
        if (deleting || !(stopRequested || isFinal(vmi))) return { kind: 'none' };
        return vmi.status?.phase === 'Failed' ? { kind: 'stop', thenStart: true } : { kind: 'stop' };
      }
      // A new VM (never started) or a start request; not a VMI that succeeded or was stopped.
      if (!startRequested && vm.status?.runStrategy === strategy) return { kind: 'none' };
      return startUnlessBackingOff();
    case 'Manual':
      if (vmi !== undefined) return stopRequested && !deleting ? { kind: 'stop' } : { kind: 'none' };
      return startRequested ? { kind: 'start' } : { kind: 'none' };
    case 'Halted':
      if (vmi === undefined) return startRequested ? { kind: 'set-always' } : { kind: 'none' };
      return deleting ? { kind: 'none' } : { kind: 'stop' };
    case 'Once':
      return vmi === undefined ? { kind: 'start' } : { kind: 'none' };
    case undefined:
      return { kind: 'none' };
  }
}

/** `isTrimFirstChangeRequestNeeded`: whether the first state change request has been acted on. */
export function firstRequestDone(vm: VmState, vmi: VmiState | undefined): boolean {
  const first = vm.status?.stateChangeRequests?.[0];
  if (first === undefined) return false;
  if (first.action === 'Stop') return vmi === undefined || first.uid === undefined || first.uid !== vmi.metadata.uid;
  return vmi !== undefined && vmi.metadata.deletionTimestamp === undefined && !isFinal(vmi);
}

/**
 * `syncStartFailureStatus`: a VMI that ended without ever running counts as a start failure, once
 * per VMI; one that reached Running, or a runStrategy that never restarts, clears the count.
 * Returns the new value (null: clear it), or undefined to leave it as it is.
 */
export function nextStartFailure(
  vm: VmState,
  vmi: VmiState | undefined,
  now: number,
  backoff: StartBackoff = {},
  random: () => number = Math.random,
): StartFailure | null | undefined {
  const current = vm.status?.startFailure;
  const strategy = runStrategyOf(vm);
  const restarts = strategy === 'Always' || strategy === 'RerunOnFailure' || strategy === 'Once';
  if (wasRunning(vmi) || !restarts) return current === undefined ? undefined : null;
  if (vmi === undefined || !isFinal(vmi) || current?.lastFailedVMIUID === vmi.metadata.uid) return undefined;
  const count = (current?.consecutiveFailCount ?? 0) + 1;
  const retryAfter = new Date(now + startBackoffMs(count, backoff, random));
  return {
    lastFailedVMIUID: vmi.metadata.uid ?? '',
    retryAfterTimestamp: retryAfter.toISOString().replace(/\.\d+Z$/, 'Z'),
    consecutiveFailCount: count,
  };
}

/** `calculateStartBackoffTime`: interval x count², plus a random part up to half of that, capped. */
export function startBackoffMs(count: number, backoff: StartBackoff = {}, random: () => number = Math.random): number {
  const maxDelay = backoff.maxDelayMs ?? 300_000;
  const interval = Math.max(maxDelay / 30, backoff.minIntervalMs ?? 10_000);
  const delay = interval * Math.max(count, 1) ** 2;
  return Math.min(delay + Math.floor(random() * (delay / 2 + 1)), maxDelay);
}

function backoffLeftMs(vm: VmState, now: number): number {
  const retryAfter = vm.status?.startFailure?.retryAfterTimestamp;
  if (retryAfter === undefined) return 0;
  return Math.max(0, Date.parse(retryAfter) - now);
}

/**
 * `setPrintableStatus` for a VM without an instance in flight (none, a final one, or one being
 * deleted); while a VMI boots, the boot reports Starting, ErrorUnschedulable or Running itself.
 */
export function restingPrintableStatus(vm: VmState, vmi: VmiState | undefined): string {
  if (vm.metadata.deletionTimestamp !== undefined) return 'Terminating';
  if (vmi !== undefined && !isFinal(vmi) && vmi.metadata.deletionTimestamp !== undefined) return 'Stopping';
  const strategy = runStrategyOf(vm);
  const crashLooping =
    (vm.status?.startFailure?.consecutiveFailCount ?? 0) > 0 &&
    (strategy === 'Always' || strategy === 'RerunOnFailure' || strategy === 'Once');
  return crashLooping ? 'CrashLoopBackOff' : 'Stopped';
}

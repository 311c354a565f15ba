import { assertNever, ConflictError } from './errors.js';

/**
 * An environment is one booted, unbroken kubeadm cluster in its own namespace.
 * provisioning -> ready -> claimed -> releasing -> deleted; `failed` from any state before claimed.
 */
export type EnvironmentState = 'provisioning' | 'ready' | 'claimed' | 'releasing' | 'failed' | 'deleted';

export type EnvironmentEvent = 'provisioned' | 'claim' | 'release' | 'fail' | 'delete';

export const ENVIRONMENT_STATES: readonly EnvironmentState[] = [
  'provisioning',
  'ready',
  'claimed',
  'releasing',
  'failed',
  'deleted',
];

/** Every allowed move; Redis scripts are generated from this table, so the two cannot drift. */
export const TRANSITIONS: Readonly<
  Record<EnvironmentEvent, Readonly<Partial<Record<EnvironmentState, EnvironmentState>>>>
> = {
  provisioned: { provisioning: 'ready' },
  claim: { ready: 'claimed' },
  release: { claimed: 'releasing' },
  fail: { provisioning: 'failed', ready: 'failed' },
  delete: { releasing: 'deleted', failed: 'deleted', provisioning: 'deleted', ready: 'deleted' },
};

/** The state after `event`, or a ConflictError naming both when the move is not allowed. */
export function transition(state: EnvironmentState, event: EnvironmentEvent): EnvironmentState {
  const next = TRANSITIONS[event][state];
  if (next === undefined) throw new ConflictError(`an environment that is ${state} cannot ${event}`);
  return next;
}

/** Whether a learner holds the environment in this state. */
export function isHeld(state: EnvironmentState): boolean {
  switch (state) {
    case 'claimed':
      return true;
    case 'provisioning':
    case 'ready':
    case 'releasing':
    case 'failed':
    case 'deleted':
      return false;
    default:
      return assertNever(state, 'environment state');
  }
}

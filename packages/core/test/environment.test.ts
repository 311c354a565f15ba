import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConflictError,
  ENVIRONMENT_STATES,
  type EnvironmentEvent,
  type EnvironmentState,
  TRANSITIONS,
  transition,
} from '../src/index.js';

test('the lifecycle: provisioning -> ready -> claimed -> releasing -> deleted', () => {
  const events: EnvironmentEvent[] = ['provisioned', 'claim', 'release', 'delete'];
  const states: EnvironmentState[] = ['provisioning'];
  for (const event of events) states.push(transition(states.at(-1) ?? 'provisioning', event));
  assert.deepEqual(states, ['provisioning', 'ready', 'claimed', 'releasing', 'deleted']);
});

test('failed only before claimed, and a failed environment is deleted', () => {
  assert.equal(transition('provisioning', 'fail'), 'failed');
  assert.equal(transition('ready', 'fail'), 'failed');
  assert.equal(transition('failed', 'delete'), 'deleted');
  assert.throws(() => transition('claimed', 'fail'), ConflictError);
});

test('every other move is refused, naming state and event', () => {
  let refused = 0;
  for (const event of Object.keys(TRANSITIONS) as EnvironmentEvent[]) {
    for (const state of ENVIRONMENT_STATES) {
      if (TRANSITIONS[event][state] !== undefined) continue;
      assert.throws(() => transition(state, event), new RegExp(`an environment that is ${state} cannot ${event}`));
      refused++;
    }
  }
  assert.equal(refused, 5 * 6 - 9);
});

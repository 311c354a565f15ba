import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPodNetwork, DEFAULT_POD_CIDR } from '../src/virt/pod-network.js';

describe('the pod network: addresses the EndpointSlice API takes, mapped to loopback', () => {
  test('pods get addresses of the range, never its network, gateway or broadcast address', { timeout: 5_000 }, () => {
    // Given a /29 (8 addresses: .0 network, .1 gateway, .7 broadcast)
    const network = createPodNetwork('10.244.9.0/29');
    // When five pods attach
    const addresses = Array.from({ length: 5 }, (_, i) => network.attach(`127.70.0.${i + 1}`));
    // Then each gets one of .2-.6, in order, mapped to its guest
    assert.deepEqual(addresses, ['10.244.9.2', '10.244.9.3', '10.244.9.4', '10.244.9.5', '10.244.9.6']);
    assert.equal(network.exposureOf('10.244.9.4'), '127.70.0.3');
    assert.equal(network.exposureOf('10.244.9.1'), undefined, 'the gateway is nobody');
    // and a sixth finds the range full
    assert.throws(() => network.attach('127.70.0.9'), /no free address \(5 pods hold one\)/);
  });

  test('a released address maps to nothing and comes back only after the others', { timeout: 5_000 }, () => {
    const network = createPodNetwork('10.244.9.0/29');
    const first = network.attach('127.70.0.1');
    network.attach('127.70.0.2');
    // When the first pod goes
    network.release(first, '127.70.0.1');
    // Then its address leads nowhere, and is counted free
    assert.equal(network.exposureOf(first), undefined);
    assert.equal(network.inUse(), 1);
    // and the next pods get the addresses not used yet before it comes round again (host-local's order)
    assert.deepEqual(
      [network.attach('127.70.0.3'), network.attach('127.70.0.4'), network.attach('127.70.0.5')],
      ['10.244.9.4', '10.244.9.5', '10.244.9.6'],
    );
    assert.equal(network.attach('127.70.0.6'), first);
    // and releasing it again for the pod that had it leaves its new holder alone
    network.release(first, '127.70.0.1');
    assert.equal(network.exposureOf(first), '127.70.0.6');
  });

  test('the default range is the platform’s default host pod range, and exposures are loopback only', {
    timeout: 5_000,
  }, () => {
    assert.equal(DEFAULT_POD_CIDR, '10.244.0.0/16');
    const network = createPodNetwork();
    assert.equal(network.attach('127.70.0.1'), '10.244.0.2');
    assert.throws(() => network.attach('10.200.1.5'), /must be a loopback address/);
  });
});

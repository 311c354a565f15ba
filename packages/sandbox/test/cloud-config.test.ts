import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError } from '@breakfix/core';
import { parseGuestIdentity } from '../src/index.js';

describe('reading a guest identity from cloud-init user-data', () => {
  test('host keys, named users and the default user', () => {
    const identity = parseGuestIdentity(
      [
        '#cloud-config',
        'hostname: cp-1',
        'ssh_keys:',
        '  ed25519_private: |',
        '    -----BEGIN OPENSSH PRIVATE KEY-----',
        '    abc',
        '    -----END OPENSSH PRIVATE KEY-----',
        '  ed25519_public: ssh-ed25519 AAAA host',
        'ssh_authorized_keys: [ssh-ed25519 BBBB default]',
        'users:',
        '  - default',
        '  - name: breakfix',
        '    ssh_authorized_keys: [ssh-ed25519 CCCC operator]',
        '',
      ].join('\n'),
    );
    assert.equal(identity.hostname, 'cp-1');
    assert.equal(identity.hostKeys.length, 1);
    assert.equal(identity.hostKeys[0]?.type, 'ed25519');
    assert.equal(identity.hostKeys[0]?.publicKey, 'ssh-ed25519 AAAA host');
    assert.deepEqual(identity.users, [
      { name: 'ubuntu', authorizedKeys: ['ssh-ed25519 BBBB default'] },
      { name: 'breakfix', authorizedKeys: ['ssh-ed25519 CCCC operator'] },
    ]);
  });

  const rejected: [string, string, RegExp][] = [
    ['not cloud-config', '#!/bin/sh\necho hi\n', /not a #cloud-config document/],
    ['a root login', '#cloud-config\nusers:\n  - name: root\n', /names user "root"/],
    ['a name sshd would choke on', '#cloud-config\nusers:\n  - name: "a b"\n', /names user "a b"/],
  ];
  for (const [what, userData, message] of rejected) {
    test(`rejects ${what}`, () => {
      assert.throws(
        () => parseGuestIdentity(userData),
        (error: unknown) => {
          assert.ok(error instanceof InvalidInputError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});

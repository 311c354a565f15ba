import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IMAGE_PATHS, SSHD_DROP_IN } from '@breakfix/cloud-init';
import { waitFor } from '@breakfix/core';
import { createKube, type KubeObject } from '@breakfix/kube';
import { uniqueName, useSandbox } from '@breakfix/testkit';
import { cloudInitSecret, type KeyPair, keyPair, namespace, sshExec, userData, virtualMachine } from './fixtures.js';

interface Vmi extends KubeObject {
  status?: { phase?: string; interfaces?: { name?: string; ipAddress?: string }[] };
}

/**
 * A guest with breakfix's accounts as cloud-init makes them on a node: `operator` (key, sudo),
 * `learner` (sudo, no key at boot), `visitor` (key, no sudo rule), and breakfix's sshd drop-in.
 */
async function guest() {
  const kube = createKube({ kubeconfig: (await useSandbox()).info.kubeconfig });
  const ns = uniqueName('priv');
  const hostKey = keyPair('host');
  const operator = keyPair('operator');
  const visitor = keyPair('visitor');
  await kube.apply(namespace(ns));
  const data = userData({
    hostKey,
    hostname: 'cp',
    users: { operator: [operator.public], learner: [], visitor: [visitor.public] },
    withoutSudo: ['visitor'],
    files: [SSHD_DROP_IN],
  });
  await kube.apply(cloudInitSecret(ns, 'cp-cloud-init', data));
  await kube.apply(virtualMachine(ns, 'cp', { secret: 'cp-cloud-init' }));
  const vmi = await waitFor(
    async () => {
      const current = await kube.get<Vmi>({
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        namespace: ns,
        name: 'cp',
      });
      // As on KubeVirt the address comes in an update after Running.
      const address = current?.status?.interfaces?.find((i) => i.name === 'default')?.ipAddress;
      return current?.status?.phase === 'Running' && address ? current : undefined;
    },
    { what: `VMI ${ns}/cp Running with an address`, timeoutMs: 60_000 },
  );
  const host =
    vmi.status?.interfaces?.find((i) => i.name === 'default')?.ipAddress ?? assert.fail('the VMI reports an address');
  const as = (user: string, key: KeyPair, command: string) =>
    sshExec({ host, username: user, privateKey: key.private, hostKey: hostKey.public, command });
  return { as, operator, visitor };
}

describe('a simulated guest has real privilege', { timeout: 120_000 }, () => {
  test('sudo is uid 0 inside the guest, an unprivileged uid on the host, and only for users with a sudo rule', async () => {
    const { as, operator, visitor } = await guest();

    // When the operator runs commands through sudo, as breakfix does
    const result = await as(
      'operator',
      operator,
      'id -u; sudo -n id -u; sudo -n whoami; sudo -n sh -c "echo x > /etc/by-sudo"; stat -c "%u %U %a" /etc/by-sudo; sudo -n cat /proc/self/uid_map',
    );
    assert.equal(result.code, 0);
    const [own, uid, name, owner, map] = result.stdout.trim().split('\n');

    // Then they run as the guest's root, and what they write is root's in the guest
    assert.equal(own, '1000', 'the first cloud-init user is 1000, as on a Debian node');
    assert.equal(uid, '0');
    assert.equal(name, 'root');
    assert.equal(owner, '0 root 644');
    // and the kernel maps that root to an unprivileged host uid (a user namespace), never host root
    const [inside, outside, count] = (map ?? '').trim().split(/\s+/).map(Number);
    assert.equal(inside, 0);
    assert.ok((outside ?? 0) >= 2 ** 30, `guest root is host uid ${outside}`);
    assert.ok((count ?? 0) > 1000 && (count ?? 0) < 65536);

    // And a user cloud-init gave no sudo rule is refused, as sudo -n refuses on a node
    const refused = await as('visitor', visitor, 'sudo -n id -u; echo "exit $?"');
    assert.match(refused.stdout, /exit 1/);
    assert.doesNotMatch(refused.stdout, /^0$/m);
  });

  test('sshd reads the root-owned learner key through the drop-in’s AuthorizedKeysFile, with StrictModes on', async () => {
    const { as, operator } = await guest();
    const learner = keyPair('learner');
    const dir = IMAGE_PATHS.learnerKeysDir;
    const file = `${dir}/learner`;
    const sudo = async (command: string) => {
      const result = await as('operator', operator, `sudo -n sh -c '${command}'`);
      assert.equal(result.code, 0, `as root: ${command}`);
    };
    const learnerGetsIn = () =>
      as('learner', learner, 'id -un').then(
        (result) => result.stdout.trim() === 'learner',
        (error: Error) => {
          assert.match(error.message, /authentication methods failed/);
          return false;
        },
      );

    // Given the learner's key in the root-owned key directory, as a node has it after a claim
    assert.equal(await learnerGetsIn(), false, 'no key at boot');
    await sudo(`mkdir -m 755 ${dir} && echo "${learner.public}" > ${file} && chmod 644 ${file}`);
    const modes = await as(
      'operator',
      operator,
      `stat -c "%U %a" ${dir} ${file}; cat /home/learner/.ssh/authorized_keys 2>/dev/null | wc -c`,
    );
    assert.deepEqual(modes.stdout.trim().split('\n'), ['root 755', 'root 644', '0']);
    assert.equal(await learnerGetsIn(), true);

    // When anyone but root could have written the file or its directory, sshd refuses the key
    for (const [what, spoil, restore] of [
      ['file writable by all', `chmod 666 ${file}`, `chmod 644 ${file}`],
      ['file writable by its group', `chmod 664 ${file}`, `chmod 644 ${file}`],
      ['file owned by another user', `chown operator ${file}`, `chown root ${file}`],
      ['directory writable by its group', `chmod 775 ${dir}`, `chmod 755 ${dir}`],
      ['directory owned by another user', `chown operator ${dir}`, `chown root ${dir}`],
    ] as const) {
      await sudo(spoil);
      assert.equal(await learnerGetsIn(), false, `StrictModes refuses a ${what}`);
      await sudo(restore);
      assert.equal(await learnerGetsIn(), true, `and takes it again once it is root's (${what})`);
    }
  });
});

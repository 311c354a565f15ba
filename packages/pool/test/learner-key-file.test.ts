import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { createKube } from '@breakfix/kube';
import { IMAGE_PATHS, parseLabSpec } from '@breakfix/manifests';
import { closeRedisConnections, SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import { createLabAccess, EnvironmentStore, NodePortAllocator } from '../src/index.js';
import { deleteLabs, simulatedLabs } from './simulated-labs.js';

after(closeRedisConnections);
const run = promisify(execFile);

/**
 * OpenSSH as the learner, strict about the host key, the way the claim says to connect (the
 * control plane's NodePort): true when the key opens the node; false when sshd refuses it, or
 * the port does too when `closed` is allowed.
 */
async function learnerGetsIn(
  connection: { host: string; port: number; knownHosts: string },
  privateKey: string,
  closed = /Permission denied/,
): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'learner-'));
  writeFileSync(join(dir, 'key'), privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'known_hosts'), `${connection.knownHosts}\n`);
  const options = ['StrictHostKeyChecking=yes', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, 'BatchMode=yes'];
  // kube-proxy opens a NodePort a moment after the claim saw its endpoint (docs/adr/0031): as a
  // patient client does, a refused connect is tried again (one attempt a second)
  const args = [...options.flatMap((o) => ['-o', o]), '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=5'];
  args.push('-o', 'ConnectionAttempts=5');
  const target = ['-p', String(connection.port), `learner@${connection.host}`];
  try {
    const { stdout } = await run('ssh', ['-i', join(dir, 'key'), ...args, ...target, 'id -un'], { timeout: 15_000 });
    return stdout.trim() === 'learner';
  } catch (error) {
    assert.match((error as Error).message, closed);
    return false;
  }
}

test('the claim installs the learner key where a node’s sshd reads it: root-owned, through the drop-in, StrictModes on', {
  timeout: 240_000,
}, async () => {
  const { info, redis } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const prefix = `${uniqueName('keyfile')}:`;
  const store = new EnvironmentStore({ redis: redis(), prefix });
  const allocator = new NodePortAllocator({ redis: redis(), prefix, range: SHARED_NODE_PORTS });
  const { provisioner, platform, operatorKey, ssh } = simulatedLabs(kube, store);
  const access = createLabAccess({ kube, store, allocator, ssh, platform, operatorKey });
  const pool = uniqueName('p');
  try {
    // Given a ready lab, whose learner account has no key of its own (cloud-init gives it none)
    const id = uniqueName('e');
    assert.equal(await provisioner.provision({ id, pool, spec: parseLabSpec({ labId: id }) }), 'ready');

    // When a learner claims it with breakfix's claim code
    const { connection, environment } = await access.claim({ pool, learner: 'kim', scenario: 'demo', ttlMs: 60_000 });
    const learnerKey = connection.privateKey ?? assert.fail('a generated key');
    const cp = (await access.targets(environment)).nodes.cp ?? assert.fail('cp');
    const asRoot = async (command: string) => {
      const result = await ssh.exec(cp, command, { sudo: true, timeoutMs: 10_000 });
      assert.equal(result.code, 0, `${command}: ${result.stderr}`);
      return result.stdout;
    };

    // Then the key is in the root-owned key directory, as on a node, and nowhere in the learner's home
    const dir = IMAGE_PATHS.learnerKeysDir;
    const file = `${dir}/${connection.user}`;
    assert.deepEqual((await asRoot(`stat -c '%U:%G %a' ${dir} ${file}`)).trim().split('\n'), [
      'root:root 755',
      'root:root 644',
    ]);
    assert.equal((await asRoot(`cat /home/${connection.user}/.ssh/authorized_keys 2>/dev/null; true`)).trim(), '');
    assert.match(await asRoot(`cat ${IMAGE_PATHS.sshdDropIn}`), new RegExp(`^AuthorizedKeysFile .* ${dir}/%u$`, 'm'));
    assert.match(await asRoot('cat /etc/ssh/sshd_config'), /^StrictModes yes$/m);
    // and that key lets the learner in, through the lab's NodePort
    assert.equal(await learnerGetsIn(connection, learnerKey), true);

    // When the key file becomes writable by others, sshd refuses it (StrictModes), and takes it back once fixed
    await asRoot(`chmod 666 ${file}`);
    assert.equal(await learnerGetsIn(connection, learnerKey), false);
    await asRoot(`chmod 644 ${file}`);
    assert.equal(await learnerGetsIn(connection, learnerKey), true);

    // And the release takes the key away (and closes the port first: either refuses the learner)
    await access.release(environment.id);
    assert.equal(
      await learnerGetsIn(connection, learnerKey, /Permission denied|Connection refused|Connection reset/),
      false,
    );
    assert.equal(await asRoot(`test -e ${file} && echo present || echo gone`), 'gone\n');
  } finally {
    await deleteLabs(kube, store);
  }
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { createKube } from '@breakfix/kube';
import { parseLabSpec } from '@breakfix/manifests';
import { closeRedisConnections, SHARED_NODE_PORTS, uniqueName, useSandbox } from '@breakfix/testkit';
import { createLabAccess, EnvironmentStore, NodePortAllocator } from '../src/index.js';
import { deleteLabs, simulatedLabs } from './simulated-labs.js';

after(closeRedisConnections);
const run = promisify(execFile);

/**
 * OpenSSH as the learner, strict about the host key: to `host` (`[address]:port` for a NodePort),
 * the control plane through the lab's NodePort as the claim says, a worker at its address (where
 * the learner's `ssh w1` from the control plane lands; the sandbox cannot hop inside a guest).
 */
async function sshAs(user: string, host: string, hostKey: string, privateKey: string, command: string) {
  const dir = mkdtempSync(join(tmpdir(), 'learner-'));
  const [, address = host, port = '22'] = /^\[(.+)\]:(\d+)$/.exec(host) ?? [];
  writeFileSync(join(dir, 'key'), privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'known_hosts'), `${host} ${hostKey.split(/\s+/).slice(0, 2).join(' ')}\n`);
  const options = ['StrictHostKeyChecking=yes', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, 'BatchMode=yes'];
  // kube-proxy opens a NodePort a moment after the claim saw its endpoint (docs/adr/0031): as a
  // patient client does, a refused connect is tried again (one attempt a second)
  const args = [...options.flatMap((o) => ['-o', o]), '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=5'];
  args.push('-o', 'ConnectionAttempts=5');
  const { stdout } = await run('ssh', ['-i', join(dir, 'key'), ...args, '-p', port, `${user}@${address}`, command], {
    timeout: 15_000,
  });
  return stdout;
}

test('a claimed 1+1 lab: the learner gets in on every node, can hop from cp to w1, and loses both at release', async () => {
  const { info, redis } = await useSandbox();
  const kube = createKube({ kubeconfig: info.kubeconfig });
  const prefix = `${uniqueName('nodes')}:`;
  const store = new EnvironmentStore({ redis: redis(), prefix });
  const allocator = new NodePortAllocator({ redis: redis(), prefix, range: SHARED_NODE_PORTS });
  const { provisioner, platform, operatorKey, ssh } = simulatedLabs(kube, store);
  const access = createLabAccess({ kube, store, allocator, ssh, platform, operatorKey });
  const pool = uniqueName('p');
  try {
    // Given a ready lab with a control plane and one worker
    const id = uniqueName('e');
    const outcome = await provisioner.provision({ id, pool, spec: parseLabSpec({ labId: id, workers: 1 }) });
    assert.equal(outcome, 'ready');

    // When a learner without a registered key claims it
    const { connection, environment } = await access.claim({ pool, learner: 'lin', scenario: 'demo', ttlMs: 60_000 });
    const learnerKey = connection.privateKey ?? assert.fail('a generated key');
    const nodes = (await access.targets(environment)).nodes;
    const hostKeys = environment.hostKeys ?? {};
    assert.deepEqual(Object.keys(nodes).sort(), ['cp', 'w1']);

    // Then the learner's key opens every node: the control plane through its NodePort
    const cpAt = `[${connection.host}]:${connection.port}`;
    const at = (name: string) => (name === 'cp' ? cpAt : (nodes[name]?.host ?? ''));
    for (const name of Object.keys(nodes)) {
      assert.equal((await sshAs('learner', at(name), hostKeys[name] ?? '', learnerKey, 'id -un')).trim(), 'learner');
    }
    // and on the control plane the learner has the lab key, private to them, and every node pinned by name
    const home = await sshAs(
      'learner',
      cpAt,
      hostKeys.cp ?? '',
      learnerKey,
      'cd /home/learner/.ssh && stat -c %a . id_ed25519 && cat known_hosts && echo @@@ && cat id_ed25519',
    );
    const [modes, privateKey = ''] = home.split('@@@\n');

    const [dirMode, keyMode, ...knownHosts] = (modes ?? '').trim().split('\n');
    assert.deepEqual([dirMode, keyMode], ['700', '600']);
    const ns = environment.namespace;
    const w1Key = (hostKeys.w1 ?? '').split(/\s+/).slice(0, 2).join(' ');
    assert.ok(
      knownHosts.includes(`w1,w1.${ns},w1.${ns}.svc,w1.${ns}.svc.cluster.local ${w1Key}`),
      knownHosts.join('\n'),
    );
    // and that key is what `ssh w1` from the control plane uses: it logs in to w1 (its address
    // here; on KubeVirt the name resolves through w1's headless Service)
    const w1 = nodes.w1 ?? assert.fail('w1');
    assert.equal((await sshAs('learner', w1.host, hostKeys.w1 ?? '', privateKey, 'cat /etc/hostname')).trim(), 'w1');

    // When the learner releases, neither key opens any node (the control plane's port closes first;
    // a connection the NodePort accepted just before the Service went is reset, not refused)
    await access.release(environment.id);
    for (const name of Object.keys(nodes)) {
      const refused = name === 'cp' ? /Permission denied|Connection refused|Connection reset/ : /Permission denied/;
      await assert.rejects(sshAs('learner', at(name), hostKeys[name] ?? '', learnerKey, 'true'), refused);
      await assert.rejects(sshAs('learner', at(name), hostKeys[name] ?? '', privateKey, 'true'), refused);
    }
  } finally {
    await deleteLabs(kube, store);
  }
});

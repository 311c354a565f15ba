import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import ssh2 from 'ssh2';
import { caCertHash, createLabSecrets, defaultSources, generateEd25519, type SecretSources } from '../src/index.js';

describe('lab secrets', () => {
  test('a CA kubeadm can reuse: self-signed, CA:TRUE, key matches, ten years', async () => {
    const secrets = await createLabSecrets({ labId: 'alpha', nodes: ['cp'] });
    const cert = new X509Certificate(secrets.ca.certPem);
    assert.equal(cert.ca, true);
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.ok(cert.checkPrivateKey(createPrivateKey(secrets.ca.keyPem)), 'the key belongs to the certificate');
    assert.match(cert.subject, /CN=kubernetes/);
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365.25 * 24 * 3600 * 1000);
    assert.ok(years > 9.9 && years < 10.1, `${years} years`);
    assert.match(secrets.ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  });

  test('the CA hash is sha256 over the DER SubjectPublicKeyInfo, as kubeadm computes it', async () => {
    const { ca, caCertHash: hash } = await createLabSecrets({ labId: 'alpha', nodes: [] });
    const spki = createPublicKey(ca.certPem).export({ type: 'spki', format: 'der' });
    assert.equal(hash, `sha256:${createHash('sha256').update(spki).digest('hex')}`);
    assert.equal(caCertHash(ca.certPem), hash);
  });

  test("bootstrap tokens have kubeadm's shape and come from the injected randomness", async () => {
    const { bootstrapToken } = await createLabSecrets({ labId: 'alpha', nodes: [] });
    assert.match(bootstrapToken, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);

    let counter = 0;
    const fixed: SecretSources = {
      ...defaultSources,
      // 0..35 map to the alphabet; 252..255 must be rejected, never biasing the first characters.
      randomBytes: (size) => Uint8Array.from({ length: size }, () => [255, 0, 1, 35][counter++ % 4] ?? 0),
    };
    const pinned = await createLabSecrets({ labId: 'alpha', nodes: [] }, fixed);
    assert.match(pinned.bootstrapToken, /^[ab9]{6}\.[ab9]{16}$/);
  });

  test('one distinct ed25519 host key per node, named for node and lab', async () => {
    const { hostKeys } = await createLabSecrets({ labId: 'alpha', nodes: ['cp', 'worker-1', 'worker-2'] });
    assert.deepEqual(Object.keys(hostKeys), ['cp', 'worker-1', 'worker-2']);
    const publics = Object.values(hostKeys).map((k) => k.publicKey);
    assert.equal(new Set(publics).size, 3);
    assert.match(hostKeys.cp?.publicKey ?? '', /^ssh-ed25519 \S+ cp\.alpha$/);
    assert.match(hostKeys.cp?.privateKey ?? '', /^-----BEGIN OPENSSH PRIVATE KEY-----/);
  });

  test('every generated ed25519 key parses (ssh2 alone drops a leading zero byte about once in 400)', () => {
    for (let i = 0; i < 2000; i++) {
      const pair = generateEd25519('t');
      const parsed = ssh2.utils.parseKey(pair.privateKey);
      assert.ok(!(parsed instanceof Error), `key ${i}: ${parsed instanceof Error ? parsed.message : ''}`);
    }
  });
});

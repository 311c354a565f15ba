import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parsePublicKey } from '@breakfix/ssh';
import { PUBLIC_KEY_LINE } from '../src/public-key-pattern.js';

// The OpenAPI document declares PUBLIC_KEY_LINE as the pattern of a public key: every line it
// accepts must be a key the server takes (parsePublicKey), and the keys people make must match.

const dir = mkdtempSync(join(tmpdir(), 'breakfix-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let made = 0;
/** A key pair made by OpenSSH's own ssh-keygen; its .pub line (the private half is next to it, at `file`). */
function keygen(type: string, bits?: number): string {
  const file = join(dir, `key-${++made}`);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(bits ? ['-b', String(bits)] : []),
    '-N',
    '',
    '-C',
    'ada@laptop',
    '-f',
    file,
  ]);
  return readFileSync(`${file}.pub`, 'utf8');
}

test('the keys ssh-keygen makes match the pattern and parse; other RSA sizes do not match', { timeout: 60_000 }, () => {
  const cases: [type: string, bits: number | undefined, accepted: boolean][] = [
    ['ed25519', undefined, true],
    ['ecdsa', 256, true],
    ['ecdsa', 384, true],
    ['ecdsa', 521, true],
    ['rsa', 2048, true],
    ['rsa', 3072, true],
    ['rsa', 4096, true],
    ['rsa', 2560, false],
    ['rsa', 1024, false],
  ];
  for (const [type, bits, accepted] of cases) {
    const line = keygen(type, bits);
    const [kind = '', data = ''] = line.split(' ');
    // As the .pub file holds it (comment, trailing newline), and bare
    for (const form of [line, `${kind} ${data}`, `  ${kind}\t${data} a comment with spaces\r\n`]) {
      assert.equal(PUBLIC_KEY_LINE.test(form), accepted, `${type} ${bits ?? ''}: ${JSON.stringify(form)}`);
      if (accepted) assert.equal(parsePublicKey(form).type, kind);
    }
  }
});

test('any key material in a matching line parses: the pattern promises no more than the server keeps', () => {
  const field = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
  for (let i = 0; i < 50; i++) {
    const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(randomBytes(32))]).toString('base64');
    const line = `ssh-ed25519 ${blob}`;
    assert.ok(PUBLIC_KEY_LINE.test(line), line);
    assert.equal(parsePublicKey(line).type, 'ssh-ed25519');
  }
});

test('what is not one public key line does not match', () => {
  const ed = keygen('ed25519').trim();
  const [kind = '', data = ''] = ed.split(' ');
  for (const bad of [
    '',
    kind,
    `${kind} AAAA`,
    `${kind} ${data}=`,
    `${kind} ${data.slice(0, -1)}`,
    `ssh-dss ${data}`,
    `${ed}\n${ed}`,
    `command="x" ${ed}`,
    readFileSync(join(dir, `key-${made}`), 'utf8'),
  ]) {
    assert.equal(PUBLIC_KEY_LINE.test(bad), false, JSON.stringify(bad));
  }
});

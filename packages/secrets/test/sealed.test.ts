import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deriveSealingKey, openSecret, sealSecret } from '../src/index.js';

describe('sealed secrets', () => {
  const key = deriveSealingKey('root material', 'terminal-key');

  test('what is sealed opens with the same key and context, and never shows the plaintext', () => {
    const box = sealSecret(key, 'private key', 'lab-1');
    assert.doesNotMatch(box, /private/);
    assert.equal(openSecret(key, box, 'lab-1'), 'private key');
    assert.notEqual(sealSecret(key, 'private key', 'lab-1'), box, 'a fresh IV each time');
  });

  test('another key, another context or an altered box is refused', () => {
    const box = sealSecret(key, 'private key', 'lab-1');
    assert.throws(() => openSecret(deriveSealingKey('root material', 'other'), box, 'lab-1'));
    assert.throws(() => openSecret(key, box, 'lab-2'));
    const [v, iv, tag, body] = box.split('.');
    const flipped = Buffer.from(body ?? '', 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    assert.throws(() => openSecret(key, [v, iv, tag, flipped.toString('base64url')].join('.'), 'lab-1'));
    assert.throws(() => openSecret(key, 'plain text', 'lab-1'), /not a sealed secret/);
  });
});

// The exact shape of the OpenSSH public key lines the API accepts, as one regular expression, so
// the OpenAPI document can declare it and a client (or a fuzzer) can tell an acceptable key from
// the document alone. A key's base64 is the SSH wire format (RFC 4253 §6.6, RFC 5656 §3.1,
// RFC 8709 §4): length-prefixed fields, most of them fixed for a key type and size, so the base64
// characters are fixed where the bytes are and free where the key material is.

/** One byte of a key blob: the bits set in `mask` must equal those of `value`; the rest are free. */
interface BytePattern {
  value: number;
  mask: number;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const fixed = (bytes: Uint8Array): BytePattern[] => [...bytes].map((value) => ({ value, mask: 0xff }));
const free = (count: number): BytePattern[] => Array.from({ length: count }, () => ({ value: 0, mask: 0 }));
const uint32 = (n: number) => fixed(new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]));
const string = (text: string) => [...uint32(text.length), ...fixed(new TextEncoder().encode(text))];

/** The base64 characters one 6-bit position may take, as a regex atom. */
function characterClass(value: number, mask: number): string {
  const allowed = [...ALPHABET].filter((_, bits) => (bits & mask) === (value & mask));
  if (allowed.length === 64) return '[A-Za-z0-9+/]';
  if (allowed.length === 1) return allowed[0] === '+' ? '\\+' : (allowed[0] ?? '');
  return `[${allowed.join('')}]`;
}

/** A regex (source) matching exactly the canonical base64 of the blobs `bytes` describes. */
export function base64Pattern(bytes: readonly BytePattern[]): string {
  const atoms: string[] = [];
  for (let i = 0; i < bytes.length; i += 3) {
    const group = bytes.slice(i, i + 3);
    // 24 bits of value and mask; bits past the data are fixed to zero (canonical padding bits).
    let value = 0;
    let mask = 0;
    for (let j = 0; j < 3; j++) {
      value = (value << 8) | (group[j]?.value ?? 0);
      mask = (mask << 8) | (group[j] === undefined ? 0xff : (group[j]?.mask ?? 0));
    }
    const chars = group.length + 1;
    for (let k = 0; k < 4; k++) {
      const shift = 18 - 6 * k;
      atoms.push(k < chars ? characterClass((value >> shift) & 63, (mask >> shift) & 63) : '=');
    }
  }
  // Runs of the same atom become atom{n}: the free key material is one long run.
  let source = '';
  for (let i = 0; i < atoms.length; ) {
    let j = i;
    while (atoms[j] === atoms[i]) j++;
    source += j - i > 1 ? `${atoms[i]}{${j - i}}` : atoms[i];
    i = j;
  }
  return source;
}

const ED25519 = [...string('ssh-ed25519'), ...uint32(32), ...free(32)];
/** Q is an uncompressed point: 0x04, then x and y (RFC 5656 §3.1, SEC1 §2.3.3). */
const ecdsa = (curve: 'nistp256' | 'nistp384' | 'nistp521', pointBytes: number) => [
  ...string(`ecdsa-sha2-${curve}`),
  ...string(curve),
  ...uint32(pointBytes),
  ...fixed(new Uint8Array([4])),
  ...free(pointBytes - 1),
];
/** e = 65537, n of exactly `bits` bits: an mpint with a leading zero byte, then a byte with its top bit set. */
const rsa = (bits: 2048 | 3072 | 4096) => [
  ...string('ssh-rsa'),
  ...uint32(3),
  ...fixed(new Uint8Array([1, 0, 1])),
  ...uint32(bits / 8 + 1),
  ...fixed(new Uint8Array([0])),
  { value: 0x80, mask: 0x80 },
  ...free(bits / 8 - 1),
];

/** What the pattern accepts, in words (the OpenAPI description and the error say it). */
export const PUBLIC_KEY_KINDS =
  'ssh-ed25519, ecdsa-sha2-nistp256/384/521, or ssh-rsa of 2048, 3072 or 4096 bits with exponent 65537 (what ssh-keygen makes)';

/**
 * One public key line: optional surrounding blanks, the type, blanks, the key data, an optional
 * comment after a blank. Explicit character classes, not `\s`, so the pattern means the same in
 * ECMAScript and in the other regex dialects that read the OpenAPI document.
 */
export const PUBLIC_KEY_LINE = new RegExp(
  `^[ \\t\\r\\n]*(?:${[
    ['ssh-ed25519', ED25519],
    ['ecdsa-sha2-nistp256', ecdsa('nistp256', 65)],
    ['ecdsa-sha2-nistp384', ecdsa('nistp384', 97)],
    ['ecdsa-sha2-nistp521', ecdsa('nistp521', 133)],
    ['ssh-rsa', rsa(2048)],
    ['ssh-rsa', rsa(3072)],
    ['ssh-rsa', rsa(4096)],
  ]
    .map(([type, blob]) => `${type as string}[ \\t]+${base64Pattern(blob as BytePattern[])}`)
    .join('|')})(?:[ \\t][^\\n]*)?[ \\t\\r\\n]*$`,
);

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Firmware } from '@breakfix/qemu';
import { firmwareOf, type VmiSpec } from '../src/virt/qemu-guests.js';

test('a real guest gets the firmware KubeVirt would give its VMI', () => {
  const cases: [string, VmiSpec['domain'], Firmware][] = [
    ['no firmware: SeaBIOS, KubeVirt’s default', {}, 'bios'],
    ['bootloader bios', { firmware: { bootloader: { bios: {} } } }, 'bios'],
    ['efi, Secure Boot off (what labs render)', { firmware: { bootloader: { efi: { secureBoot: false } } } }, 'efi'],
    ['efi alone: Secure Boot is on by default', { firmware: { bootloader: { efi: {} } } }, 'efi-secure-boot'],
    ['efi, Secure Boot on', { firmware: { bootloader: { efi: { secureBoot: true } } } }, 'efi-secure-boot'],
  ];
  for (const [what, domain, expected] of cases) assert.equal(firmwareOf({ domain }), expected, what);
});

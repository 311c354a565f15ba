import { InvalidInputError } from '@breakfix/core';

export interface Ipv4Range {
  cidr: string;
  first: number;
  last: number;
}

/** Parses `10.243.0.0/16`; the address must be the network's first (no host bits set). */
export function parseCidr(cidr: string, field: string): Ipv4Range {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const prefix = Number(match?.[5]);
  if (match === null || octets.some((o) => o > 255) || prefix > 32) {
    throw new InvalidInputError(`${field}: "${cidr}" is not an IPv4 CIDR such as 10.243.0.0/16`);
  }
  const address = octets.reduce((acc, octet) => acc * 256 + octet, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) {
    throw new InvalidInputError(
      `${field}: "${cidr}" has host bits set; did you mean ${format(address - (address % size))}/${prefix}?`,
    );
  }
  return { cidr, first: address, last: address + size - 1 };
}

export function overlaps(a: Ipv4Range, b: Ipv4Range): boolean {
  return a.first <= b.last && b.first <= a.last;
}

function format(address: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
}

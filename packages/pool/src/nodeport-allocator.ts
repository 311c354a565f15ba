import { createHash, randomInt } from 'node:crypto';
import { BreakfixError, InvalidInputError } from '@breakfix/core';
import type { Redis } from 'ioredis';
import { ADOPT, ALLOCATE, BLOCK, RELEASE, RENEW } from './nodeport-scripts.js';

/** No port of the range is free. */
export class NodePortsExhaustedError extends BreakfixError {
  constructor(range: NodePortRange) {
    super('pool_exhausted', `every NodePort in ${range.first}-${range.last} is leased or taken`, {
      hint: "release labs, widen nodePorts.range (within the apiserver's --service-node-port-range), or wait for leases to expire",
    });
  }
}

export interface NodePortRange {
  first: number;
  last: number;
}

export interface NodePortAllocatorOptions {
  redis: Redis;
  /** Ports breakfix may hand out; a subset of the apiserver's --service-node-port-range. */
  range: NodePortRange;
  /** Key prefix, so several installations (or tests) share one Redis. Default `breakfix:`. */
  prefix?: string;
  /** A lease not renewed within this time is free again. Default 10 minutes. */
  leaseMs?: number;
  now?: () => number;
}

export interface Lease {
  labId: string;
  port: number;
  expiresAt: number;
  allocatedAt: number;
}

/**
 * Hands out NodePorts to claimed labs with leases, atomically in Redis: a lab holds at most one
 * port, two labs never hold the same one, and a holder that dies stops renewing, so its port
 * comes back when the lease runs out. Ports taken outside breakfix are blocked (see reconcile).
 */
export class NodePortAllocator {
  readonly range: NodePortRange;
  readonly leaseMs: number;
  readonly #redis: Redis;
  readonly #keys: string[];
  readonly #now: () => number;

  constructor(options: NodePortAllocatorOptions) {
    const { first, last } = options.range;
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last > 65535 || first > last) {
      throw new InvalidInputError(`nodePorts.range ${first}-${last} is not a port range (1-65535, first <= last)`);
    }
    this.range = { first, last };
    this.leaseMs = options.leaseMs ?? 10 * 60_000;
    this.#redis = options.redis;
    this.#now = options.now ?? Date.now;
    const prefix = `${options.prefix ?? 'breakfix:'}nodeports:`;
    this.#keys = ['leases', 'owners', 'by-lab', 'blocked', 'since'].map((k) => prefix + k);
  }

  /** The lab's port (the same one if it already holds one), leased for `leaseMs`. */
  async allocate(labId: string): Promise<number> {
    const offset = randomInt(this.range.last - this.range.first + 1);
    const port = await this.#run(ALLOCATE, [
      labId,
      this.#now(),
      this.leaseMs,
      this.range.first,
      this.range.last,
      offset,
    ]);
    if (port < 0) throw new NodePortsExhaustedError(this.range);
    return port;
  }

  /** Extends the lab's lease; undefined if it holds no port (expired or released). */
  async renew(labId: string): Promise<number | undefined> {
    const port = await this.#run(RENEW, [labId, this.#now(), this.leaseMs]);
    return port < 0 ? undefined : port;
  }

  /** Frees the lab's port; undefined if it held none. Safe to call twice. */
  async release(labId: string): Promise<number | undefined> {
    const port = await this.#run(RELEASE, [labId]);
    return port < 0 ? undefined : port;
  }

  /** Records that the lab's Service holds `port` in the cluster (reconcile adopts what exists). */
  async adopt(labId: string, port: number): Promise<void> {
    await this.#run(ADOPT, [labId, port, this.#now(), this.leaseMs]);
  }

  /** Marks a port as taken outside breakfix until `untilMs`: allocate skips it. */
  async block(port: number, untilMs: number): Promise<void> {
    await this.#run(BLOCK, [port, untilMs]);
  }

  /** Current leases, including expired ones not yet purged. */
  async leases(): Promise<Lease[]> {
    const [leasesKey, ownersKey, , , sinceKey] = this.#keys as [string, string, string, string, string];
    const [scores, owners, since] = await Promise.all([
      this.#redis.zrange(leasesKey, 0, -1, 'WITHSCORES'),
      this.#redis.hgetall(ownersKey),
      this.#redis.hgetall(sinceKey),
    ]);
    const leases: Lease[] = [];
    for (let i = 0; i < scores.length; i += 2) {
      const port = scores[i] ?? '';
      leases.push({
        port: Number(port),
        expiresAt: Number(scores[i + 1]),
        labId: owners[port] ?? '',
        allocatedAt: Number(since[port] ?? 0),
      });
    }
    return leases;
  }

  /** Ports currently blocked as taken outside breakfix. */
  async blocked(): Promise<number[]> {
    const key = this.#keys[3] as string;
    return (await this.#redis.zrangebyscore(key, this.#now(), '+inf')).map(Number);
  }

  /** EVALSHA with the script's digest; the first call on a fresh Redis loads it with EVAL. */
  async #run(script: string, args: (string | number)[]): Promise<number> {
    const sha = sha1(script);
    try {
      return Number(await this.#redis.evalsha(sha, this.#keys.length, ...this.#keys, ...args));
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return Number(await this.#redis.eval(script, this.#keys.length, ...this.#keys, ...args));
    }
  }
}

const digests = new Map<string, string>();
function sha1(script: string): string {
  let digest = digests.get(script);
  if (digest === undefined) {
    digest = createHash('sha1').update(script).digest('hex');
    digests.set(script, digest);
  }
  return digest;
}

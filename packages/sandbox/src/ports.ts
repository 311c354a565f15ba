import { createServer } from 'node:net';

/** Asks the kernel for a free TCP port on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port the kernel assigned'));
      });
    });
  });
}

/** Port of the socket that marks a loopback /16 as taken by one sandbox. */
const PREFIX_LOCK_PORT = 47_999;

export interface AddressPrefix {
  /** `127.P`: guests get `127.P.c.d` (d never 0 or 255). */
  prefix: string;
  release(): Promise<void>;
}

/**
 * Takes a loopback /16 no other sandbox on this host uses, for the simulated guests' addresses.
 * The claim is a listening socket on `127.P.0.0`, an address no guest gets: the kernel makes two
 * sandboxes that pick the same P fail the bind, and frees the claim when the process dies, even
 * by SIGKILL (a lock file would outlive it).
 */
export async function claimAddressPrefix(random: () => number = Math.random): Promise<AddressPrefix> {
  const candidates = Array.from({ length: 128 }, (_, i) => 64 + i);
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j] as number, candidates[i] as number];
  }
  for (const octet of candidates) {
    const server = createServer();
    server.unref();
    const taken = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') resolve(false);
        else reject(error);
      });
      server.listen(PREFIX_LOCK_PORT, `127.${octet}.0.0`, () => resolve(true));
    });
    if (taken) {
      return {
        prefix: `127.${octet}`,
        release: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
    }
  }
  throw new Error(
    `every loopback prefix 127.64–127.191 is held by another sandbox on this host (port ${PREFIX_LOCK_PORT}); stop one`,
  );
}

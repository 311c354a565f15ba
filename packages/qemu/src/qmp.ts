import { connect } from 'node:net';
import { DeadlineExceededError, UpstreamError } from '@breakfix/core';

/**
 * Asks QEMU's QMP socket for the run state. QMP answers commands only from the main loop, i.e. once
 * the machine is built: the tap opened, the disks and the kernel loaded. An answer proves QEMU started.
 */
export function queryStatus(socketPath: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DeadlineExceededError(`QMP at ${socketPath} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (error: Error | undefined, status?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(status ?? 'unknown');
    };
    socket.on('error', (error) =>
      finish(new UpstreamError(`QMP at ${socketPath}: ${error.message}`, { cause: error })),
    );
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        if (line === '') continue;
        const message = JSON.parse(line) as { QMP?: unknown; return?: { status?: string }; error?: { desc?: string } };
        if (message.QMP) {
          socket.write('{"execute":"qmp_capabilities"}\n{"execute":"query-status","id":"status"}\n');
        } else if (message.error) {
          finish(new UpstreamError(`QMP: ${message.error.desc ?? 'error'}`));
        } else if (message.return && 'status' in message.return) {
          finish(undefined, message.return.status);
        }
      }
    });
  });
}

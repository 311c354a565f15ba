import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@breakfix/core';
import { type WebSocket, WebSocketServer } from 'ws';

export interface Ack {
  envelope_id: string;
  payload?: Record<string, unknown>;
  /** ms between sending the envelope and receiving its ack. */
  afterMs: number;
}

/**
 * A local stand-in for Slack's Socket Mode server (https://api.slack.com/apis/socket-mode): the
 * app connects to the ws:// URL apps.connections.open handed out, gets `hello`, then envelopes
 * `{envelope_id, type, payload, accepts_response_payload}` it must ack with `{envelope_id, payload?}`.
 */
export async function startSocketModeServer() {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const acks: Ack[] = [];
  const sent = new Map<string, number>();
  let socket: WebSocket | undefined;
  let connections = 0;
  server.on('connection', (ws) => {
    connections += 1;
    socket = ws;
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { envelope_id?: string; payload?: Record<string, unknown> };
      if (message.envelope_id === undefined) return;
      const at = sent.get(message.envelope_id);
      acks.push({
        envelope_id: message.envelope_id,
        ...(message.payload === undefined ? {} : { payload: message.payload }),
        afterMs: at === undefined ? Number.NaN : performance.now() - at,
      });
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: connections,
        debug_info: { host: 'applink-test', approximate_connection_time: 18060 },
        connection_info: { app_id: 'A1' },
      }),
    );
  });
  return {
    url: () => `ws://127.0.0.1:${port}/link/?ticket=${randomUUID()}&app_id=A1`,
    get connections() {
      return connections;
    },
    acks,
    /** Sends one envelope to the connected app and returns its id. */
    send(type: string, payload: Record<string, unknown>): string {
      if (socket === undefined) throw new Error('no app is connected to the Socket Mode server');
      const id = randomUUID();
      sent.set(id, performance.now());
      socket.send(JSON.stringify({ envelope_id: id, type, payload, accepts_response_payload: type !== 'events_api' }));
      return id;
    },
    async waitForAck(id: string, timeoutMs = 3_000): Promise<Ack> {
      return await waitFor(async () => acks.find((a) => a.envelope_id === id), {
        what: `the ack of envelope ${id}`,
        timeoutMs,
        intervalMs: 10,
      });
    },
    async close(): Promise<void> {
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

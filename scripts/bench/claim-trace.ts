import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ClaimStep, ClaimStepEvent } from '@breakfix/pool';
import type { SshConnectEvent } from '@breakfix/ssh';
import { type Figure, latency, value } from './stats.js';

/** How often the event loop is asked to run a timer while claims run; its lateness is the delay. */
const LOOP_PROBE_MS = 10;

/** The machine's CPU time so far, busy and total, in clock ticks (Linux /proc/stat; undefined elsewhere). */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const total = fields.reduce((sum, n) => sum + n, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Linux's USER_HZ: /proc's CPU times are in these ticks (100 on every mainstream architecture). */
const TICKS_PER_SECOND = 100;

/**
 * CPU ticks so far of this process and every process below it, by pid with its command: the sandbox's
 * apiserver, etcd, Redis and each lab's sshd are children of the benchmark, and the commands an
 * SSH session ran are counted in their sshd once it reaped them (cutime/cstime). Other work on
 * the machine is left out. Undefined where there is no /proc.
 */
function treeTicks(): Map<number, { command: string; ticks: number }> | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const stats = new Map<number, { parent: number; command: string; ticks: number }>();
  for (const entry of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone since the listing
    }
    // pid (comm) state ppid … utime(14) stime(15) cutime(16) cstime(17): comm may hold spaces.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    stats.set(Number(entry), {
      parent: Number(fields[1]),
      command: stat.slice(stat.indexOf('(') + 1, close),
      ticks,
    });
  }
  const inTree = (pid: number): boolean => {
    for (let at = pid, hops = 0; at > 1 && hops < 64; hops++) {
      if (at === process.pid) return true;
      at = stats.get(at)?.parent ?? 0;
    }
    return false;
  };
  return new Map(
    [...stats].filter(([pid]) => inTree(pid)).map(([pid, { command, ticks }]) => [pid, { command, ticks }]),
  );
}

/**
 * Waits until the processes below this one (the sandbox's apiserver, etcd, controller manager,
 * Redis, the labs' sshds) are quiet: under `cores` of CPU for three half-second samples in a row.
 * A pool warmed a moment ago still has the controller manager catching up on its 50 new labs
 * (quotas, the labs' own Services), which a pool that has been ready for a while does not.
 * Resolves false when the deadline passes first.
 */
export async function untilQuiet(options: { cores?: number; timeoutMs?: number } = {}): Promise<boolean> {
  const cores = options.cores ?? 0.15;
  const deadline = performance.now() + (options.timeoutMs ?? 60_000);
  const others = () => {
    const tree = treeTicks();
    if (tree === undefined) return undefined;
    let sum = 0;
    for (const [pid, { ticks }] of tree) if (pid !== process.pid) sum += ticks;
    return sum;
  };
  const first = others();
  if (first === undefined) return true;
  let last: number = first;
  let quietSamples = 0;
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now: number = others() ?? last;
    // Exited processes take their ticks along: a drop counts as quiet, not as negative load.
    const used = Math.max(0, now - last) / TICKS_PER_SECOND / 0.5;
    last = now;
    quietSamples = used < cores ? quietSamples + 1 : 0;
    if (quietSamples >= 3) return true;
  }
  return false;
}

/** The steps in the order a claim runs them (claim-trace.ts in packages/pool says what each is). */
const STEPS: readonly ClaimStep[] = [
  'redis_claim',
  'vmi_lookup',
  'keys_generate',
  'nodeport_lease',
  'service_apply',
  'endpoint_ready',
  'key_install',
  'lab_key',
  'prepare',
  'connection_address',
  'record',
  'release_after_failure',
  'total',
];

/**
 * Collects a claim path's trace (LabAccessOptions.trace) and its SSH runner's handshakes
 * (SshRunnerOptions.onConnect) while `recording`, and turns them into one figure per step. While
 * recording it also watches this process: CPU time and event-loop delay, since every step's
 * time includes waiting for the one thread that runs them all.
 */
export function createTraceCollector(users: { operator: string; learner: string }) {
  let recording = false;
  const steps: ClaimStepEvent[] = [];
  const handshakes: SshConnectEvent[] = [];
  const loopDelays: number[] = [];
  let probe: NodeJS.Timeout | undefined;
  let since:
    | {
        cpu: NodeJS.CpuUsage;
        wall: number;
        machine?: { busy: number; total: number };
        tree?: Map<number, { command: string; ticks: number }>;
      }
    | undefined;
  /** CPU ticks while recording, by command, of this process's tree. */
  const treeBusy = new Map<string, number>();
  const watchLoop = (due: number) => {
    probe = setTimeout(() => {
      const now = performance.now();
      loopDelays.push(now - due);
      watchLoop(now + LOOP_PROBE_MS);
    }, LOOP_PROBE_MS).unref();
  };
  const busy = { cpuMs: 0, wallMs: 0, windows: 0, machineBusy: 0, machineTotal: 0 };
  return {
    record(on: boolean): void {
      if (on === recording) return;
      recording = on;
      if (on) {
        watchLoop(performance.now() + LOOP_PROBE_MS);
        const machine = machineTicks();
        const tree = treeTicks();
        since = {
          cpu: process.cpuUsage(),
          wall: performance.now(),
          ...(machine === undefined ? {} : { machine }),
          ...(tree === undefined ? {} : { tree }),
        };
      } else if (since !== undefined) {
        clearTimeout(probe);
        const cpu = process.cpuUsage(since.cpu);
        busy.cpuMs += (cpu.user + cpu.system) / 1000;
        busy.wallMs += performance.now() - since.wall;
        busy.windows++;
        const machine = machineTicks();
        if (machine !== undefined && since.machine !== undefined) {
          busy.machineBusy += machine.busy - since.machine.busy;
          busy.machineTotal += machine.total - since.machine.total;
        }
        const tree = treeTicks();
        if (tree !== undefined && since.tree !== undefined) {
          // Per process, then by command: a process that exited in the window took its ticks
          // along unless its parent reaped it (then they are in the parent's cutime/cstime).
          for (const [pid, { command, ticks }] of tree) {
            const delta = ticks - (since.tree.get(pid)?.ticks ?? 0);
            if (delta > 0) treeBusy.set(command, (treeBusy.get(command) ?? 0) + delta);
          }
        }
      }
    },
    step(event: ClaimStepEvent): void {
      if (recording) steps.push(event);
    },
    handshake(event: SshConnectEvent): void {
      if (recording) handshakes.push(event);
    },
    /** The total of each claim, by learner (to set against what the caller measured). */
    totals(): Map<string, { startedAt: number; ms: number }> {
      return new Map(
        steps.filter((e) => e.step === 'total').map((e) => [e.learner, { startedAt: e.startedAt, ms: e.ms }]),
      );
    },

    /**
     * Per step: p50/p90/p99/max over every time a claim ran it (`key_install` once per node). Then
     * `unaccounted`: each claim's total minus the time its steps cover (steps that run side by
     * side, like the Service apply and the break, or the per-node key installs, count once),
     * which is time spent between steps.
     * Then the SSH handshakes the claims opened, by account, and how many a claim needed.
     */
    *figures(prefix: string): Generator<Figure> {
      for (const step of STEPS) {
        const events = steps.filter((e) => e.step === step);
        if (events.length === 0) continue;
        yield latency(
          `${prefix}.step.${step}`,
          events.map((e) => e.ms),
          { failures: events.filter((e) => !e.ok).length, digits: 2 },
        );
      }
      const byClaim = new Map<string, ClaimStepEvent[]>();
      for (const event of steps) byClaim.set(event.learner, [...(byClaim.get(event.learner) ?? []), event]);
      const gaps: number[] = [];
      for (const events of byClaim.values()) {
        const total = events.find((e) => e.step === 'total');
        if (total === undefined) continue;
        // The time covered by at least one step: steps that run side by side count once.
        const spans = events
          .filter((e) => e.step !== 'total')
          .map((e) => [e.startedAt, e.startedAt + e.ms] as const)
          .sort((x, y) => x[0] - y[0]);
        let covered = 0;
        let reach = Number.NEGATIVE_INFINITY;
        for (const [start, end] of spans) {
          if (end <= reach) continue;
          covered += end - Math.max(start, reach);
          reach = end;
        }
        gaps.push(total.ms - covered);
      }
      if (gaps.length > 0) yield latency(`${prefix}.step.unaccounted (total minus its steps)`, gaps, { digits: 2 });

      const claims = byClaim.size;
      if (busy.windows > 0 && claims > 0) {
        yield value(
          `${prefix}.process.cpu_per_claim (this process: claim path, HTTP, client, simulator)`,
          busy.cpuMs / claims,
          'ms',
          {
            n: claims,
            digits: 2,
          },
        );
        yield value(
          `${prefix}.process.cpu_busy (CPU time over wall time while claims ran; 1 = one core's worth)`,
          busy.cpuMs / busy.wallMs,
          'cores',
          {
            n: busy.windows,
            digits: 2,
          },
        );
      }
      if (busy.machineTotal > 0 && claims > 0) {
        const cores = (busy.machineBusy / busy.machineTotal) * cpus().length;
        yield value(
          `${prefix}.machine.cpu_busy (all processes, while claims ran; of ${cpus().length} cores)`,
          cores,
          'cores',
          { n: busy.windows, digits: 2 },
        );
        // The sandbox runs every lab's sshd, the apiserver, etcd and Redis on this machine too.
        yield value(
          `${prefix}.machine.cpu_per_claim (all processes: sshd, apiserver, etcd, Redis, this one)`,
          (cores * busy.wallMs) / claims,
          'ms',
          { n: claims, digits: 1 },
        );
      }
      if (treeBusy.size > 0 && claims > 0) {
        // Where the machine's CPU went: the sandbox's processes are this one's children.
        for (const [command, ticks] of [...treeBusy].sort((a, b) => b[1] - a[1])) {
          const ms = (ticks * 1000) / TICKS_PER_SECOND / claims;
          if (ms < 0.05) continue;
          yield value(`${prefix}.tree.cpu_per_claim.${command.replace(/[^\w.-]/g, '_')}`, ms, 'ms', {
            n: claims,
            digits: 1,
          });
        }
      }
      if (loopDelays.length > 0)
        yield latency(
          `${prefix}.process.event_loop_delay (a ${LOOP_PROBE_MS} ms timer's lateness while claims ran)`,
          loopDelays,
          { digits: 2 },
        );
      for (const [who, user] of Object.entries(users)) {
        const mine = handshakes.filter((h) => h.username === user);
        if (mine.length === 0) continue;
        yield latency(
          `${prefix}.ssh_handshake.${who} (TCP + key exchange + auth, inside the steps above)`,
          mine.map((h) => h.ms),
          { failures: mine.filter((h) => !h.ok).length, digits: 2 },
        );
        if (claims > 0)
          yield value(`${prefix}.ssh_handshakes_per_claim.${who}`, mine.length / claims, 'handshakes', {
            n: claims,
            digits: 2,
          });
      }
    },
  };
}

export type TraceCollector = ReturnType<typeof createTraceCollector>;

import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ApiError, type BreakfixClient, type Lab } from '@breakfix/client';
import { DeadlineExceededError, InvalidInputError } from '@breakfix/core';
import { connect, learnerName } from '../api/connect.js';
import { table, timeLeft } from '../api/table.js';

export const LAB_USAGE = `  labctl claim <scenario> [--learner NAME] [--public-key FILE.pub] [--out DIR] [--no-wait] [--timeout 600] [--json]
      Claim a lab; waits (with its place in the queue) while the pool is empty. Writes
      breakfix-<lab>.key (when a key was generated) and breakfix-<lab>.known_hosts to DIR (default .)
      and prints the ssh command.
  labctl status  [LAB] [--learner NAME] [--json]      the learner's lab (or LAB): state, time left, ssh
  labctl check   [LAB] [--learner NAME] [--json]      run the scenario's check
  labctl hint    [LAB] [--learner NAME] [--json]      reveal the next hint
  labctl extend  [LAB] [--minutes 15] [--learner NAME] [--json]
  labctl release [LAB] [--learner NAME] [--json]
  labctl pools   [--json]                             pools: ready / booting / claimed against targets
  labctl labs    [--state claimed] [--json]           every live lab (admin, instructor)
      The API comes from BREAKFIX_API_URL + BREAKFIX_TOKEN, else from a running sandbox
      (.breakfix/sandbox.json). Commands act for --learner, else BREAKFIX_LEARNER, else your user name.
`;

const json = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
const say = (line: string) => process.stderr.write(`${line}\n`);

/** The lab named on the command line, or the one the learner holds. */
async function labOf(client: BreakfixClient, positional: string[], learner: string | undefined): Promise<string> {
  if (positional[0] !== undefined) return positional[0];
  return (await client.learners.currentLab(learnerName(learner))).id;
}

function describeLab(lab: Lab): string {
  const rows: [string, string][] = [
    ['lab', lab.id],
    ['state', lab.state],
    ['learner', lab.learner ?? '-'],
    ['scenario', lab.scenario ?? '-'],
    ['pool', lab.pool],
    ['time left', timeLeft(lab.secondsLeft)],
    ['hints', `${lab.hintsRevealed} of ${lab.hintsTotal} revealed`],
  ];
  if (lab.connection !== null) rows.push(['ssh', lab.connection.command]);
  return `${rows.map(([k, v]) => `${k.padEnd(10)} ${v}`).join('\n')}\n`;
}

export async function claim(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      learner: { type: 'string' },
      'public-key': { type: 'string' },
      out: { type: 'string', default: '.' },
      'no-wait': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '600' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const scenario = positionals[0];
  if (scenario === undefined)
    throw new InvalidInputError('which scenario? `labctl claim <scenario>` (see `labctl pools`)');
  const client = connect();
  const body = {
    scenario,
    learner: learnerName(values.learner),
    ...(values['public-key'] === undefined ? {} : { publicKey: readFileSync(values['public-key'], 'utf8') }),
  };
  // One key for this intended claim: a retry after a dropped connection gets the same lab back.
  const idempotencyKey = randomUUID();
  const deadline = Date.now() + Number(values.timeout) * 1000;
  const started = Date.now();
  let result: Awaited<ReturnType<BreakfixClient['labs']['claim']>> | undefined;
  while (result === undefined) {
    try {
      result = await client.labs.claim(body, { idempotencyKey });
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== 'pool_exhausted' || values['no-wait']) throw error;
      if (Date.now() > deadline)
        throw new DeadlineExceededError(`no lab within ${values.timeout} s`, { hint: error.hint });
      say(
        `waiting for a lab: number ${error.queuePosition ?? '?'} in the queue, ${error.provisioning ?? 0} booting (${Math.round((Date.now() - started) / 1000)} s)`,
      );
      await sleep(Math.max(0, Math.min((error.retryAfter ?? 5) * 1000, deadline - Date.now())));
    }
  }
  const { lab, connection } = result;
  const dir = resolve(values.out);
  writeFileSync(join(dir, `breakfix-${lab.id}.known_hosts`), `${connection.knownHosts}\n`);
  if (connection.privateKey !== undefined) {
    writeFileSync(join(dir, `breakfix-${lab.id}.key`), connection.privateKey, { mode: 0o600 });
  }
  if (values.json) {
    json({
      id: lab.id,
      scenario: lab.scenario,
      learner: lab.learner,
      expiresAt: lab.expiresAt,
      host: connection.host,
      port: connection.port,
      user: connection.user,
      knownHosts: connection.knownHosts,
      command: connection.command,
      ...(connection.privateKey === undefined ? {} : { privateKey: connection.privateKey }),
    });
    return;
  }
  say(`lab ${lab.id} is yours for ${timeLeft(lab.secondsLeft)} (scenario ${lab.scenario}); key files in ${dir}`);
  process.stdout.write(`cd ${dir} && ${connection.command}\n`);
}

function labCommand(
  run: (client: BreakfixClient, id: string, values: Record<string, string | boolean | undefined>) => Promise<unknown>,
  print: (result: never) => string,
  extra: Record<string, { type: 'string' }> = {},
) {
  return async (args: string[]): Promise<void> => {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { learner: { type: 'string' }, json: { type: 'boolean', default: false }, ...extra },
      strict: true,
    });
    const client = connect();
    const result = await run(client, await labOf(client, positionals, values.learner as string | undefined), values);
    if (values.json) json(result);
    else process.stdout.write(print(result as never));
  };
}

export const status = labCommand((client, id) => client.labs.get(id), describeLab);

export const check = labCommand(
  (client, id) => client.labs.check(id),
  (result: { solved: boolean; feedback: string[] }) =>
    result.solved
      ? 'solved: well done.\n'
      : `not solved yet:\n${result.feedback.map((line) => `  - ${line}`).join('\n')}\n`,
);

export const hint = labCommand(
  (client, id) => client.labs.hint(id),
  (result: { index: number; total: number; hint: string }) =>
    `hint ${result.index} of ${result.total}: ${result.hint}\n`,
);

export const extend = labCommand(
  (client, id, values) => client.labs.extend(id, values.minutes === undefined ? undefined : Number(values.minutes)),
  (lab: Lab) => `lab ${lab.id} now has ${timeLeft(lab.secondsLeft)} left\n`,
  { minutes: { type: 'string' } },
);

export const release = labCommand(
  (client, id) => client.labs.release(id),
  (lab: Lab) => `lab ${lab.id} released: access is closed, the lab is being torn down\n`,
);

export async function labs(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { state: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
  });
  const state = values.state as Lab['state'] | undefined;
  const { labs } = await connect().admin.labs(state === undefined ? {} : { state });
  if (values.json) {
    json(labs);
    return;
  }
  process.stdout.write(
    table(
      ['LAB', 'STATE', 'POOL', 'LEARNER', 'SCENARIO', 'TIME LEFT', 'HINTS'],
      labs.map((l) => [
        l.id,
        l.state,
        l.pool,
        l.learner ?? '-',
        l.scenario ?? '-',
        timeLeft(l.secondsLeft),
        `${l.hintsRevealed}/${l.hintsTotal}`,
      ]),
    ),
  );
}

import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, type BreakfixClient, type Lab } from '@breakfix/client';
import { DeadlineExceededError, ENVIRONMENT_STATES } from '@breakfix/core';
import { Argument, Command, Option } from 'commander';
import { connect, learnerName } from '../api/connect.js';
import { table, timeLeft } from '../api/table.js';
import { completes } from '../cli/completion/index.js';
import { EXIT } from '../cli/exit-codes.js';
import { examples, jsonOption, learnerOption, wholeNumber } from '../cli/help.js';
import { createProgress } from '../cli/progress.js';

const API_HELP = `
The API comes from BREAKFIX_API_URL + BREAKFIX_TOKEN, else from a running sandbox
(.breakfix/sandbox.json). Commands act for --learner, else BREAKFIX_LEARNER, else your user name.
`;

const json = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
const say = (line: string) => process.stderr.write(`${line}\n`);

/** The lab named on the command line, or the one the learner holds. */
async function labOf(client: BreakfixClient, lab: string | undefined, learner: string | undefined): Promise<string> {
  if (lab !== undefined) return lab;
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

interface ClaimOptions {
  learner?: string;
  publicKey?: string;
  out: string;
  wait: boolean;
  timeout: string;
  json?: boolean;
}

export function claimCommand(): Command {
  const command = new Command('claim')
    .summary('claim a lab of a scenario')
    .description(
      'Claim a lab of a scenario; waits (with its place in the queue) while the pool is empty. Writes ' +
        'breakfix-<lab>.key (when a key was generated) and breakfix-<lab>.known_hosts to --out and prints ' +
        'the ssh command.',
    )
    .addArgument(
      completes(new Argument('<scenario>', 'the scenario to practise (see `labctl scenario list`)'), {
        scenarios: true,
      }),
    )
    .addOption(learnerOption())
    .option('--public-key <file>', 'your SSH public key (default: a key is generated for you)')
    .option('--out <dir>', 'where the key and known_hosts files go', '.')
    .option('--no-wait', 'fail at once (exit 3) when no lab is ready instead of waiting in the queue')
    .addOption(
      new Option('--timeout <seconds>', 'give up waiting after this long (exit 4)')
        .default('600')
        .argParser(wholeNumber(1)),
    )
    .addOption(jsonOption())
    .action((scenario: string, options: ClaimOptions) => claim(scenario, options));
  return examples(command.addHelpText('after', API_HELP), [
    'labctl claim kubelet-stopped',
    'labctl claim kubelet-stopped --public-key ~/.ssh/id_ed25519.pub --out ~/labs',
    'labctl claim kubelet-stopped --no-wait --json',
  ]);
}

async function claim(scenario: string, values: ClaimOptions): Promise<void> {
  const client = connect();
  const body = {
    scenario,
    learner: learnerName(values.learner),
    ...(values.publicKey === undefined ? {} : { publicKey: readFileSync(values.publicKey, 'utf8') }),
  };
  // One key for this intended claim: a retry after a dropped connection gets the same lab back.
  const idempotencyKey = randomUUID();
  const deadline = Date.now() + Number(values.timeout) * 1000;
  const started = Date.now();
  // On a terminal, one line that counts the wait; elsewhere (and with --json) a line per answer.
  const progress = createProgress({ json: values.json });
  let result: Awaited<ReturnType<BreakfixClient['labs']['claim']>> | undefined;
  try {
    while (result === undefined) {
      try {
        result = await client.labs.claim(body, { idempotencyKey });
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== 'pool_exhausted' || !values.wait) throw error;
        // the place in the queue first: even a claim whose deadline passed during its first call says it
        const place = `number ${error.queuePosition ?? '?'} in the queue, ${error.provisioning ?? 0} booting`;
        if (progress.live) progress.status(`waiting for a lab: ${place}`, started);
        else say(`waiting for a lab: ${place} (${Math.round((Date.now() - started) / 1000)} s)`);
        if (Date.now() > deadline)
          throw new DeadlineExceededError(`no lab within ${values.timeout} s`, { hint: error.hint });
        await sleep(Math.max(0, Math.min((error.retryAfter ?? 5) * 1000, deadline - Date.now())));
      }
    }
  } finally {
    progress.stop();
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

interface LabOptions {
  learner?: string;
  json?: boolean;
  minutes?: string;
}

/** status, check, hint, extend, release: one lab (named, or the learner's), one API call. */
function labCommand<T>(spec: {
  name: string;
  summary: string;
  description: string;
  /** Said on a terminal while the API works, for the calls that take seconds. */
  waiting?: string;
  run: (client: BreakfixClient, id: string, values: LabOptions) => Promise<T>;
  print: (result: T) => string;
  /** The exit code for a result: check says 1 while the lab is not solved. */
  exitCode?: (result: T) => number;
  options?: Option[];
  examples: string[];
}): Command {
  const command = new Command(spec.name)
    .summary(spec.summary)
    .description(spec.description)
    .argument('[lab]', "the lab's id (default: the lab the learner holds)")
    .addOption(learnerOption())
    .addOption(jsonOption());
  for (const option of spec.options ?? []) command.addOption(option);
  command.action(async (lab: string | undefined, values: LabOptions) => {
    const client = connect();
    const id = await labOf(client, lab, values.learner);
    const progress = createProgress({ json: values.json });
    if (spec.waiting !== undefined) progress.status(spec.waiting);
    const result = await spec.run(client, id, values).finally(() => progress.stop());
    if (values.json) json(result);
    else process.stdout.write(spec.print(result));
    const exitCode = spec.exitCode?.(result) ?? EXIT.ok;
    if (exitCode !== EXIT.ok) process.exitCode = exitCode;
  });
  return examples(command.addHelpText('after', API_HELP), spec.examples);
}

export const statusCommand = () =>
  labCommand({
    name: 'status',
    summary: "the learner's lab (or LAB): state, time left, ssh",
    description: "The learner's lab, or LAB: its state, scenario, time left, hints revealed and ssh command.",
    run: (client, id) => client.labs.get(id),
    print: describeLab,
    examples: ['labctl status', 'labctl status lab-3f2a9c --json', 'labctl status --learner ada'],
  });

export const checkCommand = () =>
  labCommand({
    name: 'check',
    summary: "run the scenario's check (exit 1 while not solved)",
    description:
      "Run the scenario's check on the lab and print what is still wrong. Exit code 0 when solved, 1 while not solved yet.",
    waiting: "running the scenario's check",
    run: (client, id) => client.labs.check(id),
    print: (result: { solved: boolean; feedback: string[] }) =>
      result.solved
        ? 'solved: well done.\n'
        : `not solved yet:\n${result.feedback.map((line) => `  - ${line}`).join('\n')}\n`,
    exitCode: (result) => (result.solved ? EXIT.ok : EXIT.failure),
    examples: ['labctl check', 'labctl check --json', 'labctl check && echo solved'],
  });

export const hintCommand = () =>
  labCommand({
    name: 'hint',
    summary: 'reveal the next hint',
    description: "Reveal the scenario's next hint (each one is counted on the lab).",
    run: (client, id) => client.labs.hint(id),
    print: (result: { index: number; total: number; hint: string }) =>
      `hint ${result.index} of ${result.total}: ${result.hint}\n`,
    examples: ['labctl hint', 'labctl hint --learner ada'],
  });

export const extendCommand = () =>
  labCommand({
    name: 'extend',
    summary: 'give the lab more time',
    description: 'Give the lab more time, up to what the scenario allows.',
    run: (client, id, values) =>
      client.labs.extend(id, values.minutes === undefined ? undefined : Number(values.minutes)),
    print: (lab: Lab) => `lab ${lab.id} now has ${timeLeft(lab.secondsLeft)} left\n`,
    options: [
      completes(new Option('--minutes <n>', 'how many minutes more, 1 to 120 (default: 15)'), {
        words: ['5', '15', '30'],
      }).argParser(wholeNumber(1)),
    ],
    examples: ['labctl extend', 'labctl extend --minutes 5'],
  });

export const releaseCommand = () =>
  labCommand({
    name: 'release',
    summary: 'give the lab back: access closes, the lab is torn down',
    description: 'Give the lab back: SSH access is closed at once and the lab is torn down.',
    run: (client, id) => client.labs.release(id),
    print: (lab: Lab) => `lab ${lab.id} released: access is closed, the lab is being torn down\n`,
    examples: ['labctl release', 'labctl release lab-3f2a9c'],
  });

export function labsCommand(): Command {
  const command = new Command('labs')
    .summary('every live lab (admin, instructor)')
    .description('Every live lab of the platform, with its learner, scenario and time left (admin, instructor).')
    .addOption(new Option('--state <state>', 'only labs in this state').choices(ENVIRONMENT_STATES))
    .addOption(jsonOption())
    .action((options: { state?: Lab['state']; json?: boolean }) => labs(options));
  return examples(command.addHelpText('after', API_HELP), ['labctl labs', 'labctl labs --state claimed --json']);
}

async function labs(values: { state?: Lab['state']; json?: boolean }): Promise<void> {
  const state = values.state;
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

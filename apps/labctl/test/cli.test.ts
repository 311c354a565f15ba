import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const LABCTL = fileURLToPath(new URL('../bin/labctl.mjs', import.meta.url));
const CATALOG = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const TIMEOUT = { timeout: 60_000 };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: mkdtempSync(join(tmpdir(), 'labctl-')), env: { ...process.env, ...env }, timeout: 50_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const labctl = (...args: string[]) => run(process.execPath, [LABCTL, ...args]);

/** Each command and subcommand, with flags its help must list. */
const COMMANDS: [string, string[]][] = [
  ['render', ['--k8s <version>', '--workers <n>', '--size <profile>', '--cni <cni>', '--operator-key <file>']],
  ['capacity', ['--host-memory <quantity>', '--host-cpu <cores>', '--json']],
  ['scenario', ['list', 'lint', 'test', 'new', 'import']],
  ['scenario list', ['--json', '--catalog <dir>']],
  ['scenario lint', ['<scenario>', '--catalog <dir>']],
  [
    'scenario test',
    ['[scenario...]', '--all', '--k8s <release>', '--keep', '--kubeconfig <file>', '--redis-url <url>'],
  ],
  ['scenario new', ['<id>', '--simulator']],
  ['scenario import', ['<format>', '<source>', '--out <dir>', '--id <id>']],
  ['claim', ['<scenario>', '--learner <name>', '--public-key <file>', '--no-wait', '--timeout <seconds>']],
  ['status', ['[lab]', '--learner <name>', '--json']],
  ['open', ['[lab]', '--browser', '--json']],
  ['check', ['[lab]', '--json']],
  ['hint', ['[lab]', '--learner <name>']],
  ['extend', ['[lab]', '--minutes <n>']],
  ['release', ['[lab]', '--learner <name>']],
  ['pools', ['--json']],
  ['labs', ['--state <state>', '--json']],
  ['completion', ['<shell>']],
];

describe('labctl --help', () => {
  const seen = new Map<string, string>();
  for (const [path, flags] of COMMANDS) {
    test(`labctl ${path} --help prints its own usage, flags and examples`, TIMEOUT, async () => {
      const { code, stdout, stderr } = await labctl(...path.split(' '), '--help');
      assert.equal(code, 0, stderr);
      assert.match(stdout, new RegExp(`^Usage: labctl ${path} `));
      for (const flag of flags) assert.ok(stdout.includes(flag), `${path} --help lists ${flag}:\n${stdout}`);
      assert.match(stdout, new RegExp(`\\nExamples:\\n {2}\\$ labctl ${path}`));
      for (const [other, text] of seen) assert.notEqual(stdout, text, `${path} and ${other} print the same help`);
      seen.set(path, stdout);
    });
  }

  test('-h and `labctl help <command>` print the same as --help', TIMEOUT, async () => {
    const [long, short, viaHelp] = await Promise.all([
      labctl('scenario', 'test', '--help'),
      labctl('scenario', 'test', '-h'),
      labctl('scenario', 'help', 'test'),
    ]);
    assert.equal(short.stdout, long.stdout);
    assert.equal(viaHelp.stdout, long.stdout);
  });

  test('labctl alone, labctl help and labctl --help list every command and the exit codes', TIMEOUT, async () => {
    const [bare, word, help] = await Promise.all([labctl(), labctl('help'), labctl('--help')]);
    for (const other of [bare, word]) {
      assert.equal(other.code, 0, other.stderr);
      assert.equal(other.stdout, help.stdout);
    }
    for (const name of ['render', 'capacity', 'scenario', 'claim', 'status', 'check', 'pools', 'labs', 'completion'])
      assert.match(help.stdout, new RegExp(`\\n {2}${name} `));
    assert.match(
      help.stdout,
      /Exit codes:\n {2}0 {2}ok\n {2}1 {2}failure.*\n {2}2 {2}usage.*\n {2}3 {2}not found.*\n {2}4 {2}timeout/,
    );
  });
});

describe('labctl usage errors exit 2 and name what is wrong', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'a misspelt flag',
      ['capacity', '--host-memory', '64Gi', '--worker', '2'],
      /unknown option '--worker'\n\(Did you mean --workers\?\)/,
    ],
    [
      'a misspelt subcommand flag',
      ['scenario', 'test', 'x', '--kepp'],
      /unknown option '--kepp'\n\(Did you mean --keep\?\)/,
    ],
    ['a misspelt subcommand', ['scenario', 'tset'], /unknown command 'tset'\n\(Did you mean test\?\)/],
    ['a misspelt command', ['clam', 'x'], /unknown command 'clam'\n\(Did you mean claim\?\)/],
    ['a missing argument', ['claim'], /missing required argument 'scenario'/],
    [
      'a missing mandatory flag',
      ['scenario', 'import', 'killercoda', 'src'],
      /required option '--out <dir>' not specified/,
    ],
    ['a flag without its value', ['render', '--k8s'], /option '--k8s <version>' argument missing/],
    [
      'a value that is not a number',
      ['claim', 'x', '--timeout', 'soon'],
      /argument 'soon' is invalid\. Expected a whole number of at least 1\./,
    ],
    [
      'a shell it cannot complete',
      ['completion', 'fish'],
      /value 'fish' is invalid for argument 'shell'\. Allowed choices are bash, zsh\./,
    ],
    ['a subcommand missing', ['scenario'], /Usage: labctl scenario /],
    ['too many arguments', ['status', 'a', 'b'], /too many arguments for 'status'/],
    [
      'a file that is not there',
      ['render', '--k8s', '1.36', '--operator-key', '/nonexistent.pub'],
      /ENOENT.*\/nonexistent\.pub/,
    ],
  ];
  for (const [what, args, message] of cases) {
    test(what, TIMEOUT, async () => {
      const { code, stdout, stderr } = await labctl(...args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
      assert.equal(stdout, '');
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
    });
  }

  test('an unknown scenario exits 3, for test and for lint', TIMEOUT, async () => {
    const [tested, linted] = await Promise.all([
      labctl('scenario', 'test', 'no-such-scenario'),
      labctl('scenario', 'lint', 'no-such-scenario'),
    ]);
    assert.equal(tested.code, 3, tested.stderr);
    assert.equal(linted.code, 3, linted.stderr);
    assert.match(
      linted.stderr,
      /no scenario "no-such-scenario" in .*\n {2}-> name a folder, an id of `labctl scenario list`, or all/,
    );
  });

  test('lint takes a scenario id of the catalog as well as a folder', TIMEOUT, async () => {
    const { code, stdout, stderr } = await labctl('scenario', 'lint', 'kubelet-stopped');
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'kubelet-stopped: no problems\n');
  });

  test('a reader that stops early (| head) is no failure and gets no stack trace', TIMEOUT, async () => {
    // `true` reads nothing and is gone before labctl writes: the write fails with EPIPE
    const { code, stderr } = await run('bash', [
      '-c',
      `set -o pipefail; '${process.execPath}' '${LABCTL}' scenario test --help | true`,
    ]);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
  });

  test('an API that does not answer exits 3 and says where it looked', TIMEOUT, async () => {
    // a port that was free a moment ago: nothing listens there
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const { code, stderr } = await run(process.execPath, [LABCTL, 'pools'], {
      BREAKFIX_API_URL: `http://127.0.0.1:${port}`,
      BREAKFIX_TOKEN: 'x',
    });
    assert.equal(code, 3, stderr);
    assert.match(
      stderr,
      new RegExp(`^labctl: cannot reach the breakfix API at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
  });
});

/** The catalog's ids that start with `prefix`, as a shell would list them. */
function catalogIds(prefix: string, dir = CATALOG): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith(prefix) && existsSync(join(dir, name, 'scenario.yaml')))
    .sort();
}

describe('labctl completion', () => {
  // Another catalog, named on the line with --catalog, and files to complete
  const scratch = mkdtempSync(join(tmpdir(), 'completion-'));
  const otherCatalog = join(scratch, 'catalog');
  mkdirSync(join(otherCatalog, 'my-drill'), { recursive: true });
  writeFileSync(join(otherCatalog, 'my-drill', 'scenario.yaml'), 'id: my-drill\n');
  mkdirSync(join(otherCatalog, 'my-notes'));
  writeFileSync(join(scratch, 'platform.yaml'), '');

  /** Words on the line (the last is being completed) -> candidates, sorted. */
  const cases: [string[], string[]][] = [
    [
      ['labctl', ''],
      [
        'capacity',
        'check',
        'claim',
        'completion',
        'extend',
        'help',
        'hint',
        'labs',
        'open',
        'pools',
        'release',
        'render',
        'scenario',
        'status',
      ],
    ],
    [['labctl', 'sc'], ['scenario']],
    [
      ['labctl', 'scenario', ''],
      ['help', 'import', 'lint', 'list', 'new', 'test'],
    ],
    [['labctl', 'scenario', 'test', 'kubelet-s'], catalogIds('kubelet-s')],
    [['labctl', 'scenario', 'test', 'kubelet-stopped', '--json', 'kubelet-c'], catalogIds('kubelet-c')],
    [['labctl', 'scenario', 'test', '--catalog', otherCatalog, 'my'], ['my-drill']],
    [
      ['labctl', 'scenario', 'test', '--k8s', ''],
      ['1.34', '1.35', '1.36', 'all'],
    ],
    [['labctl', 'scenario', 'test', '--ke'], ['--keep']],
    [['labctl', 'scenario', 'lint', 'a'], ['all', ...catalogIds('a')].sort()],
    [['labctl', 'claim', 'sim-'], catalogIds('sim-')],
    [['labctl', 'claim', 'sim-kubeconfig-drift', ''], []],
    [['labctl', 'render', '--wo'], ['--workers']],
    [
      ['labctl', 'render', '--size', ''],
      ['large', 'medium', 'small'],
    ],
    [['labctl', 'render', '--platform', join(scratch, 'pl')], [join(scratch, 'platform.yaml')]],
    [['labctl', 'labs', '--state', 'c'], ['claimed']],
    [
      ['labctl', 'completion', ''],
      ['bash', 'zsh'],
    ],
    [['labctl', 'help', 'ca'], ['capacity']],
    [['labctl', 'status', '--learner', ''], []],
  ];

  /** Runs test/fixtures/complete.<shell> on a script, with the cases' words on its stdin. */
  function drive(shell: 'bash' | 'zsh', script: string): Promise<Result> {
    return new Promise((resolve) => {
      const child = execFile(
        shell,
        [...(shell === 'zsh' ? ['-f'] : []), join(FIXTURES, `complete.${shell}`), script],
        { cwd: scratch, timeout: 30_000 },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(cases.map(([words]) => `${words.join('\t')}\n`).join(''));
    });
  }

  for (const [shell, registration] of [
    ['bash', 'complete -F _labctl labctl'],
    ['zsh', 'compdef _labctl labctl labctl.mjs'],
  ] as const) {
    test(
      `${shell}: the script registers labctl and completes commands, flags, choices and scenario ids`,
      TIMEOUT,
      async () => {
        // Given the script labctl writes for this shell
        const script = await labctl('completion', shell);
        assert.equal(script.code, 0, script.stderr);
        const file = join(scratch, `labctl.${shell}`);
        writeFileSync(file, script.stdout);
        if (shell === 'zsh') {
          // compsys runs completion functions with extendedglob; `emulate -L zsh` would drop it and
          // _describe would offer empty candidates (seen in a real zsh, where the stand-ins cannot look)
          assert.doesNotMatch(script.stdout, /^\s*emulate\b/m);
        }
        if (shell === 'bash') {
          const lint = await run('shellcheck', ['--shell=bash', file]);
          assert.equal(lint.code, 0, lint.stdout);
        }
        // When the shell sources it and completes each line
        const { code, stdout, stderr } = await drive(shell, file);
        assert.equal(code, 0, stderr);
        // Then labctl is registered, and each line gets exactly its candidates
        const [registered, ...answers] = stdout.split('\n');
        assert.equal(registered, registration);
        cases.forEach(([words, expected], i) => {
          const got = (answers[i] ?? '')
            .split(' ')
            .filter((w) => w !== '')
            .sort();
          assert.deepEqual(got, expected, `labctl ${words.slice(1).join(' ')}<Tab>`);
        });
      },
    );
  }
});

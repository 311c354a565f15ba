import { ApiError } from '@breakfix/client';
import { BreakfixError } from '@breakfix/core';
import { capacity } from './commands/capacity.js';
import { check, claim, extend, hint, LAB_USAGE, labs, release, status } from './commands/labs.js';
import { pools } from './commands/pools.js';
import { render } from './commands/render.js';
import { SCENARIO_USAGE, scenario } from './commands/scenario.js';

const USAGE = `labctl — breakfix operator and instructor CLI

  labctl render   --k8s <version> [--workers N] [--size small|medium|large] [--lab-id ID]
                  [--cni flannel|calico] [--platform platform.yaml] [--operator-key key.pub] [--out DIR]
      Print the Kubernetes objects of one lab (or write one file per object to DIR).
  labctl capacity --host-memory 64Gi [--host-cpu 32] [--workers N] [--size medium] [--json]
      How many labs fit on one host, from the same requests and overheads the manifests use.
${SCENARIO_USAGE}${LAB_USAGE}`;

const commands: Record<string, (args: string[]) => Promise<void>> = {
  render,
  capacity,
  scenario,
  claim,
  status,
  check,
  hint,
  extend,
  release,
  pools,
  labs,
};

async function main(argv: string[]): Promise<void> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`labctl: unknown command "${name}"\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  await command(args);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const code = (error as { code?: unknown }).code;
  if (error instanceof ApiError) {
    process.stderr.write(
      `labctl: ${error.detail} (${error.code})${error.hint === undefined ? '' : `\n  -> ${error.hint}`}\n`,
    );
  } else if (error instanceof BreakfixError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
    const hint = error instanceof BreakfixError && error.hint !== undefined ? `\n  -> ${error.hint}` : '';
    process.stderr.write(`labctl: ${(error as Error).message}${hint}\n`);
  } else {
    process.stderr.write(`labctl: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exitCode = 1;
});

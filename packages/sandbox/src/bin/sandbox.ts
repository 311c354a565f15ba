/**
 * Runs the sandbox until interrupted and publishes how to reach it.
 *
 *   tsx packages/sandbox/src/bin/sandbox.ts [--info-file .breakfix/sandbox.json] [--dir DIR] [--quiet]
 *
 * The info file appears only once everything is up, and disappears on exit, so other processes
 * (the test runner, labctl) can wait for it.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BreakfixError } from '@breakfix/core';
import { resolveBinaries } from '../binaries.js';
import { startSandbox } from '../start-sandbox.js';

const { values } = parseArgs({
  options: {
    'info-file': { type: 'string', default: '.breakfix/sandbox.json' },
    dir: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const infoFile = resolve(values['info-file'] ?? '.breakfix/sandbox.json');
const say = (line: string) => {
  if (!values.quiet) console.log(line);
};

async function main(): Promise<void> {
  const started = Date.now();
  const binaries = await resolveBinaries({ onProgress: say });
  const dir = values.dir === undefined ? undefined : resolve(values.dir);
  if (dir !== undefined) mkdirSync(dir, { recursive: true });
  const sandbox = await startSandbox({ binaries, ...(dir === undefined ? {} : { dir }), onProgress: say });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`\n${signal}: stopping the sandbox`);
    rmSync(infoFile, { force: true });
    await sandbox.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  mkdirSync(dirname(infoFile), { recursive: true });
  writeFileSync(`${infoFile}.tmp`, `${JSON.stringify({ ...sandbox.info(), kubectl: binaries.kubectl }, null, 2)}\n`, {
    mode: 0o600,
  });
  renameSync(`${infoFile}.tmp`, infoFile);

  say(`sandbox ready in ${((Date.now() - started) / 1000).toFixed(1)} s (logs: ${sandbox.dir}/logs)`);
  say('');
  say(`  info:        ${infoFile}`);
  say(`  kubeconfig:  ${sandbox.kubeconfig}`);
  say(`  redis:       ${sandbox.redisUrl}`);
  say('');
  say('try:');
  say(`  ${binaries.kubectl} --kubeconfig ${sandbox.kubeconfig} get crd`);
  say(`  ${binaries.kubectl} --kubeconfig ${sandbox.kubeconfig} get vm,vmi -A`);
  say('');
  say('Ctrl-C stops everything.');
}

main().catch((error: unknown) => {
  rmSync(infoFile, { force: true });
  if (error instanceof BreakfixError) {
    console.error(`sandbox: ${error.message}${error.hint === undefined ? '' : `\n  -> ${error.hint}`}`);
  } else {
    console.error('sandbox failed:', error);
  }
  process.exit(1);
});

import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { capacityCommand } from '../commands/capacity.js';
import { completionCommand } from '../commands/completion.js';
import {
  checkCommand,
  claimCommand,
  extendCommand,
  hintCommand,
  labsCommand,
  releaseCommand,
  statusCommand,
} from '../commands/labs.js';
import { openCommand } from '../commands/open.js';
import { poolsCommand } from '../commands/pools.js';
import { renderCommand } from '../commands/render.js';
import { scenarioCommand } from '../commands/scenario.js';
import { EXIT_CODES_HELP } from './exit-codes.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * labctl's command tree. Parse failures throw a CommanderError (after commander printed the
 * message and its suggestion) instead of exiting, so main.ts maps every failure in one place.
 */
export function createProgram(): Command {
  const program = new Command('labctl')
    .description('breakfix operator and instructor CLI: render labs, run the catalog, claim and check labs.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show usage and examples')
    .helpCommand('help [command]', 'show help for a command')
    // commander's defaults, said here because the exit codes depend on them
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage and examples)')
    .exitOverride()
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false });
  for (const command of [
    renderCommand(),
    capacityCommand(),
    scenarioCommand(),
    claimCommand(),
    statusCommand(),
    openCommand(),
    checkCommand(),
    hintCommand(),
    extendCommand(),
    releaseCommand(),
    poolsCommand(),
    labsCommand(),
    completionCommand(program),
  ]) {
    program.addCommand(inheritSettings(command, program));
  }
  program.addHelpText(
    'after',
    `
${EXIT_CODES_HELP}

Environment:
  BREAKFIX_API_URL, BREAKFIX_TOKEN  the API for claim, status, open, check, hint, extend, release, pools, labs
                                    (default: a running sandbox's .breakfix/sandbox.json)
  BREAKFIX_LEARNER                  whom lab commands act for (default: your user name)

Examples:
  $ labctl render --k8s 1.36 --workers 2 > lab.yaml
  $ labctl scenario test sim-kubeconfig-drift
  $ labctl claim sim-kubeconfig-drift
  $ labctl render --help
  $ source <(labctl completion bash)
`,
  );
  return program;
}

/**
 * Commands built on their own (new Command) do not inherit the parent's settings as those made
 * with .command() do: copy them down the tree, so exitOverride and the suggestions hold everywhere.
 */
function inheritSettings(command: Command, parent: Command): Command {
  command.copyInheritedSettings(parent);
  for (const sub of command.commands) inheritSettings(sub, command);
  return command;
}

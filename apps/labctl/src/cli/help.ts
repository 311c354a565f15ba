import { type Command, InvalidArgumentError, Option } from 'commander';

/** Appends an Examples section to a command's --help. */
export function examples(command: Command, lines: readonly string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`);
}

/** --json: machine-readable stdout, and no status line on stderr. */
export const jsonOption = () => new Option('--json', 'print JSON on stdout (no status line on stderr)');

/** --catalog: where scenarios live. */
export const catalogOption = () =>
  new Option('--catalog <dir>', "the scenario catalog (default: the repository's scenarios/ folder)");

/** --learner: whom lab commands act for. */
export const learnerOption = () =>
  new Option('--learner <name>', 'act for this learner (default: BREAKFIX_LEARNER, else your user name)');

/** A whole number >= min, for commander's argParser: a clear usage error otherwise. */
export function wholeNumber(min = 0): (value: string) => string {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min) {
      throw new InvalidArgumentError(`Expected a whole number${min > 0 ? ` of at least ${min}` : ''}.`);
    }
    return value;
  };
}

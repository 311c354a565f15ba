import { DEFAULT_CATALOG_DIR } from '@breakfix/scenarios';
import { Argument, Command } from 'commander';
import { bashCompletion, zshCompletion } from '../cli/completion/index.js';
import { examples } from '../cli/help.js';

const SHELLS = { bash: bashCompletion, zsh: zshCompletion };

/** `labctl completion bash|zsh`: a script written from `program`, the whole command tree. */
export function completionCommand(program: Command): Command {
  const command = new Command('completion')
    .summary('print a shell completion script (bash, zsh)')
    .description(
      "Print a completion script for bash or zsh: commands, subcommands, flags, their choices and the catalog's " +
        "scenario ids (for claim, scenario test and scenario lint). It is written from labctl's own commands: " +
        'source it from your shell profile and it stays current.',
    )
    .addArgument(new Argument('<shell>', 'the shell').choices(Object.keys(SHELLS)))
    .action((shell: keyof typeof SHELLS) => {
      process.stdout.write(SHELLS[shell](program, { name: program.name(), catalogDir: DEFAULT_CATALOG_DIR }));
    });
  return examples(command, [
    'labctl completion bash > ~/.labctl-completion.bash   # then: source it from ~/.bashrc',
    "echo 'source <(labctl completion bash)' >> ~/.bashrc",
    "echo 'source <(labctl completion zsh)' >> ~/.zshrc     # after compinit",
  ]);
}

import { DEFAULT_CATALOG_DIR } from '@breakfix/scenarios';
import { Argument, Command } from 'commander';
import { bashCompletion, zshCompletion } from '../cli/completion.js';
import { examples } from '../cli/help.js';

const SHELLS = { bash: bashCompletion, zsh: zshCompletion };

/** `labctl completion bash|zsh`: a script written from `program`, the whole command tree. */
export function completionCommand(program: Command): Command {
  const command = new Command('completion')
    .summary('print a shell completion script (bash, zsh)')
    .description(
      'Print a completion script for bash or zsh: commands, subcommands, flags, their choices and the ' +
        "catalog's scenario ids (for claim and scenario test and lint). It is written from labctl's own\n" +
        'commands, so load it from your shell profile to keep it current.',
    )
    .addArgument(new Argument('<shell>', 'the shell').choices(Object.keys(SHELLS)))
    .action((shell: keyof typeof SHELLS) => {
      process.stdout.write(SHELLS[shell](program, { name: program.name(), catalogDir: DEFAULT_CATALOG_DIR }));
    });
  return examples(command, [
    "echo 'source <(labctl completion bash)' >> ~/.bashrc",
    "echo 'source <(labctl completion zsh)' >> ~/.zshrc     # after compinit",
    'labctl completion zsh > ~/.zsh/completions/_labctl   # a folder on your $fpath',
  ]);
}

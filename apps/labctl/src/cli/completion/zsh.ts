import type { Command } from 'commander';
import { type Completion, type CompletionOptions, commandNodes, completionBody, functionName, quote } from './tree.js';

/** `name:description` items for _describe, a colon in a name escaped. */
const described = (items: { name: string; description: string }[]) =>
  items.map((item) => quote(`${item.name.replaceAll(':', '\\:')}:${item.description}`)).join(' ');

/** A zsh completion script: `source <(labctl completion zsh)` after compinit, or saved as _labctl on $fpath. */
export function zshCompletion(program: Command, options: CompletionOptions): string {
  const fn = functionName(options.name);
  const action = (c: Completion): string => {
    const lines: string[] = [];
    if (c.words !== undefined && c.words.length > 0) lines.push(`compadd -- ${c.words.map(quote).join(' ')}`);
    if (c.scenarios) lines.push(`compadd -- $(${fn}_scenarios "$catalog")`);
    if (c.files === 'files') lines.push('_files');
    if (c.files === 'dirs') lines.push('_files -/');
    return lines.length === 0 ? ':' : lines.join('; ');
  };
  const body = completionBody(commandNodes(program), {
    words: 'words',
    first: 2,
    current: 'CURRENT',
    action,
    flags: (node) =>
      `flags=(${described(node.flags.flatMap((f) => f.names.map((name) => ({ name, description: f.description }))))}); _describe flag flags`,
    commands: (node) => `commands=(${described(node.commands)}); _describe command commands`,
  });
  // Also registered for labctl.mjs: zsh completes an alias by what it expands to (unless the user
  // set complete_aliases), and the README's `alias labctl=…/bin/labctl.mjs` expands to that file,
  // whose basename compsys looks up when the full path has no completion.
  const names = `${options.name} ${options.name}.mjs`;
  return `#compdef ${names}
# ${options.name} completion for zsh, written by \`${options.name} completion zsh\` from its commands.
# Load it in ~/.zshrc after compinit:  source <(${options.name} completion zsh)
${fn}_catalog=${quote(options.catalogDir)}

# The catalog's scenario ids: its folders that hold a scenario.yaml.
${fn}_scenarios() {
  local file
  for file in "$1"/*/scenario.yaml(N); do
    file=\${file%/scenario.yaml}
    print -r -- "\${file:t}"
  done
}

# No \`emulate -L zsh\` here: it would drop the options compsys runs with (extendedglob, which
# _describe's patterns need), and every candidate would come out empty.
${fn}() {
  local cur=\${words[CURRENT]} cmdpath='' catalog=$${fn}_catalog word expect='' i argc=0
  local -a flags commands
${body}
}

# autoloaded from $fpath this file is the function's body; sourced, it registers the function
if [[ $funcstack[1] == ${fn} ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${names}
fi
`;
}

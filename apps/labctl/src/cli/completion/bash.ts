import type { Command } from 'commander';
import { type Completion, type CompletionOptions, commandNodes, completionBody, functionName, quote } from './tree.js';

/** A bash completion script: `source <(labctl completion bash)`. */
export function bashCompletion(program: Command, options: CompletionOptions): string {
  const fn = functionName(options.name);
  const action = (c: Completion): string => {
    const lines: string[] = [];
    if (c.words !== undefined && c.words.length > 0) lines.push(`${fn}_add -W ${quote(c.words.join(' '))}`);
    if (c.scenarios) lines.push(`${fn}_add -W "$(${fn}_scenarios "$catalog")"`);
    if (c.files === 'files') lines.push(`${fn}_files -f`);
    if (c.files === 'dirs') lines.push(`${fn}_files -d`);
    return lines.length === 0 ? ':' : lines.join('; ');
  };
  const body = completionBody(commandNodes(program), {
    words: 'COMP_WORDS',
    first: 1,
    current: 'COMP_CWORD',
    action,
    flags: (node) => `${fn}_add -W ${quote(node.flags.flatMap((f) => f.names).join(' '))}`,
    commands: (node) => `${fn}_add -W ${quote(node.commands.map((c) => c.name).join(' '))}`,
  });
  return `# ${options.name} completion for bash, written by \`${options.name} completion bash\` from its commands.
# Load it in ~/.bashrc:  source <(${options.name} completion bash)
${fn}_catalog=${quote(options.catalogDir)}

# The catalog's scenario ids: its folders that hold a scenario.yaml.
${fn}_scenarios() {
  local file
  for file in "$1"/*/scenario.yaml; do
    [[ -e $file ]] || continue
    file=\${file%/scenario.yaml}
    printf '%s\\n' "\${file##*/}"
  done
}

# Adds compgen's words that start with the current word, one per line (file names may hold spaces).
${fn}_add() {
  local line
  while IFS= read -r line; do
    [[ -n $line ]] && COMPREPLY+=("$line")
  done < <(compgen "$@" -- "$cur")
}

${fn}_files() {
  compopt -o filenames 2>/dev/null
  ${fn}_add "$1"
}

${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmdpath='' catalog=$${fn}_catalog word expect='' i argc=0
  COMPREPLY=()
${body}
}
complete -F ${fn} ${options.name}
`;
}

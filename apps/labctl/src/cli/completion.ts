import type { Argument, Command, Option } from 'commander';

/**
 * Shell completion scripts written from labctl's own command tree, so they list exactly the
 * commands, flags and choices that parse: nothing to keep in step by hand. Scenario ids come from
 * the catalog's folders (or the --catalog on the line) when the shell asks, without running labctl.
 */

/** What a flag's value or a positional argument completes to. */
export interface Completion {
  words?: readonly string[];
  /** The ids of the catalog's scenarios: its folders that hold a scenario.yaml. */
  scenarios?: boolean;
  files?: 'files' | 'dirs';
}

const annotations = new WeakMap<Option | Argument, Completion>();

/** Says what `target` completes to, beyond its choices; returns it for chaining. */
export function completes<T extends Option | Argument>(target: T, completion: Completion): T {
  annotations.set(target, completion);
  return target;
}

/** `--platform <file>` completes files, `--out <dir>` folders, anything else nothing by default. */
function byPlaceholder(flags: string): Completion {
  const placeholder = /[<[]([\w-]+)/.exec(flags)?.[1];
  if (placeholder === 'file') return { files: 'files' };
  if (placeholder === 'dir') return { files: 'dirs' };
  return {};
}

interface FlagNode {
  names: string[];
  description: string;
  /** Undefined for a flag that takes no value. */
  value: Completion | undefined;
}

interface CommandNode {
  /** `''` for labctl itself, `'scenario test'` for a subcommand. */
  path: string;
  commands: { name: string; description: string }[];
  flags: FlagNode[];
  args: Completion[];
  variadic: boolean;
}

/** Every visible command of the tree, with what its flags and arguments complete to. */
export function commandNodes(program: Command): CommandNode[] {
  const nodes: CommandNode[] = [];
  const visit = (command: Command, path: string) => {
    const help = command.createHelp();
    const subcommands = help.visibleCommands(command);
    const names = subcommands.map((c) => c.name());
    nodes.push({
      path,
      commands: subcommands.map((c) => ({ name: c.name(), description: help.subcommandDescription(c) })),
      flags: help.visibleOptions(command).map((option) => ({
        names: [option.long, option.short].filter((n): n is string => n !== undefined),
        description: option.description,
        value:
          option.required || option.optional
            ? (annotations.get(option) ??
              (option.argChoices === undefined ? byPlaceholder(option.flags) : { words: option.argChoices }))
            : undefined,
      })),
      args: command.registeredArguments.map(
        (argument) => annotations.get(argument) ?? (argument.argChoices ? { words: argument.argChoices } : {}),
      ),
      variadic: command.registeredArguments.at(-1)?.variadic ?? false,
    });
    for (const sub of subcommands) {
      const subPath = path === '' ? sub.name() : `${path} ${sub.name()}`;
      // commander's own `help [command]` is not in .commands: it completes its siblings' names
      if (!command.commands.includes(sub)) {
        nodes.push({
          path: subPath,
          commands: [],
          flags: [],
          args: [{ words: names.filter((n) => n !== sub.name()) }],
          variadic: false,
        });
      } else visit(sub, subPath);
    }
  };
  visit(program, '');
  return nodes;
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/** The args of a node as `case` patterns on "path|index", the variadic last one matching any index past it. */
function argCases(node: CommandNode): [string, Completion][] {
  return node.args.map((completion, index) => {
    const last = index === node.args.length - 1;
    return [node.variadic && last ? `${quote(`${node.path}|`)}*` : quote(`${node.path}|${index}`), completion];
  });
}

function valueFlagPatterns(nodes: CommandNode[]): string {
  const patterns = nodes.flatMap((node) =>
    node.flags.filter((f) => f.value !== undefined).flatMap((f) => f.names.map((n) => quote(`${node.path}|${n}`))),
  );
  return patterns.length === 0 ? "'|'" : patterns.join(' | \\\n          ');
}

export interface CompletionOptions {
  /** The program's name as typed: labctl. */
  name: string;
  /** Where scenario ids come from unless the line names --catalog. */
  catalogDir: string;
}

/** A bash completion script: `source <(labctl completion bash)`. */
export function bashCompletion(program: Command, options: CompletionOptions): string {
  const nodes = commandNodes(program);
  const fn = `_${options.name.replaceAll(/[^A-Za-z0-9_]/g, '_')}`;
  const bashAction = (c: Completion): string => {
    const lines: string[] = [];
    if (c.words !== undefined && c.words.length > 0) lines.push(`${fn}_add -W ${quote(c.words.join(' '))}`);
    if (c.scenarios) lines.push(`${fn}_add -W "$(${fn}_scenarios "$catalog")"`);
    if (c.files === 'files') lines.push(`${fn}_files -f`);
    if (c.files === 'dirs') lines.push(`${fn}_files -d`);
    return lines.length === 0 ? ':' : lines.join('; ');
  };
  const valueCases = nodes.flatMap((node) =>
    node.flags
      .filter((f) => f.value !== undefined)
      .map(
        (f) =>
          `    ${f.names.map((n) => quote(`${node.path}|${n}`)).join(' | ')}) ${bashAction(f.value as Completion)} ;;`,
      ),
  );
  const flagCases = nodes.map(
    (node) => `    ${quote(node.path)}) ${fn}_add -W ${quote(node.flags.flatMap((f) => f.names).join(' '))} ;;`,
  );
  const commandCases = nodes
    .filter((node) => node.commands.length > 0)
    .map(
      (node) =>
        `      ${node.commands.map((c) => quote(`${node.path}|${c.name}`)).join(' | ')}) cmdpath=\${cmdpath:+$cmdpath }$word; continue ;;`,
    );
  const positionalCases = nodes.flatMap((node) => [
    ...(node.commands.length > 0
      ? [`    ${quote(`${node.path}|`)}*) ${fn}_add -W ${quote(node.commands.map((c) => c.name).join(' '))} ;;`]
      : []),
    ...argCases(node).map(([pattern, completion]) => `    ${pattern}) ${bashAction(completion)} ;;`),
  ]);
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
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if [[ -n $expect ]]; then
      [[ $expect == --catalog ]] && catalog=$word
      expect=''
      continue
    fi
    case $word in
      --catalog=*) catalog=\${word#--catalog=}; continue ;;
      -*=*) continue ;;
      -*)
        case "$cmdpath|$word" in
          ${valueFlagPatterns(nodes)}) expect=$word ;;
        esac
        continue
        ;;
    esac
    if ((argc == 0)); then
      case "$cmdpath|$word" in
${commandCases.join('\n')}
      esac
    fi
    argc=$((argc + 1))
  done
  if [[ -n $expect ]]; then
    case "$cmdpath|$expect" in
${valueCases.join('\n')}
    esac
    return 0
  fi
  if [[ $cur == -* ]]; then
    case $cmdpath in
${flagCases.join('\n')}
    esac
    return 0
  fi
  case "$cmdpath|$argc" in
${positionalCases.join('\n')}
  esac
  return 0
}
complete -F ${fn} ${options.name}
`;
}

/** A zsh completion script: `source <(labctl completion zsh)` after compinit, or save it as _labctl on $fpath. */
export function zshCompletion(program: Command, options: CompletionOptions): string {
  const nodes = commandNodes(program);
  const fn = `_${options.name.replaceAll(/[^A-Za-z0-9_]/g, '_')}`;
  const described = (items: { name: string; description: string }[]) =>
    items.map((item) => quote(`${item.name.replaceAll(':', '\\:')}:${item.description}`)).join(' ');
  const zshAction = (c: Completion): string => {
    const lines: string[] = [];
    if (c.words !== undefined && c.words.length > 0) lines.push(`compadd -- ${c.words.map(quote).join(' ')}`);
    if (c.scenarios) lines.push(`compadd -- $(${fn}_scenarios "$catalog")`);
    if (c.files === 'files') lines.push('_files');
    if (c.files === 'dirs') lines.push('_files -/');
    return lines.length === 0 ? ':' : lines.join('; ');
  };
  const valueCases = nodes.flatMap((node) =>
    node.flags
      .filter((f) => f.value !== undefined)
      .map(
        (f) =>
          `    ${f.names.map((n) => quote(`${node.path}|${n}`)).join(' | ')}) ${zshAction(f.value as Completion)} ;;`,
      ),
  );
  const flagCases = nodes.map((node) => {
    const items = node.flags.flatMap((f) => f.names.map((name) => ({ name, description: f.description })));
    return `    ${quote(node.path)}) flags=(${described(items)}) ;;`;
  });
  const commandCases = nodes
    .filter((node) => node.commands.length > 0)
    .map(
      (node) =>
        `      ${node.commands.map((c) => quote(`${node.path}|${c.name}`)).join(' | ')}) cmdpath=\${cmdpath:+$cmdpath }$word; continue ;;`,
    );
  const positionalCases = nodes.flatMap((node) => [
    ...(node.commands.length > 0
      ? [`    ${quote(`${node.path}|`)}*) commands=(${described(node.commands)}); _describe command commands ;;`]
      : []),
    ...argCases(node).map(([pattern, completion]) => `    ${pattern}) ${zshAction(completion)} ;;`),
  ]);
  return `#compdef ${options.name}
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

${fn}() {
  emulate -L zsh
  local cur=\${words[CURRENT]} cmdpath='' catalog=$${fn}_catalog word expect='' i argc=0
  local -a flags commands
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    if [[ -n $expect ]]; then
      [[ $expect == --catalog ]] && catalog=$word
      expect=''
      continue
    fi
    case $word in
      --catalog=*) catalog=\${word#--catalog=}; continue ;;
      -*=*) continue ;;
      -*)
        case "$cmdpath|$word" in
          ${valueFlagPatterns(nodes)}) expect=$word ;;
        esac
        continue
        ;;
    esac
    if ((argc == 0)); then
      case "$cmdpath|$word" in
${commandCases.join('\n')}
      esac
    fi
    argc=$((argc + 1))
  done
  if [[ -n $expect ]]; then
    case "$cmdpath|$expect" in
${valueCases.join('\n')}
    esac
    return 0
  fi
  if [[ $cur == -* ]]; then
    case $cmdpath in
${flagCases.join('\n')}
    esac
    _describe flag flags
    return 0
  fi
  case "$cmdpath|$argc" in
${positionalCases.join('\n')}
  esac
  return 0
}

if [[ $funcstack[1] == ${fn} ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${options.name}
fi
`;
}

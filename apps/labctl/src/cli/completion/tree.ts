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

export interface FlagNode {
  names: string[];
  description: string;
  /** Undefined for a flag that takes no value. */
  value: Completion | undefined;
}

export interface CommandNode {
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

export interface CompletionOptions {
  /** The program's name as typed: labctl. */
  name: string;
  /** Where scenario ids come from unless the line names --catalog. */
  catalogDir: string;
}

/** One shell word, single-quoted. */
export const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/** Turns what something completes to into the shell's commands. */
export type Action = (completion: Completion) => string;

/**
 * The body both shells share (bash and zsh read the same `case`/`[[ ]]` syntax): walk the words
 * before the cursor to find the command path (`scenario test`), the flag whose value is being
 * typed and how many arguments came already; then complete a flag's value, a flag, a subcommand
 * or an argument. `words` and `first` say where the shell keeps the words; `flags` completes the
 * flags of `$cmdpath`; `commands` the subcommands of a node.
 */
export function completionBody(
  nodes: CommandNode[],
  shell: {
    words: string;
    first: number;
    current: string;
    action: Action;
    flags: (node: CommandNode) => string;
    commands: (node: CommandNode) => string;
  },
): string {
  const valued = nodes.flatMap((node) => node.flags.filter((f) => f.value !== undefined).map((f) => ({ node, f })));
  const valueFlagPatterns =
    valued.length === 0
      ? "'|'"
      : valued.flatMap(({ node, f }) => f.names.map((n) => quote(`${node.path}|${n}`))).join(' | \\\n          ');
  const valueCases = valued.map(
    ({ node, f }) =>
      `    ${f.names.map((n) => quote(`${node.path}|${n}`)).join(' | ')}) ${shell.action(f.value as Completion)} ;;`,
  );
  const commandCases = nodes
    .filter((node) => node.commands.length > 0)
    .map(
      (node) =>
        `      ${node.commands.map((c) => quote(`${node.path}|${c.name}`)).join(' | ')}) cmdpath=\${cmdpath:+$cmdpath }$word; continue ;;`,
    );
  const flagCases = nodes.map((node) => `    ${quote(node.path)}) ${shell.flags(node)} ;;`);
  const positionalCases = nodes.flatMap((node) => [
    ...(node.commands.length > 0 ? [`    ${quote(`${node.path}|`)}*) ${shell.commands(node)} ;;`] : []),
    // the variadic last argument matches any count past it
    ...node.args.map((completion, index) => {
      const pattern =
        node.variadic && index === node.args.length - 1 ? `${quote(`${node.path}|`)}*` : quote(`${node.path}|${index}`);
      return `    ${pattern}) ${shell.action(completion)} ;;`;
    }),
  ]);
  return `  for ((i = ${shell.first}; i < ${shell.current}; i++)); do
    word=\${${shell.words}[i]}
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
          ${valueFlagPatterns}) expect=$word ;;
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
  return 0`;
}

/** The completion function's name: _labctl. */
export const functionName = (name: string) => `_${name.replaceAll(/[^A-Za-z0-9_]/g, '_')}`;

/** A `/lab` invocation, parsed. */
export type LabCommand =
  | { kind: 'help' }
  | { kind: 'list' }
  | { kind: 'start'; scenario: string }
  | { kind: 'status' }
  | { kind: 'open' }
  | { kind: 'check' }
  | { kind: 'hint' }
  | { kind: 'extend' }
  | { kind: 'stop' }
  | { kind: 'key'; publicKey: string }
  | { kind: 'admin-labs' }
  | { kind: 'admin-release'; labId: string }
  | { kind: 'invalid'; message: string };

const SIMPLE = ['help', 'list', 'status', 'open', 'check', 'hint', 'extend', 'stop'] as const;

/** Parses the text after `/lab`. Never throws: bad input becomes `invalid` with what to type. */
export function parseCommand(text: string): LabCommand {
  const trimmed = text.trim();
  const [word = '', ...rest] = trimmed.split(/\s+/);
  const name = word.toLowerCase();
  const argument = trimmed.slice(word.length).trim();
  if (name === '') return { kind: 'help' };
  if ((SIMPLE as readonly string[]).includes(name)) {
    if (rest.length > 0) return { kind: 'invalid', message: `\`/lab ${name}\` takes no arguments` };
    return { kind: name as (typeof SIMPLE)[number] };
  }
  switch (name) {
    case 'start': {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(argument)) {
        return { kind: 'invalid', message: 'say which scenario: `/lab start <scenario>` (see `/lab list`)' };
      }
      return { kind: 'start', scenario: argument };
    }
    case 'key':
      if (argument === '')
        return { kind: 'invalid', message: 'paste your public key: `/lab key ssh-ed25519 AAAA... you@laptop`' };
      return { kind: 'key', publicKey: argument };
    case 'admin': {
      const [sub = '', id] = rest;
      if (sub === 'labs' && id === undefined) return { kind: 'admin-labs' };
      if (sub === 'release' && id !== undefined && rest.length === 2) return { kind: 'admin-release', labId: id };
      return { kind: 'invalid', message: 'admin commands: `/lab admin labs`, `/lab admin release <lab id>`' };
    }
    default:
      return { kind: 'invalid', message: `there is no \`/lab ${name}\`; try \`/lab help\`` };
  }
}

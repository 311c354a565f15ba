import { InvalidInputError } from '@breakfix/core';
import { parse } from 'yaml';

/** What a simulated VM needs from its cloud-init user-data: who may log in and which host keys it shows. */
export interface GuestIdentity {
  hostname: string | undefined;
  hostKeys: { type: 'ed25519' | 'ecdsa' | 'rsa'; privateKey: string; publicKey: string | undefined }[];
  /** `sudo`: the user's sudoers rules (cloud-init writes them to /etc/sudoers.d/90-cloud-init-users). */
  users: { name: string; authorizedKeys: string[]; sudo?: string[] }[];
  /** cloud-init `write_files` entries (path, content, octal mode). */
  files: { path: string; content: string; mode: number }[];
  /** cloud-init `runcmd`, each command as one string. */
  runcmd: string[];
}

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;

interface CloudConfig {
  hostname?: unknown;
  ssh_keys?: Record<string, unknown>;
  ssh_authorized_keys?: unknown;
  users?: unknown;
  write_files?: unknown;
  runcmd?: unknown;
}

/**
 * Reads the parts of a `#cloud-config` document that cloud-init's ssh and users modules act on
 * (https://cloudinit.readthedocs.io/en/latest/reference/modules.html#ssh): `ssh_keys.<type>_private`
 * / `_public`, `users[].ssh_authorized_keys`, and top-level `ssh_authorized_keys` for the default user.
 */
export function parseGuestIdentity(userData: string, defaultUser = 'ubuntu'): GuestIdentity {
  if (!userData.startsWith('#cloud-config')) {
    throw new InvalidInputError('user-data is not a #cloud-config document; the simulator reads only that format');
  }
  const config = (parse(userData) ?? {}) as CloudConfig;
  const hostKeys: GuestIdentity['hostKeys'] = [];
  for (const type of KEY_TYPES) {
    const privateKey = config.ssh_keys?.[`${type}_private`];
    if (typeof privateKey !== 'string') continue;
    const publicKey = config.ssh_keys?.[`${type}_public`];
    hostKeys.push({ type, privateKey, publicKey: typeof publicKey === 'string' ? publicKey : undefined });
  }

  const users = new Map<string, string[]>();
  const sudoRules = new Map<string, string[]>();
  const addKeys = (name: string, keys: unknown) => {
    if (!USER_NAME.test(name) || name === 'root') {
      throw new InvalidInputError(`user-data names user "${name}", which the simulator will not create`);
    }
    const list = users.get(name) ?? [];
    if (Array.isArray(keys)) list.push(...keys.filter((k): k is string => typeof k === 'string'));
    users.set(name, list);
  };
  if (Array.isArray(config.users)) {
    for (const entry of config.users) {
      if (entry === 'default') addKeys(defaultUser, []);
      else if (typeof entry === 'object' && entry !== null && typeof (entry as { name?: unknown }).name === 'string') {
        const user = entry as { name: string; ssh_authorized_keys?: unknown; sudo?: unknown };
        addKeys(user.name, user.ssh_authorized_keys);
        const rules = (Array.isArray(user.sudo) ? user.sudo : [user.sudo]).filter(
          (rule): rule is string => typeof rule === 'string',
        );
        if (rules.length > 0) sudoRules.set(user.name, rules);
      }
    }
  }
  if (config.ssh_authorized_keys !== undefined) addKeys(defaultUser, config.ssh_authorized_keys);

  const files = (Array.isArray(config.write_files) ? config.write_files : []).flatMap((entry: unknown) => {
    const file = entry as { path?: unknown; content?: unknown; permissions?: unknown };
    if (typeof file.path !== 'string' || !file.path.startsWith('/')) return [];
    const mode = typeof file.permissions === 'string' ? Number.parseInt(file.permissions, 8) : 0o644;
    return [
      {
        path: file.path,
        content: typeof file.content === 'string' ? file.content : '',
        mode: Number.isNaN(mode) ? 0o644 : mode,
      },
    ];
  });
  const runcmd = (Array.isArray(config.runcmd) ? config.runcmd : []).map((command: unknown) =>
    Array.isArray(command) ? command.map(String).join(' ') : String(command),
  );
  return {
    hostname: typeof config.hostname === 'string' ? config.hostname : undefined,
    files,
    runcmd,
    hostKeys,
    users: [...users].map(([name, authorizedKeys]) => {
      const sudo = sudoRules.get(name);
      return sudo === undefined ? { name, authorizedKeys } : { name, authorizedKeys, sudo };
    }),
  };
}

import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError } from '@breakfix/core';
import { stringify } from 'yaml';
import { SCENARIO_FILE, type ScenarioFile } from './schema.js';

export interface ScenarioDraft {
  spec: Omit<ScenarioFile, 'scripts' | 'egress' | 'simulator' | 'nodes' | 'cni' | 'decoys'> & {
    egress?: ScenarioFile['egress'];
    simulator?: boolean;
    nodes?: ScenarioFile['nodes'];
    scripts?: ScenarioFile['scripts'];
    decoys?: ScenarioFile['decoys'];
  };
  /** File name -> content; written with mode 0755. */
  files: Record<string, string>;
}

/** Writes a scenario folder; refuses to overwrite a folder that has files in it. */
export function writeScenario(dir: string, draft: ScenarioDraft): string {
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new ConflictError(`${dir} already exists and is not empty`, { hint: 'pick another --out, or remove it' });
  mkdirSync(dir, { recursive: true });
  const { scripts, decoys, ...rest } = draft.spec;
  const ordered = {
    ...rest,
    ...(scripts === undefined || Object.keys(scripts).length === 0 ? {} : { scripts }),
    ...(decoys === undefined || decoys.length === 0 ? {} : { decoys }),
  };
  writeFileSync(join(dir, SCENARIO_FILE), stringify(ordered, { lineWidth: 100 }));
  for (const [name, content] of Object.entries(draft.files))
    writeFileSync(join(dir, name), content.endsWith('\n') ? content : `${content}\n`, { mode: 0o755 });
  return dir;
}

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InvalidInputError } from '@breakfix/core';
import { KUBERNETES_RELEASES, MAX_WORKERS } from '@breakfix/manifests';
import { parse } from 'yaml';
import { z } from 'zod';
import type { Phase, ScenarioFile } from '../schema.js';
import { writeScenario } from '../write.js';
import type { ImportResult } from './killercoda.js';
import { slug } from './killercoda.js';
import { detailsBlocks, hintText, scriptBody, withoutDetails } from './markdown.js';
import {
  DECOY_FILE,
  DECOY_PLACEHOLDER,
  DECOY_WARNING,
  KUBECTL_TIMEOUT_SHIM,
  renameNodes,
  SETTLE_SHIM,
  withDeadline,
} from './shims.js';

const trackSchema = z.looseObject({
  title: z.string().min(1),
  teaser: z.string().optional(),
  description: z.string().optional(),
  level: z.string().optional(),
  tags: z.array(z.string()).optional(),
});
const configSchema = z.looseObject({
  virtualmachines: z.array(z.looseObject({ name: z.string() })).default([]),
  containers: z.array(z.looseObject({ name: z.string() })).default([]),
});
const assignmentSchema = z.looseObject({
  title: z.string().default(''),
  teaser: z.string().optional(),
  difficulty: z.string().optional(),
  timelimit: z.number().optional(),
});

/** Instruqt's lifecycle scripts, per host, and the breakfix phase each becomes. */
const LIFECYCLE: Record<string, Phase> = { setup: 'break', check: 'check', solve: 'solve' };

/**
 * Check scripts on Instruqt report through `fail-message "..."`, a helper Instruqt puts on the
 * PATH. Here it prints the message as a feedback line and fails the check.
 */
const FAIL_MESSAGE_SHIM = 'fail-message() {\n  echo "$*"\n  exit 1\n}';

/**
 * Instruqt track -> breakfix scenario. Hosts from config.yml become nodes (a host named like a
 * control plane, else the first, is `cp`; the others `w1`, `w2`...); track_scripts and each
 * challenge's setup-/check-/solve-<host> become break/check/solve scripts on that node, in order;
 * assignments become the brief and their `<details>` blocks the hints.
 */
export function importInstruqt(sourceDir: string, outDir: string, options: { id?: string } = {}): ImportResult {
  const source = resolve(sourceDir);
  const readYaml = (file: string) => {
    const path = join(source, file);
    if (!existsSync(path)) throw new InvalidInputError(`${path} not found: not an Instruqt track folder`);
    return parse(readFileSync(path, 'utf8')) as unknown;
  };
  const track = trackSchema.parse(readYaml('track.yml'));
  const config = configSchema.parse(readYaml('config.yml'));
  const hosts = [...config.virtualmachines, ...config.containers].map((h) => h.name);
  if (hosts.length === 0) throw new InvalidInputError(`${join(source, 'config.yml')} names no host`);
  const controlPlane = hosts.find((h) => /control|master|^cp$|server/i.test(h)) ?? hosts[0] ?? '';
  const workers = hosts.filter((h) => h !== controlPlane);
  if (workers.length > MAX_WORKERS)
    throw new InvalidInputError(`the track has ${hosts.length} hosts; a breakfix lab has at most ${MAX_WORKERS + 1}`);
  const nodeOf = (host: string) => (host === controlPlane ? 'cp' : `w${workers.indexOf(host) + 1}`);

  const warnings: string[] = [];
  const files: Record<string, string> = {};
  const scripts: Required<NonNullable<ScenarioFile['scripts']>> = { break: [], check: [], solve: [] };
  const collect = (dir: string, label: string) => {
    for (const [lifecycle, phase] of Object.entries(LIFECYCLE)) {
      for (const host of hosts) {
        const path = join(dir, `${lifecycle}-${host}`);
        if (!existsSync(path)) continue;
        const node = nodeOf(host);
        const name = `${phase}-${label}-${node}.sh`;
        const body = scriptBody(readFileSync(path, 'utf8'));
        const renamed = renameNodes(body, Object.fromEntries(hosts.map((h) => [h, nodeOf(h)])));
        files[name] = [
          '#!/bin/bash',
          `# Imported from Instruqt: ${basename(dir)}/${lifecycle}-${host}`,
          ...(phase === 'check' ? [FAIL_MESSAGE_SHIM, KUBECTL_TIMEOUT_SHIM] : []),
          ...(phase === 'check' ? [renamed] : withDeadline(renamed, phase === 'solve')),
          ...(phase === 'solve' ? [SETTLE_SHIM] : []),
          '',
        ].join('\n');
        scripts[phase].push({ run: name, on: node });
      }
    }
  };
  if (existsSync(join(source, 'track_scripts'))) collect(join(source, 'track_scripts'), 'track');

  const challenges = readdirSync(source)
    .filter((entry) => statSync(join(source, entry)).isDirectory() && existsSync(join(source, entry, 'assignment.md')))
    .sort();
  if (challenges.length === 0) throw new InvalidInputError(`${source} has no challenge folder with an assignment.md`);
  const briefs: string[] = [track.description ?? track.teaser ?? ''];
  const hints: string[] = [];
  let seconds = 0;
  let difficulty: ScenarioFile['difficulty'] = levelOf(track.level);
  for (const challenge of challenges) {
    const text = readFileSync(join(source, challenge, 'assignment.md'), 'utf8');
    const { front, body } = frontMatter(text);
    const assignment = assignmentSchema.parse(front);
    seconds += assignment.timelimit ?? 0;
    if (assignment.difficulty !== undefined) difficulty = levelOf(assignment.difficulty);
    briefs.push(`## ${assignment.title || challenge}\n\n${withoutDetails(body)}`);
    hints.push(...detailsBlocks(body).map(hintText));
    collect(join(source, challenge), challenge.replace(/^(\d+)-.*$/, 'c$1'));
  }
  for (const phase of ['break', 'check', 'solve'] as const) {
    if (scripts[phase].length > 0) continue;
    const what = { break: 'setup', check: 'check', solve: 'solve' }[phase];
    throw new InvalidInputError(`${source}: no ${what}-<host> script in any challenge: nothing to ${phase} with`);
  }
  if (hints.length < 2) warnings.push(`only ${hints.length} <details> block(s) in the assignments: add hints`);
  files[DECOY_FILE] = DECOY_PLACEHOLDER;
  warnings.push(DECOY_WARNING);

  const dir = writeScenario(resolve(outDir), {
    spec: {
      id: options.id ?? slug(basename(resolve(outDir))),
      title: track.title,
      brief: briefs.filter((b) => b.trim() !== '').join('\n\n'),
      difficulty,
      tags: ['imported', 'instruqt', ...(track.tags ?? []).map(slug)],
      kubernetesVersions: KUBERNETES_RELEASES.map((r) => r.minor),
      topology: { workers: workers.length },
      timeLimitMinutes: Math.min(240, Math.max(5, Math.ceil(seconds / 60) || 30)),
      hints,
      scripts,
      decoys: [{ run: DECOY_FILE, on: 'control-plane' }],
    },
    files,
  });
  return { dir, warnings };
}

function levelOf(level: string | undefined): ScenarioFile['difficulty'] {
  if (level === undefined) return 'intermediate';
  if (/basic|beginner|easy/i.test(level)) return 'beginner';
  if (/expert|advanced|hard/i.test(level)) return 'advanced';
  return 'intermediate';
}

function frontMatter(text: string): { front: unknown; body: string } {
  const match = /^---\n([\s\S]*?)\n---\n?([\s\S]*)$/.exec(text);
  if (match === null) return { front: {}, body: text };
  return { front: parse(match[1] ?? '') ?? {}, body: match[2] ?? '' };
}

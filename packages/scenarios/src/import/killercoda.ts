import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InvalidInputError } from '@breakfix/core';
import { KUBERNETES_RELEASES } from '@breakfix/manifests';
import { z } from 'zod';
import { writeScenario } from '../write.js';
import { codeBlocks, detailsBlocks, hintText, isSolution, scriptBody, withoutDetails } from './markdown.js';
import { type Segment, splitRemoteCommands } from './remote.js';
import {
  DECOY_FILE,
  DECOY_PLACEHOLDER,
  DECOY_WARNING,
  KUBECTL_TIMEOUT_SHIM,
  renameNodes,
  SETTLE_SHIM,
  withDeadline,
} from './shims.js';

/** Killercoda's kubeadm images name their nodes `controlplane` and `node01`. */
const NODE_NAMES = { controlplane: 'cp', node01: 'w1' };
/** Where Killercoda scripts send commands with `ssh node01 ...`: that lab node runs them instead. */
const REMOTE_NODES = { node01: 'w1' };

interface ImportedScript {
  file: string;
  on: string;
  content: string;
}

/** The parts of Killercoda's index.json we read (https://killercoda.com/creators). */
const indexSchema = z.looseObject({
  title: z.string().min(1),
  description: z.string().optional(),
  details: z.looseObject({
    intro: z
      .looseObject({
        text: z.string().optional(),
        background: z.string().optional(),
        foreground: z.string().optional(),
      })
      .optional(),
    steps: z
      .array(
        z.looseObject({
          title: z.string().default(''),
          text: z.string().optional(),
          verify: z.string().optional(),
          background: z.string().optional(),
        }),
      )
      .default([]),
    finish: z.looseObject({ text: z.string().optional() }).optional(),
  }),
  backend: z.looseObject({ imageid: z.string().optional() }).optional(),
});

export interface ImportResult {
  dir: string;
  /** What the source lacked and the author should add by hand. */
  warnings: string[];
}

/**
 * Killercoda scenario -> breakfix scenario. Background scripts (intro, then steps) become break
 * scripts; each step's verify becomes a check that names the step it failed; intro and step texts
 * become the brief; `<details>` blocks become hints, and the code of a "Solution" block the solve
 * script. Scripts run on the control plane, as on Killercoda, except what they sent to the worker
 * with `ssh node01 ...`: those commands become scripts of their own that run on w1, in order.
 */
export function importKillercoda(sourceDir: string, outDir: string, options: { id?: string } = {}): ImportResult {
  const source = resolve(sourceDir);
  const indexFile = join(source, 'index.json');
  if (!existsSync(indexFile)) throw new InvalidInputError(`${indexFile} not found: not a Killercoda scenario folder`);
  const parsed = indexSchema.safeParse(JSON.parse(readFileSync(indexFile, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidInputError(`${indexFile}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const index = parsed.data;
  const read = (file: string | undefined) => (file === undefined ? '' : readFileSync(join(source, file), 'utf8'));
  const warnings: string[] = [];

  const texts = [read(index.details.intro?.text), ...index.details.steps.map((s) => read(s.text))];
  const brief = [
    index.description ?? '',
    ...texts.map((text, i) => {
      const body = withoutDetails(text);
      const step = i === 0 ? undefined : index.details.steps[i - 1];
      return step === undefined || step.title === '' ? body : `## ${step.title}\n\n${body}`;
    }),
  ]
    .filter((part) => part.trim() !== '')
    .join('\n\n');
  const blocks = texts.flatMap(detailsBlocks);
  const hints = blocks.map(hintText);
  const solution = blocks.filter(isSolution).flatMap((b) => codeBlocks(b.body));

  /**
   * One source script as breakfix scripts: the parts it sent over `ssh node01` run on w1 in
   * order, the rest on the control plane; node names renamed in each.
   */
  const split = (base: string, source: string, wrap: (body: string) => string): ImportedScript[] => {
    const { segments, unmoved, crossingVariables } = splitRemoteCommands(source, REMOTE_NODES);
    if (unmoved > 0)
      warnings.push(
        `${base}.sh reaches node01 with ssh in a form that cannot be moved (inside $(...), a pipe or a condition): move those commands into a script with \`on: w1\``,
      );
    if (crossingVariables.length > 0)
      warnings.push(
        `${base}: the commands moved to w1 use ${crossingVariables.map((v) => `$${v}`).join(', ')}, set on the control plane: set them again in the w1 script`,
      );
    const parts: Segment[] = segments.length === 0 ? [{ on: 'control-plane', body: '' }] : segments;
    return parts.map((segment, i) => {
      const suffix = parts.length === 1 ? '' : `-${i + 1}`;
      const node = segment.on === 'control-plane' ? '' : `-${segment.on}`;
      return {
        file: `${base}${suffix}${node}.sh`,
        on: segment.on,
        content: renameNodes(wrap(segment.body), NODE_NAMES),
      };
    });
  };

  const breaks: ImportedScript[] = [];
  const backgrounds: [string, string | undefined][] = [
    ['break-intro', index.details.intro?.background],
    ...index.details.steps.map((s, i): [string, string | undefined] => [`break-step${i + 1}`, s.background]),
  ];
  for (const [name, file] of backgrounds) {
    if (file === undefined) continue;
    breaks.push(
      ...split(
        name,
        scriptBody(read(file)),
        (body) => `#!/bin/bash\n# Imported from Killercoda: ${file}\n${withDeadline(body).join('\n')}\n`,
      ),
    );
  }
  if (breaks.length === 0) throw new InvalidInputError(`${indexFile} has no background script: nothing breaks the lab`);

  const checks: ImportedScript[] = [];
  index.details.steps.forEach((step, i) => {
    if (step.verify === undefined) return;
    const label = step.title === '' ? `Step ${i + 1}` : `Step ${i + 1} (${step.title})`;
    const wrap = (body: string) =>
      [
        '#!/bin/bash',
        `# Imported from Killercoda: ${step.verify}, which answers by exit code only.`,
        KUBECTL_TIMEOUT_SHIM,
        'verify() {',
        body,
        '}',
        'if ! (verify) >/dev/null 2>&1; then',
        `  echo ${JSON.stringify(`${label} is not done yet.`)}`,
        '  exit 1',
        'fi',
        '',
      ].join('\n');
    checks.push(...split(`check-step${i + 1}`, scriptBody(read(step.verify)), wrap));
  });
  if (checks.length === 0) throw new InvalidInputError(`${indexFile} has no verify script: nothing can check the lab`);

  let solves: ImportedScript[];
  if (solution.length === 0) {
    warnings.push('no "Solution" <details> block with code: solve.sh fails until you write it');
    solves = [
      {
        file: 'solve.sh',
        on: 'control-plane',
        content: '#!/bin/bash\necho "This scenario came without a solution; write solve.sh." >&2\nexit 1\n',
      },
    ];
  } else {
    solves = split(
      'solve',
      solution.join('\n'),
      (body) =>
        `#!/bin/bash\n# From the "Solution" blocks of the Killercoda texts.\nset -euo pipefail\n${withDeadline(body, true).join('\n')}\n${SETTLE_SHIM}\n`,
    );
  }
  const files: Record<string, string> = Object.fromEntries(
    [...breaks, ...checks, ...solves].map((script) => [script.file, script.content]),
  );
  files[DECOY_FILE] = DECOY_PLACEHOLDER;
  warnings.push(DECOY_WARNING);
  if (hints.length < 2) warnings.push(`only ${hints.length} <details> block(s): add hints until there are two`);

  const id = options.id ?? slug(basename(resolve(outDir)));
  const image = index.backend?.imageid ?? '';
  const dir = writeScenario(resolve(outDir), {
    spec: {
      id,
      title: index.title,
      brief,
      difficulty: 'intermediate',
      tags: ['imported', 'killercoda'],
      kubernetesVersions: KUBERNETES_RELEASES.map((r) => r.minor),
      // Killercoda's kubeadm images: "kubernetes-kubeadm-1node" and "-2nodes" (controlplane + node01).
      topology: { workers: /2nodes/.test(image) ? 1 : 0 },
      timeLimitMinutes: 30,
      hints,
      scripts: {
        break: breaks.map(({ file, on }) => ({ run: file, on })),
        check: checks.map(({ file, on }) => ({ run: file, on })),
        solve: solves.map(({ file, on }) => ({ run: file, on })),
      },
      decoys: [{ run: DECOY_FILE, on: 'control-plane' }],
    },
    files,
  });
  return { dir, warnings };
}

export function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 50)
      .replace(/-+$/, '') || 'imported'
  );
}

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '@breakfix/core';
import { parseDocument } from 'yaml';
import {
  type NodeSelector,
  PHASES,
  SCENARIO_FILE,
  type Scenario,
  type ScenarioScript,
  type ScriptPurpose,
  scenarioFileSchema,
} from './schema.js';

/** The repository's catalog: one folder per scenario under `scenarios/`. */
export const DEFAULT_CATALOG_DIR = fileURLToPath(new URL('../../../scenarios', import.meta.url));

/** One thing wrong with a scenario: the file, the field in it (or `line N` of a script) and what to do. */
export interface Problem {
  file: string;
  field?: string;
  message: string;
}

export function formatProblem(problem: Problem): string {
  return `${problem.file}${problem.field === undefined ? '' : `: ${problem.field}`}: ${problem.message}`;
}

/**
 * Reads and validates one scenario folder without throwing: every problem found, and the scenario
 * when there were none. loadScenario and the linter both start here.
 */
export function inspectScenario(dir: string): { scenario?: Scenario; problems: Problem[] } {
  const folder = resolve(dir);
  const file = join(folder, SCENARIO_FILE);
  if (!existsSync(file)) return { problems: [{ file, message: 'missing: every scenario folder has one' }] };

  const document = parseDocument(readFileSync(file, 'utf8'), { prettyErrors: true });
  if (document.errors.length > 0) {
    return {
      problems: document.errors.map((error) => ({
        file,
        ...(error.linePos?.[0] === undefined ? {} : { field: `line ${error.linePos[0].line}` }),
        message: `invalid YAML: ${(error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    };
  }
  const parsed = scenarioFileSchema.safeParse(document.toJS());
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((issue) => ({
        file,
        field: fieldPath(issue.path),
        message: issue.message,
      })),
    };
  }
  const spec = parsed.data;
  const problems: Problem[] = [];
  if (spec.id !== basename(folder)) {
    problems.push({
      file,
      field: 'id',
      message: `is "${spec.id}" but the folder is "${basename(folder)}"; rename one`,
    });
  }

  /** A script reference as a ScenarioScript, or undefined (and a problem) when its file is missing. */
  const resolveRef = (
    ref: { run: string; on: string },
    field: string,
    purpose: ScriptPurpose,
    runField = `${field}.run`,
  ): ScenarioScript | undefined => {
    const path = join(folder, ref.run);
    if (!existsSync(path) || !statSync(path).isFile()) {
      problems.push({ file, field: runField, message: `refers to ${ref.run}, which does not exist in ${folder}` });
      return undefined;
    }
    const on = ref.on as NodeSelector;
    const worker = /^w(\d)$/.exec(on);
    if (worker !== null && Number(worker[1]) > spec.topology.workers) {
      problems.push({
        file,
        field: `${field}.on`,
        message: `runs on ${on} but topology.workers is ${spec.topology.workers}`,
      });
    }
    if (on === 'workers' && spec.topology.workers === 0) {
      problems.push({ file, field: `${field}.on`, message: 'runs on the workers but topology.workers is 0' });
    }
    return { phase: purpose, file: ref.run, path, on, content: readFileSync(path, 'utf8') };
  };

  const scripts = {} as Scenario['scripts'];
  for (const phase of PHASES) {
    const listed = spec.scripts[phase];
    scripts[phase] = [];
    if (listed === undefined) {
      // An absent phase runs <phase>.sh on the control plane; a missing file is named by the phase.
      const script = resolveRef(
        { run: `${phase}.sh`, on: 'control-plane' },
        `scripts.${phase}`,
        phase,
        `scripts.${phase}`,
      );
      if (script !== undefined) scripts[phase].push(script);
      continue;
    }
    listed.forEach((ref, index) => {
      const script = resolveRef(ref, `scripts.${phase}.${index}`, phase);
      if (script !== undefined) scripts[phase].push(script);
    });
  }
  const decoys = spec.decoys.flatMap((ref, index) => resolveRef(ref, `decoys.${index}`, 'decoy') ?? []);
  if (problems.length > 0) return { problems };

  return {
    scenario: {
      id: spec.id,
      title: spec.title,
      brief: spec.brief,
      difficulty: spec.difficulty,
      tags: spec.tags,
      kubernetesVersions: [...new Set(spec.kubernetesVersions)],
      topology: { workers: spec.topology.workers },
      cni: spec.cni,
      timeLimitMinutes: spec.timeLimitMinutes,
      egress: spec.egress,
      simulator: spec.simulator,
      nodes: spec.nodes,
      hints: spec.hints,
      dir: folder,
      scripts,
      decoys,
    },
    problems,
  };
}

/** Loads one scenario folder; throws InvalidInputError naming the file and field of every problem. */
export function loadScenario(dir: string): Scenario {
  const { scenario, problems } = inspectScenario(dir);
  if (scenario === undefined) throw invalid(problems);
  return scenario;
}

/** The folders of a catalog that hold a scenario (any folder with a scenario.yaml), sorted. */
export function scenarioDirs(rootDir: string): string[] {
  const root = resolve(rootDir);
  if (!existsSync(root)) throw new InvalidInputError(`catalog folder ${root} does not exist`);
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => join(root, entry.name))
    .filter((dir) => existsSync(join(dir, SCENARIO_FILE)))
    .sort();
}

/** Loads every scenario under `rootDir`, keyed by id; throws on the first catalog with problems. */
export function loadCatalog(rootDir: string = DEFAULT_CATALOG_DIR): Map<string, Scenario> {
  const catalog = new Map<string, Scenario>();
  const problems: Problem[] = [];
  for (const dir of scenarioDirs(rootDir)) {
    const result = inspectScenario(dir);
    problems.push(...result.problems);
    if (result.scenario !== undefined) catalog.set(result.scenario.id, result.scenario);
  }
  if (problems.length > 0) throw invalid(problems);
  return catalog;
}

function invalid(problems: Problem[]): InvalidInputError {
  return new InvalidInputError(`invalid scenario: ${problems.map(formatProblem).join('; ')}`, {
    hint: 'run `labctl scenario lint <dir>` for every problem with its file and field',
  });
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

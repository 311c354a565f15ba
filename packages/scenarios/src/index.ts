export {
  LabNeedsAttentionError,
  ScenarioScriptError,
  ScenarioScriptTimeoutError,
  type ScriptRef,
} from './errors.js';
export { importInstruqt } from './import/instruqt.js';
export { type ImportResult, importKillercoda } from './import/killercoda.js';
export { type LintOptions, lintCatalog, lintScenario } from './lint.js';
export {
  DEFAULT_CATALOG_DIR,
  formatProblem,
  inspectScenario,
  loadCatalog,
  loadScenario,
  type Problem,
  scenarioDirs,
} from './load.js';
export { noPoolMessage, type PoolShape, poolsServing, poolToAdd } from './pools.js';
export {
  type CheckResult,
  createScenarioRunner,
  type LabTargets,
  MAX_FEEDBACK_LINE_CHARS,
  MAX_FEEDBACK_LINES,
  type ScenarioRunner,
  type ScenarioRunnerOptions,
  type StepResult,
} from './runner.js';
export { scaffoldScenario } from './scaffold.js';
export {
  type NodeSelector,
  PHASES,
  type Phase,
  SCENARIO_FILE,
  type Scenario,
  type ScenarioFile,
  type ScenarioScript,
  type ScriptPurpose,
  scenarioFileSchema,
} from './schema.js';
export { type SelfTestOptions, type SelfTestReport, type SelfTestStep, selfTest } from './self-test.js';

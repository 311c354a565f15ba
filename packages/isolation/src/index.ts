export { type AnalyzerRule, analyze, type IsolationReport } from './analyze.js';
export { type ClusterModel, modelCluster } from './model.js';
export { connectivityMap, resolveNca } from './nca.js';
export { type VerifyOptions, verifyIsolation } from './verify.js';

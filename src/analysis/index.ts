// Public surface of the canary judge: what the engine, the spec schema and the API use.
export { ANALYSIS_DEFAULTS, type AnalysisConfig, analysisConfig } from './config.js';
export { type Histogram, p99FromHistogram, quantileFromHistogram } from './histogram.js';
export {
  type Decision,
  type JudgeInput,
  judge,
  type RevisionFigures,
  type Verdict,
  type VerdictCode,
} from './judge.js';
export { type WindowStats, windowDelta } from './window.js';

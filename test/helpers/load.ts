export { type LoadOptions, type LoadReport, percentile, startLoad } from '../../src/testing/load.js';

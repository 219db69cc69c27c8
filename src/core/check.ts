/** One finding of `baton doctor`. `warn` does not fail it. */
export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** What to do about it, when it is not ok. */
  fix?: string;
}

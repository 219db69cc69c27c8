/**
 * One cloud API call a driver would make, as `baton plan` prints it: the operation, method and path in
 * the API's own terms, the body, and what the driver then waits for. Drivers built with a `CallLog`
 * (dry run) read for real — to find what exists — and record their writes here instead of sending them.
 */
export interface PlannedCall {
  op: string;
  /** Absent for a wait that is no call (a drain period). */
  method?: 'POST' | 'PUT' | 'DELETE' | 'GET' | undefined;
  path?: string | undefined;
  body?: unknown;
  /** What follows the call, e.g. `then GetWorkRequest until SUCCEEDED`. */
  awaits?: string | undefined;
}

export class CallLog {
  readonly calls: PlannedCall[] = [];

  add(call: PlannedCall): void {
    this.calls.push(call);
  }

  /** One line per call: `POST /20210415/containerInstances {…} — then …`. */
  lines(): string[] {
    return this.calls.map(
      (c) =>
        `${c.op}:${c.method ? ` ${c.method} ${c.path}` : ''}${c.body === undefined ? '' : ` ${JSON.stringify(c.body)}`}${c.awaits ? ` — then ${c.awaits}` : ''}`,
    );
  }
}

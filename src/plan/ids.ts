/** Deterministic id of the n-th instance a deployment creates (n from 1). */
export function instanceId(service: string, revision: number, deployment: string, n: number): string {
  return `${service}-r${revision}-${deployment.slice(0, 8)}-${n}`;
}

/** Ids for `count` new instances, skipping ones already observed (a resumed plan). */
export function newInstanceIds(
  service: string,
  revision: number,
  deployment: string,
  count: number,
  taken: ReadonlySet<string>,
  from = 1,
): { ids: string[]; next: number } {
  const ids: string[] = [];
  let n = from;
  while (ids.length < count) {
    const id = instanceId(service, revision, deployment, n++);
    if (!taken.has(id)) ids.push(id);
  }
  return { ids, next: n };
}

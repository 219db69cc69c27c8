import { SpecError, type SpecIssue } from '../core/errors.js';
import type { ServiceSpec } from '../spec/schema.js';
import { sharedListenerIssues } from '../spec/tls.js';
import type { Repo } from '../store/repo.js';

/**
 * Refuses a deploy whose `traffic` cannot share its listener with the services already deployed (from
 * any baton.yaml): the same host + path prefix, a second default service, TLS mixed with plain HTTP.
 * Checked before anything starts, so a refused deploy changes nothing (exit 2, naming the other service).
 */
export async function refuseListenerClash(repo: Repo, service: string, spec: ServiceSpec): Promise<void> {
  if (spec.traffic.router.kind !== 'proxy') return;
  const services: Record<string, { traffic: ServiceSpec['traffic'] }> = {};
  for (const s of await repo.listServices()) {
    if (s.name === service || s.current === null || s.destroyed !== undefined) continue;
    const rev = await repo.getRevision(s.name, s.current);
    if (rev && rev.spec.traffic.listen === spec.traffic.listen) services[s.name] = rev.spec;
  }
  if (Object.keys(services).length === 0) return;
  // The new service last: the issues land on its fields.
  services[service] = spec;
  const issues: SpecIssue[] = [];
  sharedListenerIssues(services, (name, path, message) => {
    if (name !== service) return;
    issues.push({
      file: '<control plane>',
      line: 0,
      column: 0,
      path: ['services', service, 'traffic', ...path].join('.'),
      message: `${message} (deployed earlier, possibly from another baton.yaml)`,
    });
  });
  if (issues.length > 0) throw new SpecError(issues);
}

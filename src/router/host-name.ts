/** One DNS label: letters, digits, hyphens inside, 1-63 characters (names are compared in lower case). */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * What is wrong with a `traffic.hosts` entry, or undefined: a bare host name, no scheme, no port, no
 * path; a wildcard only as the whole first label (`*.example.com`), as TLS certificates have them.
 */
export function hostProblem(host: string): string | undefined {
  if (host.includes('://')) return 'a host name without scheme (no http:// or https://)';
  if (host.includes('/')) return 'a host name without path';
  if (/:\d*$/.test(host) || host.includes(':'))
    return "a host name without port (the port is the listener's)";
  if (host.length === 0 || host.length > 253) return 'a host name of 1 to 253 characters';
  const labels = host.split('.');
  for (const [i, l] of labels.entries()) {
    if (l === '*' && i === 0 && labels.length > 2) continue;
    if (l.includes('*'))
      return 'a wildcard only as the whole first label of a name with at least two more (*.example.com)';
    if (!LABEL.test(l)) return `a host name of DNS labels (letters, digits, hyphens): "${l}" is not one`;
  }
  return undefined;
}

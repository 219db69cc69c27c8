import type { ServiceSpec } from '../spec/schema.js';

/** Replaced by the agent's node name in `traffic.router.sockets` (kind haproxy). */
export const NODE_PLACEHOLDER = '{node}';

/**
 * The spec as this node's agent uses it: with `router: {kind: haproxy}`, every `{node}` in a socket path
 * becomes the node's name. One HAProxy per host is the model (each agent drives its local HAProxy); on
 * hosts with the same socket path the placeholder is not needed, but several agents sharing one host
 * (tests, staging) each need their own HAProxy, so their sockets differ by node. Pure.
 */
export function specForNode(spec: ServiceSpec, node: string): ServiceSpec {
  const router = spec.traffic.router;
  if (router.kind !== 'haproxy' || !router.sockets.some((s) => s.includes(NODE_PLACEHOLDER))) return spec;
  return {
    ...spec,
    traffic: {
      ...spec.traffic,
      router: { ...router, sockets: router.sockets.map((s) => s.replaceAll(NODE_PLACEHOLDER, node)) },
    },
  };
}

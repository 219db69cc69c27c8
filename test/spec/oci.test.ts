import { describe, expect, test } from 'vitest';
import { issuesOf, load } from './helpers.js';

/** A `runtime: oci` service behind `router: oci-lb`, with one field replaceable per case. */
const yaml = (o: Record<string, string> = {}) => `services:
  web:
    runtime: oci
    port: ${o.port ?? '8080'}
    containerInstance:
      compartmentId: ${o.compartment ?? 'ocid1.compartment.oc1..aaaa'}
      availabilityDomain: GARu:EU-FRANKFURT-1-AD-3
      shape: CI.Standard.A1.Flex
      shapeConfig: {ocpus: 1, memoryInGBs: 1}
      vnics: ${o.vnics ?? '[{subnetId: ocid1.subnet.oc1..bbbb}]'}
      containers:
        - ${o.container ?? '{displayName: app, imageUrl: "docker.io/httpd:2.4"}'}
    probe: ${o.probe ?? '{http: {path: /healthz}}'}
    traffic:
      listen: "192.0.2.10:80"
      router:
        kind: ${o.kind ?? 'oci-lb'}
        ${o.lb ?? 'loadBalancerId: ocid1.loadbalancer.oc1..cccc'}
        backends: [{port: 8080, backendSet: http}]
`;

const cases: Array<{
  name: string;
  o: Record<string, string>;
  line: number;
  column: number;
  path: string;
  message: string;
}> = [
  {
    name: 'a compartment that is no OCID',
    o: { compartment: 'compartment-a' },
    line: 6,
    column: 22,
    path: 'services.web.containerInstance.compartmentId',
    message: 'expected a compartment OCID, found string "compartment-a"',
  },
  {
    name: 'two VNICs',
    o: { vnics: '[{subnetId: ocid1.subnet.oc1..b}, {subnetId: ocid1.subnet.oc1..c}]' },
    line: 10,
    column: 14,
    path: 'services.web.containerInstance.vnics',
    message: 'a container instance has exactly one VNIC, found a list of 2 items',
  },
  {
    name: 'a container without imageUrl',
    o: { container: '{displayName: app}' },
    line: 12,
    column: 11,
    path: 'services.web.containerInstance.containers.0.imageUrl',
    message: 'required field "imageUrl" is missing',
  },
  {
    name: 'a port that is no number',
    o: { port: '"http"' },
    line: 4,
    column: 11,
    path: 'services.web.port',
    message: 'expected the port the app listens on inside the instance, e.g. 8080, found string "http"',
  },
  {
    name: 'an exec probe where the load balancer checks health',
    o: { probe: '{exec: {command: /bin/true}}' },
    line: 13,
    column: 19,
    path: 'services.web.probe.exec',
    message: 'an exec probe runs on the control plane, but here the load balancer checks health',
  },
  {
    name: 'probe.by router behind the embedded proxy',
    o: { probe: '{tcp: {}, by: router}', kind: 'proxy', lb: '' },
    line: 13,
    column: 26,
    path: 'services.web.probe.by',
    message: 'probe.by: router needs a load balancer that checks health itself (router oci-lb or alb)',
  },
  {
    name: 'a filter without the compartment to list in',
    o: { lb: 'filter: {displayName: edge}' },
    line: 17,
    column: 9,
    path: 'services.web.traffic.router.compartmentId',
    message: 'a filter needs the compartmentId to list in',
  },
  {
    name: 'a drain period that is no duration',
    o: { lb: 'loadBalancerId: ocid1.loadbalancer.oc1..cccc\n        drainPeriod: ten' },
    line: 19,
    column: 22,
    path: 'services.web.traffic.router.drainPeriod',
    message: 'expected a duration such as 500ms, 5s or 2m for traffic.router.drainPeriod, found "ten"',
  },
];

describe('runtime: oci and router: oci-lb in baton.yaml', () => {
  test.each(cases)('$name', async ({ name: _name, o, message, ...where }) => {
    const issues = await issuesOf({ 'baton.yaml': yaml(o) });
    expect(issues[0]).toMatchObject({ file: 'baton.yaml', ...where });
    expect(issues[0]!.message).toContain(message);
  });

  test('canary analysis behind oci-lb is refused: the load balancer gives no counters to judge', async () => {
    const canary = '    strategy: {type: canary, steps: [{setWeight: 10}], analysis: {interval: 5s}}\n';
    const issues = await issuesOf({ 'baton.yaml': yaml() + canary });
    expect(issues[0]).toMatchObject({ file: 'baton.yaml', line: 20, path: 'services.web.strategy.analysis' });
    expect(issues[0]!.message).toContain('router oci-lb gives Baton none');
    // Without analysis the same canary is fine.
    const plain = '    strategy: {type: canary, steps: [{setWeight: 10}, {pause: 1m}]}\n';
    expect((await load({ 'baton.yaml': yaml() + plain })).spec.services.web!.strategy.type).toBe('canary');
  });

  test('both loadBalancerId and filter: exactly one is expected', async () => {
    const lb = 'loadBalancerId: ocid1.loadbalancer.oc1..cccc\n        filter: {displayName: edge}';
    const issues = await issuesOf({ 'baton.yaml': yaml({ lb }) });
    expect(issues[0]).toMatchObject({
      line: 17,
      path: 'services.web.traffic.router',
      message: 'expected exactly one of loadBalancerId or filter',
    });
  });

  test('a valid service: the load balancer gates traffic, its health checker follows the probe', async () => {
    const { spec } = await load({ 'baton.yaml': yaml() });
    const web = spec.services.web!;
    expect(web.runtime).toBe('oci');
    expect(web.probe.by).toBe('router');
    expect(web.traffic.router).toEqual({
      kind: 'oci-lb',
      loadBalancerId: 'ocid1.loadbalancer.oc1..cccc',
      backends: [{ port: 8080, backendSet: 'http' }],
      policy: 'ROUND_ROBIN',
      healthTimeout: 120_000,
      pollInterval: 5000,
      drainPeriod: 10_000,
      healthChecker: {
        protocol: 'HTTP',
        urlPath: '/healthz',
        returnCode: 200,
        port: 0,
        intervalInMillis: 1000,
        timeoutInMillis: 1000,
        retries: 3,
      },
    });
  });

  test('a health checker written in the spec is kept; probe.by: baton is allowed (a reachable VCN)', async () => {
    const lb = 'loadBalancerId: ocid1.loadbalancer.oc1..cccc\n        healthChecker: {protocol: TCP}';
    const { spec } = await load({ 'baton.yaml': yaml({ lb, probe: '{tcp: {}, by: baton}' }) });
    const web = spec.services.web!;
    expect(web.probe.by).toBe('baton');
    expect(web.traffic.router).toMatchObject({ healthChecker: { protocol: 'TCP' } });
  });

  test('a process service is unchanged: no probe.by written', async () => {
    const { spec } = await load({
      'baton.yaml': 'services:\n  web:\n    command: node\n    traffic: {listen: "127.0.0.1:8080"}\n',
    });
    expect(spec.services.web!.probe).not.toHaveProperty('by');
  });
});

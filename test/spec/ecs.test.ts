import { describe, expect, test } from 'vitest';
import { issuesOf, load } from './helpers.js';

const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup';
/** A `runtime: ecs` service behind `router: alb`, with one field replaceable per case. */
const yaml = (o: Record<string, string> = {}) => `services:
  web:
    runtime: ecs
    port: 8080
    ecs:
      cluster: prod
      ${o.placement ?? 'launchType: FARGATE'}
      container: {image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"}
      network: {subnets: [subnet-0a1b]}
    secrets: {DB_PASSWORD: ${o.secret ?? '"arn:aws:secretsmanager:us-east-1:123456789012:secret:db"'}}
    traffic:
      listen: "192.0.2.20:80"
      router:
        kind: alb
        listenerArn: arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/edge/1/2
        targetGroups: [${TG}/blue/1, ${o.green ?? `${TG}/green/2`}]
`;

describe('runtime: ecs and router: alb in baton.yaml', () => {
  test('a secret given as a value (from !env), not a reference: positioned at the field, value hidden', async () => {
    const [issue] = await issuesOf(
      { 'baton.yaml': yaml({ secret: '!env DB_PASSWORD' }) },
      {
        env: { DB_PASSWORD: 'hunter2' },
      },
    );
    expect(issue).toMatchObject({ file: 'baton.yaml', line: 10, path: 'services.web.secrets.DB_PASSWORD' });
    expect(issue!.message).toContain('expected a Secrets Manager or SSM parameter ARN');
    expect(issue!.message).not.toContain('hunter2');
  });

  test('canary analysis behind alb is refused: request counts live in CloudWatch, not read by Baton', async () => {
    const canary = '    strategy: {type: canary, steps: [{setWeight: 10}], analysis: {}}\n';
    const [issue] = await issuesOf({ 'baton.yaml': yaml() + canary });
    expect(issue).toMatchObject({ file: 'baton.yaml', line: 17, path: 'services.web.strategy.analysis' });
    expect(issue!.message).toContain('router alb gives Baton none');
  });

  test('the same target group twice', async () => {
    const [issue] = await issuesOf({ 'baton.yaml': yaml({ green: `${TG}/blue/1` }) });
    expect(issue).toMatchObject({
      line: 16,
      path: 'services.web.traffic.router.targetGroups',
      message: 'expected two different target groups',
    });
  });

  test('a launch type and a capacity provider strategy (the runtime’s cross-field rule)', async () => {
    const placement =
      'launchType: FARGATE\n      capacityProviderStrategy: [{capacityProvider: FARGATE_SPOT}]';
    const [issue] = await issuesOf({ 'baton.yaml': yaml({ placement }) });
    expect(issue).toMatchObject({
      line: 7,
      path: 'services.web.ecs.launchType',
      message: 'expected a launchType or a capacityProviderStrategy, not both',
    });
  });

  test('a valid service: the ALB gates traffic', async () => {
    const { spec } = await load({ 'baton.yaml': yaml() });
    const web = spec.services.web!;
    expect(web.runtime).toBe('ecs');
    expect(web.probe.by).toBe('router');
    expect(web.traffic.router.kind).toBe('alb');
  });

  test('a preview listener with router alb needs previewListenerArn (the ALB serves it)', async () => {
    const withPreview = yaml().replace(
      '      listen: "192.0.2.20:80"\n',
      '      listen: "192.0.2.20:80"\n      preview: "192.0.2.20:8443"\n',
    );
    const [issue] = await issuesOf({ 'baton.yaml': withPreview });
    expect(issue).toMatchObject({ path: 'services.web.traffic.preview' });
    const arn = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/edge/1/3';
    const ok = withPreview.replace(
      '        kind: alb\n',
      `        kind: alb\n        previewListenerArn: ${arn}\n`,
    );
    const { spec } = await load({ 'baton.yaml': ok });
    expect(spec.services.web!.traffic.preview).toBe('192.0.2.20:8443');
  });
});

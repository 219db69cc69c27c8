import { randomInt, randomUUID } from 'node:crypto';
import { FakeApp } from './apps.js';
import { error, type FakeHttp, notFound, type Reply } from './http.js';

const V = '/20210415';

type State = 'CREATING' | 'UPDATING' | 'ACTIVE' | 'INACTIVE' | 'DELETING' | 'DELETED' | 'FAILED';

interface FakeContainer {
  containerId: string;
  displayName: string;
  imageUrl: string;
  environmentVariables: Record<string, string>;
  lifecycleState: string;
  exitCode: number | null;
  logs: string[];
  app: FakeApp;
}

export interface FakeInstance {
  id: string;
  details: Record<string, unknown>;
  lifecycleState: State;
  lifecycleDetails: string | undefined;
  freeformTags: Record<string, string>;
  definedTags: Record<string, Record<string, unknown>>;
  containers: FakeContainer[];
  vnicId: string;
  privateIp: string;
  subnetId: string;
  timeCreated: string;
  /** Where the instance is going and after how many more GETs it gets there. */
  pending: { to: State; left: number; why?: string | undefined } | undefined;
  /** List calls that still do not show it (eventual consistency). */
  hiddenFromLists: number;
}

export interface CiOptions {
  /** GETs of an instance before a pending change (create, stop, start, delete) completes (default 1). */
  transitionGets: number;
  /** List calls that do not show a new instance yet (default 0). */
  listLag: number;
  /**
   * The /24 the fake instances' private IPs (and their apps) are on (default: a random one in
   * 127.10–249.x, so test files running in parallel never start two apps on one address and port).
   */
  net?: string | undefined;
}

const ocid = (kind: string) => `ocid1.${kind}.oc1.fake.${randomUUID().replaceAll('-', '')}`;

/** Container Instances (20210415) and the VNICs they get (Core 20160918 `GetVnic`). */
export class FakeContainerInstances {
  readonly instances = new Map<string, FakeInstance>();
  /** Instances whose create details satisfy this go CREATING → FAILED. */
  failWhen: ((details: Record<string, unknown>) => string | undefined) | undefined;
  private ips = 10;
  /** The /24 of this fake's private IPs. */
  readonly net: string;

  constructor(
    http: FakeHttp,
    private readonly opts: CiOptions,
  ) {
    this.net = opts.net ?? `127.${10 + randomInt(240)}.${randomInt(250)}`;
    http.route('POST', `${V}/containerInstances`, 'CreateContainerInstance', (c) => this.create(c.body));
    http.route('GET', `${V}/containerInstances`, 'ListContainerInstances', (c) => this.list(c.query));
    http.route('GET', `${V}/containerInstances/{id}`, 'GetContainerInstance', (c) => this.get(c.params.id!));
    http.route('PUT', `${V}/containerInstances/{id}`, 'UpdateContainerInstance', (c) =>
      this.update(c.params.id!, c.body as Record<string, unknown>),
    );
    http.route('DELETE', `${V}/containerInstances/{id}`, 'DeleteContainerInstance', (c) =>
      this.delete(c.params.id!),
    );
    for (const action of ['start', 'stop', 'restart'] as const)
      http.route(
        'POST',
        `${V}/containerInstances/{id}/actions/${action}`,
        `${action[0]!.toUpperCase()}${action.slice(1)}ContainerInstance`,
        (c) => this.action(c.params.id!, action),
      );
    http.route('POST', `${V}/containers/{id}/actions/retrieveLogs`, 'RetrieveLogs', (c) =>
      this.logs(c.params.id!),
    );
    http.route('GET', '/20160918/vnics/{id}', 'GetVnic', (c) => this.vnic(c.params.id!));
  }

  /** Makes every container of an instance exit as if it crashed (restart policy NEVER: INACTIVE). */
  async crash(id: string): Promise<void> {
    const i = this.instances.get(id);
    if (!i) throw new Error(`no instance ${id}`);
    for (const c of i.containers) {
      await c.app.stop('killed');
      c.lifecycleState = 'INACTIVE';
      c.exitCode = 137;
    }
    i.lifecycleState = 'INACTIVE';
  }

  /** Instances not DELETED whose freeform tags include these. */
  live(tags: Record<string, string> = {}): FakeInstance[] {
    return [...this.instances.values()].filter(
      (i) =>
        i.lifecycleState !== 'DELETED' && Object.entries(tags).every(([k, v]) => i.freeformTags[k] === v),
    );
  }

  async close(): Promise<void> {
    for (const i of this.instances.values()) for (const c of i.containers) await c.app.stop('fake closed');
  }

  private create(body: unknown): Reply {
    const d = (body ?? {}) as Record<string, unknown>;
    const missing = [
      'compartmentId',
      'availabilityDomain',
      'shape',
      'shapeConfig',
      'containers',
      'vnics',
    ].filter((k) => d[k] === undefined);
    const containers = (d.containers ?? []) as Array<Record<string, unknown>>;
    const vnics = (d.vnics ?? []) as Array<Record<string, unknown>>;
    if (containers.some((c) => typeof c.imageUrl !== 'string')) missing.push('containers[].imageUrl');
    if (vnics.length !== 1 || typeof vnics[0]?.subnetId !== 'string') missing.push('vnics[0].subnetId');
    if (missing.length > 0)
      return error(400, 'InvalidParameter', `missing or invalid: ${missing.join(', ')}`);
    const id = ocid('computecontainerinstance');
    const privateIp = `${this.net}.${this.ips++}`;
    const inst: FakeInstance = {
      id,
      details: d,
      lifecycleState: 'CREATING',
      lifecycleDetails: undefined,
      freeformTags: { ...((d.freeformTags ?? {}) as Record<string, string>) },
      definedTags: (d.definedTags ?? {}) as FakeInstance['definedTags'],
      containers: containers.map((c, n) => {
        const logs: string[] = [];
        const env = (c.environmentVariables ?? {}) as Record<string, string>;
        return {
          containerId: ocid('computecontainer'),
          displayName: (c.displayName as string | undefined) ?? `container-${n}`,
          imageUrl: c.imageUrl as string,
          environmentVariables: env,
          lifecycleState: 'CREATING',
          exitCode: null,
          logs,
          app: new FakeApp(c.imageUrl as string, env, (l) => logs.push(l)),
        };
      }),
      vnicId: ocid('vnic'),
      privateIp,
      subnetId: vnics[0]!.subnetId as string,
      timeCreated: new Date().toISOString(),
      pending: undefined,
      hiddenFromLists: this.opts.listLag,
    };
    const why = this.failWhen?.(d);
    inst.pending = { to: why ? 'FAILED' : 'ACTIVE', left: this.opts.transitionGets, why };
    this.instances.set(id, inst);
    return { status: 200, body: this.view(inst), headers: { 'opc-work-request-id': ocid('workrequest') } };
  }

  private list(q: URLSearchParams): Reply {
    const compartmentId = q.get('compartmentId');
    if (!compartmentId) return error(400, 'MissingParameter', 'compartmentId is required');
    const items = [];
    for (const i of this.instances.values()) {
      if (i.hiddenFromLists > 0) {
        i.hiddenFromLists--;
        continue;
      }
      if (i.details.compartmentId !== compartmentId) continue;
      const state = q.get('lifecycleState');
      if (state && i.lifecycleState !== state) continue;
      const { containers: _c, vnics: _v, ...summary } = this.view(i);
      items.push({ ...summary, containerCount: i.containers.length });
    }
    return { status: 200, body: { items } };
  }

  private async get(id: string): Promise<Reply> {
    const i = this.instances.get(id);
    if (!i) return notFound(`container instance ${id}`);
    await this.progress(i);
    return { status: 200, body: this.view(i) };
  }

  private async progress(i: FakeInstance): Promise<void> {
    const p = i.pending;
    if (!p || --p.left > 0) return;
    i.pending = undefined;
    const ip = i.privateIp;
    if (p.to === 'ACTIVE') {
      for (const c of i.containers) {
        c.exitCode = null;
        await c.app.start(ip);
        c.lifecycleState = 'ACTIVE';
      }
    } else if (p.to === 'FAILED') {
      i.lifecycleDetails = p.why;
      for (const c of i.containers) c.lifecycleState = 'FAILED';
    }
    i.lifecycleState = p.to;
  }

  private update(id: string, body: Record<string, unknown>): Reply {
    const i = this.instances.get(id);
    if (!i || i.lifecycleState === 'DELETED') return notFound(`container instance ${id}`);
    if (body.freeformTags) i.freeformTags = { ...(body.freeformTags as Record<string, string>) };
    if (body.definedTags) i.definedTags = body.definedTags as FakeInstance['definedTags'];
    if (typeof body.displayName === 'string') i.details.displayName = body.displayName;
    return { status: 202, headers: { 'opc-work-request-id': ocid('workrequest') } };
  }

  private async delete(id: string): Promise<Reply> {
    const i = this.instances.get(id);
    if (!i || i.lifecycleState === 'DELETED') return notFound(`container instance ${id}`);
    for (const c of i.containers) await c.app.stop('received SIGTERM, exiting');
    i.lifecycleState = 'DELETING';
    i.pending = { to: 'DELETED', left: this.opts.transitionGets };
    return { status: 202, headers: { 'opc-work-request-id': ocid('workrequest') } };
  }

  private async action(id: string, action: 'start' | 'stop' | 'restart'): Promise<Reply> {
    const i = this.instances.get(id);
    if (!i || i.lifecycleState === 'DELETED') return notFound(`container instance ${id}`);
    const ok = { start: ['INACTIVE'], stop: ['ACTIVE'], restart: ['ACTIVE'] }[action];
    if (!ok.includes(i.lifecycleState))
      return error(
        409,
        'IncorrectState',
        `cannot ${action} a container instance in state ${i.lifecycleState}`,
      );
    if (action !== 'start')
      for (const c of i.containers) {
        await c.app.stop('received SIGTERM, exiting');
        c.lifecycleState = 'INACTIVE';
        c.exitCode = 0;
      }
    i.lifecycleState = 'UPDATING';
    i.pending = { to: action === 'stop' ? 'INACTIVE' : 'ACTIVE', left: this.opts.transitionGets };
    return { status: 202, headers: { 'opc-work-request-id': ocid('workrequest') } };
  }

  private logs(containerId: string): Reply {
    for (const i of this.instances.values())
      for (const c of i.containers)
        if (c.containerId === containerId) return { status: 200, text: c.logs.map((l) => `${l}\n`).join('') };
    return notFound(`container ${containerId}`);
  }

  private vnic(id: string): Reply {
    for (const i of this.instances.values())
      if (i.vnicId === id)
        return {
          status: 200,
          body: {
            id,
            compartmentId: i.details.compartmentId,
            availabilityDomain: i.details.availabilityDomain,
            subnetId: i.subnetId,
            privateIp: i.privateIp,
            isPrimary: true,
            lifecycleState: i.lifecycleState === 'DELETED' ? 'DETACHED' : 'AVAILABLE',
            timeCreated: i.timeCreated,
          },
        };
    return notFound(`vnic ${id}`);
  }

  /** The `ContainerInstance` JSON OCI answers with. */
  private view(i: FakeInstance): Record<string, unknown> {
    const d = i.details;
    const shapeConfig = d.shapeConfig as { ocpus: number; memoryInGBs?: number };
    return {
      id: i.id,
      displayName: d.displayName ?? `instance-${i.timeCreated}`,
      compartmentId: d.compartmentId,
      availabilityDomain: d.availabilityDomain,
      faultDomain: d.faultDomain ?? 'FAULT-DOMAIN-1',
      lifecycleState: i.lifecycleState,
      ...(i.lifecycleDetails ? { lifecycleDetails: i.lifecycleDetails } : {}),
      volumes: d.volumes ?? [],
      volumeCount: ((d.volumes as unknown[] | undefined) ?? []).length,
      containers: i.containers.map((c) => ({ containerId: c.containerId, displayName: c.displayName })),
      containerCount: i.containers.length,
      shape: d.shape,
      shapeConfig: {
        ocpus: shapeConfig.ocpus,
        memoryInGBs: shapeConfig.memoryInGBs ?? shapeConfig.ocpus * 16,
        processorDescription: 'fake',
        networkingBandwidthInGbps: 1,
      },
      vnics: [{ vnicId: i.vnicId }],
      gracefulShutdownTimeoutInSeconds: d.gracefulShutdownTimeoutInSeconds ?? 0,
      containerRestartPolicy: d.containerRestartPolicy ?? 'ALWAYS',
      timeCreated: i.timeCreated,
      timeUpdated: i.timeCreated,
      freeformTags: i.freeformTags,
      definedTags: i.definedTags,
      systemTags: {},
    };
  }
}

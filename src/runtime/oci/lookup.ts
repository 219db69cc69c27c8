import type { ContainerInstanceClient, models } from 'oci-containerinstances';
import type { VirtualNetworkClient } from 'oci-core';
import type { Clock } from '../../cloud/clock.js';
import { ociCall, ociFind } from '../../cloud/oci/errors.js';
import { OcidBook } from './ocid-book.js';
import { isOurs, TAG } from './tags.js';
import type { Described } from './view.js';

const D = 'oci';
type Full = models.ContainerInstance;
/** How long OCI's lists may lag behind a create (documented as eventually consistent; seconds in practice). */
const LIST_LAG_MS = 120_000;

/**
 * Finds Baton's container instances: by freeform tags in the known compartments (adoption), and by the
 * OCIDs this process learned (a create, a list) read directly — lists are eventually consistent, a read
 * of one instance is not. Also the instances' private IPs (fixed for an instance's life, so cached).
 */
export class InstanceLookup {
  readonly compartments: Set<string>;
  /** Instance id → OCID, kept in `stateFile` when given (see OcidBook: why). */
  readonly ocids: OcidBook;
  private readonly ips = new Map<string, string>();

  constructor(
    private readonly ci: ContainerInstanceClient,
    private readonly network: VirtualNetworkClient,
    private readonly owner: string | undefined,
    compartmentIds: string[],
    private readonly opts: {
      clock: Clock;
      pollMs: number;
      stateFile?: { file: string; readOnly: boolean } | undefined;
    },
  ) {
    this.compartments = new Set(compartmentIds);
    this.ocids = new OcidBook(opts.stateFile?.file, opts.stateFile?.readOnly);
  }

  private leftovers: Promise<void> | undefined;

  /**
   * Once per control plane: creates a dead one sent without recording their answers may have made
   * instances the lists do not show yet (eventual consistency). They are listed for until they show
   * (their OCIDs are then known) or for LIST_LAG_MS, after which they surely never landed.
   */
  private findLeftovers(): Promise<void> {
    this.leftovers ??= (async () => {
      const deadline = this.opts.clock.now() + LIST_LAG_MS;
      for (;;) {
        const left = this.ocids.leftover();
        if (left.length === 0) return;
        if (this.opts.clock.now() >= deadline) {
          for (const id of left) this.ocids.delete(id);
          return;
        }
        for (const compartmentId of this.compartments) await this.listCompartment(compartmentId);
        if (this.ocids.leftover().length) await this.opts.clock.sleep(this.opts.pollMs);
      }
    })().catch((err: unknown) => {
      this.leftovers = undefined;
      throw err;
    });
    return this.leftovers;
  }

  /** The instance of this Baton id (DELETED ones only when read by OCID). */
  async find(id: string): Promise<Described | undefined> {
    await this.findLeftovers();
    const known = this.ocids.get(id);
    if (known) {
      const ci = await this.read(id, known);
      if (ci) return ci;
    }
    for (const compartmentId of this.compartments)
      for (const s of await this.listCompartment(compartmentId))
        if (
          isOurs(s.freeformTags, this.owner) &&
          s.freeformTags?.[TAG.instance] === id &&
          s.lifecycleState !== 'DELETED'
        )
          return s;
    return undefined;
  }

  /** Every live instance of this owner (optionally of one service), listed or known. */
  async all(service?: string): Promise<Described[]> {
    await this.findLeftovers();
    const found = new Map<string, Described>();
    for (const compartmentId of this.compartments)
      for (const s of await this.listCompartment(compartmentId))
        if (s.lifecycleState !== 'DELETED' && isOurs(s.freeformTags, this.owner, service)) found.set(s.id, s);
    for (const [id, ocid] of this.ocids.entries()) {
      if (found.has(ocid)) continue;
      const ci = await this.read(id, ocid);
      if (!ci || ci.lifecycleState === 'DELETED') this.ocids.delete(id);
      else if (isOurs(ci.freeformTags, this.owner, service)) found.set(ocid, ci);
    }
    return [...found.values()];
  }

  async read(id: string, ocid: string): Promise<Full | undefined> {
    const res = await ociFind(D, `read container instance ${id}`, () =>
      this.ci.getContainerInstance({ containerInstanceId: ocid }),
    );
    return res?.containerInstance;
  }

  /** The private IP of the instance's VNIC (GetContainerInstance → vnicId → Core GetVnic), cached. */
  async ipOf(ci: Described & { vnics?: models.ContainerVnic[] }): Promise<string> {
    const hit = this.ips.get(ci.id);
    if (hit) return hit;
    const vnics = ci.vnics ?? (await this.read(ci.freeformTags?.[TAG.instance] ?? ci.id, ci.id))?.vnics;
    const vnicId = vnics?.[0]?.vnicId;
    if (!vnicId) return '';
    const vnic = await ociFind(D, `read VNIC of ${ci.id}`, () => this.network.getVnic({ vnicId }));
    const ip = vnic?.vnic.privateIp;
    if (!ip) return '';
    this.ips.set(ci.id, ip);
    return ip;
  }

  private async listCompartment(compartmentId: string): Promise<models.ContainerInstanceSummary[]> {
    const out: models.ContainerInstanceSummary[] = [];
    let page: string | undefined;
    do {
      const res = await ociCall(D, `list container instances in ${compartmentId}`, () =>
        this.ci.listContainerInstances({ compartmentId, page, limit: 100 }),
      );
      out.push(...res.containerInstanceCollection.items);
      page = res.opcNextPage;
    } while (page);
    for (const s of out) {
      const id = s.freeformTags?.[TAG.instance];
      if (id && isOurs(s.freeformTags, this.owner) && s.lifecycleState !== 'DELETED')
        this.ocids.set(id, s.id);
    }
    return out;
  }
}

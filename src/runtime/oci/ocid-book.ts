import { readStateFile, writeStateFile } from '../../core/state-file.js';

/**
 * Which OCID each Baton instance id has, as far as this control plane created or saw it: in memory and,
 * with a file, on disk (written whole and atomically on every change). OCI's lists are eventually
 * consistent — an instance created a moment ago may be missing from ListContainerInstances for a while —
 * so a control plane restarted right after a create would not find the instance by its tags; read by
 * OCID (GetContainerInstance is consistent) it does, and a recovery can stop what the dead one made.
 * A create is noted before it is sent: one whose answer died with the process is known to exist maybe,
 * and is looked for (`leftover`) until the lists show it or it surely never landed.
 */
export class OcidBook {
  private readonly ids = new Map<string, string>();
  /** Creates sent and not answered (yet), by instance id. */
  private readonly creating = new Set<string>();
  /** Those a previous control plane left: their answers are lost. */
  private readonly left = new Set<string>();

  /** `readOnly`: a dry run reads the file but never writes it. */
  constructor(
    private readonly file?: string | undefined,
    private readonly readOnly = false,
  ) {
    if (!file) return;
    const saved = readStateFile<{ ocids?: Record<string, string>; creating?: string[] }>(file, 'oci');
    for (const [id, ocid] of Object.entries(saved?.ocids ?? {})) this.ids.set(id, ocid);
    for (const id of saved?.creating ?? []) {
      this.creating.add(id);
      this.left.add(id);
    }
  }

  get(id: string): string | undefined {
    return this.ids.get(id);
  }

  entries(): Array<[string, string]> {
    return [...this.ids];
  }

  /** Notes a create about to be sent (saved before it goes). */
  willCreate(id: string): void {
    this.creating.add(id);
    this.save();
  }

  /** Creates a dead control plane sent whose answers it never recorded. */
  leftover(): string[] {
    return [...this.left].filter((id) => this.creating.has(id));
  }

  set(id: string, ocid: string): void {
    const had = this.creating.delete(id);
    this.left.delete(id);
    if (this.ids.get(id) === ocid && !had) return;
    this.ids.set(id, ocid);
    this.save();
  }

  delete(id: string): void {
    const had = this.creating.delete(id);
    this.left.delete(id);
    if (this.ids.delete(id) || had) this.save();
  }

  private save(): void {
    if (!this.file || this.readOnly) return;
    writeStateFile(this.file, {
      version: 1,
      ocids: Object.fromEntries(this.ids),
      creating: [...this.creating],
    });
  }
}

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DriverError } from '../../core/errors.js';

/**
 * Which OCID each Baton instance id has, as far as this control plane created or saw it: in memory and,
 * with a file, on disk (written whole and atomically on every change). OCI's lists are eventually
 * consistent — an instance created a moment ago may be missing from ListContainerInstances for a while —
 * so a control plane restarted right after a create would not find the instance by its tags; read by
 * OCID (GetContainerInstance is consistent) it does, and a recovery can stop what the dead one made.
 */
export class OcidBook {
  private readonly ids = new Map<string, string>();

  /** `readOnly`: a dry run reads the file but never writes it. */
  constructor(
    private readonly file?: string | undefined,
    private readonly readOnly = false,
  ) {
    if (!file) return;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new DriverError('oci', `cannot read ${file}: ${(e as Error).message}`, e);
    }
    try {
      for (const [id, ocid] of Object.entries(
        (JSON.parse(text) as { ocids?: Record<string, string> }).ocids ?? {},
      ))
        this.ids.set(id, ocid);
    } catch (e) {
      throw new DriverError('oci', `state file ${file} is not valid JSON: ${(e as Error).message}`, e);
    }
  }

  get(id: string): string | undefined {
    return this.ids.get(id);
  }

  entries(): Array<[string, string]> {
    return [...this.ids];
  }

  set(id: string, ocid: string): void {
    if (this.ids.get(id) === ocid) return;
    this.ids.set(id, ocid);
    this.save();
  }

  delete(id: string): void {
    if (this.ids.delete(id)) this.save();
  }

  private save(): void {
    if (!this.file || this.readOnly) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ version: 1, ocids: Object.fromEntries(this.ids) }, null, 2)}\n`, {
      mode: 0o600,
    });
    renameSync(tmp, this.file);
  }
}

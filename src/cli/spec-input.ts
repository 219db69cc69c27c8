import { InputError } from '../core/errors.js';
import { loadSpecFile } from '../spec/load.js';
import type { ServiceSpec } from '../spec/schema.js';

export interface SpecFlags {
  file: string;
  profile?: string;
  set?: string[];
}

export interface SelectedService {
  name: string;
  spec: ServiceSpec;
  secretEnv: string[];
}

/** Loads and validates baton.yaml (exit 2 on any problem) and picks the named service or all of them. */
export async function selectServices(flags: SpecFlags, name: string | undefined): Promise<SelectedService[]> {
  const loaded = await loadSpecFile(flags.file, {
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(flags.set ? { set: flags.set } : {}),
  });
  const names = Object.keys(loaded.spec.services);
  if (name !== undefined && !names.includes(name)) {
    throw new InputError(
      `${flags.file} declares no service "${name}" (it declares: ${names.join(', ') || 'none'})`,
    );
  }
  return (name ? [name] : names).map((n) => ({
    name: n,
    spec: loaded.spec.services[n]!,
    secretEnv: loaded.secretPaths
      .filter((p) => p.startsWith(`services.${n}.env.`))
      .map((p) => p.slice(`services.${n}.env.`.length)),
  }));
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

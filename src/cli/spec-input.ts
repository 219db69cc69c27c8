import { InputError } from '../core/errors.js';
import { loadSpecFile } from '../spec/load.js';
import type { ServiceSpec } from '../spec/schema.js';

export interface SpecFlags {
  file: string;
  profile?: string;
  set?: string[];
  /** `--env NAME`: that environment's overrides are merged onto the services. */
  env?: string | undefined;
}

export interface SelectedService {
  name: string;
  spec: ServiceSpec;
  /** Dotted paths, relative to `spec`, of values that came from !env, !file or !base64. */
  secretPaths: string[];
  /** The names among them directly under `env` (the older form, still read by cluster agents). */
  secretEnv: string[];
}

/** Loads and validates baton.yaml (exit 2 on any problem) and picks the named service or all of them. */
export async function selectServices(flags: SpecFlags, name: string | undefined): Promise<SelectedService[]> {
  const loaded = await loadSpecFile(flags.file, {
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(flags.set ? { set: flags.set } : {}),
    ...(flags.env ? { environment: flags.env } : {}),
  });
  const names = Object.keys(loaded.spec.services);
  if (name !== undefined && !names.includes(name)) {
    throw new InputError(
      `${flags.file} declares no service "${name}" (it declares: ${names.join(', ') || 'none'})`,
    );
  }
  return (name ? [name] : names).map((n) => {
    const prefix = `services.${n}.`;
    const secretPaths = loaded.secretPaths
      .filter((p) => p.startsWith(prefix))
      .map((p) => p.slice(prefix.length));
    return {
      name: n,
      spec: loaded.spec.services[n]!,
      secretPaths,
      secretEnv: secretPaths.filter((p) => /^env\.[^.]+$/.test(p)).map((p) => p.slice('env.'.length)),
    };
  });
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

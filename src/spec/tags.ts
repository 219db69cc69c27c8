import type { CollectionTag, ScalarTag } from 'yaml';

/** The custom tags a `baton.yaml` may use. See docs/baton-yaml.md. */
export const KNOWN_TAGS = ['!env', '!file', '!base64', '!include', '!profile'] as const;

/** Tags of YAML's own schema (`!!str`, `!!int`, ...) resolve as usual. */
export const isYamlTag = (tag: string): boolean => tag.startsWith('tag:yaml.org,2002:');

/**
 * The tags are registered so the parser accepts them, but resolve to themselves: the loader resolves them
 * in a walk over the document afterwards, where positions are at hand and failures become `SpecIssue`s
 * instead of exceptions thrown from inside the parser.
 */
const scalar = (tag: string): ScalarTag => ({ tag, resolve: (source: string) => source });
const collection = (tag: string, kind: 'map' | 'seq'): CollectionTag => ({
  tag,
  collection: kind,
  resolve: (node) => node,
});

export const CUSTOM_TAGS: (ScalarTag | CollectionTag)[] = [
  scalar('!env'),
  collection('!env', 'seq'),
  scalar('!file'),
  scalar('!base64'),
  scalar('!include'),
  collection('!profile', 'map'),
];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses the scalar form of `!env`: `NAME` or `NAME:-default`. */
export function parseEnvRef(text: string): { name: string; fallback?: string } | string {
  const at = text.indexOf(':-');
  const name = (at < 0 ? text : text.slice(0, at)).trim();
  if (!ENV_NAME.test(name)) {
    return `!env expects a variable name such as DB_URL or DB_URL:-default, found ${JSON.stringify(text)}`;
  }
  return at < 0 ? { name } : { name, fallback: text.slice(at + 2) };
}

/** `${NAME:-default}` semantics: the default applies when the variable is unset or empty. */
export function lookupEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: string | undefined,
): { value: string } | { missing: true } {
  const v = env[name];
  if (v !== undefined && (v !== '' || fallback === undefined)) return { value: v };
  if (fallback !== undefined) return { value: fallback };
  return { missing: true };
}

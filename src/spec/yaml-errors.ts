import type { YAMLError } from 'yaml';

/** A YAML parse error in Baton's words: a duplicate key names the key. */
export function syntaxMessage(e: YAMLError, text: string): string {
  if (e.code === 'DUPLICATE_KEY') {
    const rest = text.slice(e.pos[0]).split('\n')[0] ?? '';
    const key = (/^(.*?):(\s|$)/.exec(rest)?.[1] ?? rest).trim().replace(/^(["'])(.*)\1$/, '$2');
    return `duplicate key ${JSON.stringify(key)}`;
  }
  return `invalid YAML: ${e.message}`;
}

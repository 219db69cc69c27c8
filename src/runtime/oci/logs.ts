import type { Readable } from 'node:stream';

/** The text of a RetrieveLogs answer (the SDK gives a web ReadableStream or a node Readable). */
export async function streamText(value: Readable | ReadableStream | undefined): Promise<string> {
  if (!value) return '';
  if ('getReader' in value) return new Response(value).text();
  const chunks: Buffer[] = [];
  for await (const c of value as AsyncIterable<Buffer | string>)
    chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Lines of a log text, without the empty one after the last newline. */
export function lines(text: string): string[] {
  const all = text.split('\n');
  if (all[all.length - 1] === '') all.pop();
  return all;
}

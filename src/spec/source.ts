import type { Document, LineCounter, Node } from 'yaml';
import type { Pos } from './positions.js';
import { isYamlTag } from './tags.js';

/** One YAML source being resolved: the top file or an included one. */
export interface Source {
  /** The name issues show: the path as given, or joined onto the including file's. */
  label: string;
  abs: string;
  text: string;
  lines: LineCounter;
  doc: Document.Parsed;
}

/** Where a node starts; for a tagged node, where its tag is written. */
export function nodeAt(src: Source, n: Node | { range?: unknown; tag?: string }): Pos {
  const range = (n as { range?: [number, number, number] | null }).range;
  let offset = range?.[0] ?? 0;
  const tag = (n as { tag?: string }).tag;
  if (tag && !isYamlTag(tag)) {
    const i = src.text.lastIndexOf(tag, offset);
    if (i >= 0 && offset - i < 512) offset = i;
  }
  return posAt(src, offset);
}

/** The 1-based position of `offset` in the source. */
export function posAt(src: Source, offset: number): Pos {
  const { line, col } = src.lines.linePos(offset);
  return { file: src.label, line, column: col };
}

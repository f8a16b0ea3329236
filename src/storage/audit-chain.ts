import { createHash } from 'node:crypto';
import { type AuditEntry, type AuditEvent, GENESIS_HASH } from './audit-entry';

/** Where a chain ends: the last line's seq and hash, and the log's length in bytes. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
  readonly bytes: number;
}

export const EMPTY_CHAIN: ChainHead = { seq: 0, hash: GENESIS_HASH, bytes: 0 };

/**
 * The head of the chain as recorded outside the log with each change. While a write is in
 * flight, `previous` is the head before it and `pendingFile` the new security.yml not yet
 * renamed into place: if that file still exists, the write never completed.
 */
export interface ChainAnchor {
  readonly head: ChainHead;
  readonly previous?: ChainHead;
  readonly pendingFile?: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const SEAL = /,"hash":"([0-9a-f]{64})"\}$/;

/**
 * What a line links to and whether it is whole. A line carries its own `hash` (of its JSON
 * without that field), so an edited line is named as such; lines of the earlier format, without
 * one, stand for the SHA-256 of their whole text.
 */
export function sealOf(line: string): { readonly hash: string; readonly intact: boolean } {
  const seal = SEAL.exec(line);
  if (!seal) return { hash: sha256Hex(line), intact: true };
  const body = `${line.slice(0, seal.index)}}`;
  return { hash: seal[1], intact: sha256Hex(body) === seal[1] };
}

/** The text of the lines recording `events` after `head`, each linked to the one before. */
export function chainLines(
  head: ChainHead,
  events: readonly AuditEvent[],
  time: string,
): { readonly text: string; readonly head: ChainHead } {
  let { seq, hash: prev } = head;
  let text = '';
  for (const event of events) {
    const body = JSON.stringify({ seq: ++seq, time, ...event, prev });
    const hash = sha256Hex(body);
    text += `${body.slice(0, -1)},"hash":"${hash}"}\n`;
    prev = hash;
  }
  return { text, head: { seq, hash: prev, bytes: head.bytes + Buffer.byteLength(text) } };
}

export type ChainVerdict =
  | { readonly intact: true; readonly entries: number; readonly anchored: boolean }
  | { readonly intact: false; readonly line: number; readonly problem: string };

const broken = (line: number, problem: string): ChainVerdict => ({ intact: false, line, problem });

/**
 * Checks an audit log against itself and its anchor: every line whole JSON, sealed by its own
 * hash, numbered from 1 and linked to the line before; and the last line the anchored head, so
 * that a truncated log, an edited last line and lines appended by anyone else all show. Names
 * the first bad line. `inFlight`: a write may be between its append and its rename, so the log
 * may also end at the anchor's previous head.
 */
export function verifyChain(text: string, anchor?: ChainAnchor, inFlight = false): ChainVerdict {
  const lines = text.split('\n');
  const torn = lines.pop() !== '';
  let prev = GENESIS_HASH;
  let sealed = false;
  for (const [index, line] of lines.entries()) {
    const number = index + 1;
    let entry: Partial<AuditEntry>;
    try {
      entry = JSON.parse(line) as Partial<AuditEntry>;
    } catch {
      return broken(number, 'not valid JSON (edited or torn)');
    }
    const seal = sealOf(line);
    if (!seal.intact) return broken(number, 'its content does not match its hash (edited)');
    if (entry.prev !== prev) {
      return broken(
        number,
        'does not link to the line before (a line was removed, reordered or inserted before it)',
      );
    }
    if (entry.seq !== number) {
      return broken(number, `sequence number ${String(entry.seq)} where ${number} was due`);
    }
    sealed ||= entry.hash !== undefined;
    prev = seal.hash;
  }
  if (torn) return broken(lines.length + 1, 'the last line is incomplete (truncated or torn)');
  if (!anchor) {
    if (sealed) return broken(lines.length, `the anchor of the chain is missing`);
    return { intact: true, entries: lines.length, anchored: false };
  }
  const ends = [anchor.head, ...(inFlight && anchor.previous ? [anchor.previous] : [])];
  if (ends.some((head) => head.seq === lines.length && head.hash === prev)) {
    return { intact: true, entries: lines.length, anchored: true };
  }
  const { seq, hash } = anchor.head;
  if (lines.length > seq) {
    return broken(
      seq + 1,
      'lies beyond the anchored end of the log (appended outside the service)',
    );
  }
  if (lines.length < seq) {
    return broken(
      Math.max(lines.length, 1),
      `the log ends at line ${lines.length} but its anchor records ${seq} lines (truncated)`,
    );
  }
  return broken(seq, `does not match the anchored head (hash ${hash.slice(0, 12)}...; edited)`);
}

import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../api-keys/api-keys.errors';
import { syncDirectory, writeAndSync } from '../common/durable-file';
import { AUDIT_FILE, type AuditEntry, type AuditEvent, GENESIS_HASH } from './audit-entry';

/** The last line's text is always within this many bytes of the end (a line is at most ~20 kB). */
const TAIL_BYTES = 64 * 1024;

export function lineHash(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('hex');
}

/** The end of the file: up to TAIL_BYTES of it, and whether that reaches the start. */
async function readTail(file: string): Promise<{ text: string; whole: boolean } | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const { buffer, bytesRead } = await handle.read({
      buffer: Buffer.alloc(size - start),
      position: start,
    });
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), whole: start === 0 };
  } finally {
    await handle.close();
  }
}

/** What the next line links to: the last line's hash and sequence number. */
async function chainEnd(
  file: string,
): Promise<{ prev: string; seq: number; newline: boolean; exists: boolean }> {
  const tail = await readTail(file);
  if (!tail || tail.text === '') {
    return { prev: GENESIS_HASH, seq: 0, newline: true, exists: tail !== undefined };
  }
  const pieces = tail.text.split('\n');
  let lines = (tail.whole ? pieces : pieces.slice(1)).filter(Boolean);
  if (lines.length === 0) lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  const last = lines[lines.length - 1];
  let seq: number;
  try {
    seq = (JSON.parse(last) as Partial<AuditEntry>).seq ?? 0;
  } catch {
    // A torn or edited last line: keep counting by lines; `audit verify` reports it.
    seq = (await readFile(file, 'utf8')).split('\n').filter(Boolean).length;
  }
  return { prev: lineHash(last), seq, newline: tail.text.endsWith('\n'), exists: true };
}

/**
 * Appends one line per event to `<dir>/audit.log` and fsyncs it, each line carrying the SHA-256
 * of the line before. Callers hold the tenant's lock, so lines from every process form one chain.
 */
export async function appendAuditEvents(dir: string, events: readonly AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const file = join(dir, AUDIT_FILE);
  const end = await chainEnd(file);
  let { prev, seq } = end;
  const time = new Date().toISOString();
  let text = end.newline ? '' : '\n'; // after a torn line, start a fresh one
  for (const event of events) {
    const entry: AuditEntry = { seq: ++seq, time, ...event, prev };
    const line = JSON.stringify(entry);
    text += `${line}\n`;
    prev = lineHash(line);
  }
  await writeAndSync(file, 'a', text);
  if (!end.exists) await syncDirectory(dir); // the new file's name must be durable too
}

/** The entries of an audit.log text, oldest first; lines that do not parse are skipped. */
export function parseAuditLog(text: string): AuditEntry[] {
  const entries: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      entries.push(JSON.parse(line) as AuditEntry);
    } catch {
      // Reported by `audit verify`; listing shows what can be read.
    }
  }
  return entries;
}

export type ChainVerdict =
  | { readonly intact: true; readonly entries: number }
  | { readonly intact: false; readonly line: number; readonly problem: string };

/** Checks every line parses, counts up from 1, and links to the SHA-256 of the line before. */
export function verifyAuditChain(text: string): ChainVerdict {
  if (text !== '' && !text.endsWith('\n')) {
    const line = text.split('\n').length;
    return { intact: false, line, problem: 'the last line is incomplete (truncated)' };
  }
  const lines = text.split('\n').slice(0, -1);
  let prev = GENESIS_HASH;
  for (const [index, line] of lines.entries()) {
    const number = index + 1;
    let entry: Partial<AuditEntry>;
    try {
      entry = JSON.parse(line) as Partial<AuditEntry>;
    } catch {
      return { intact: false, line: number, problem: 'not valid JSON' };
    }
    if (entry.prev !== prev) {
      return {
        intact: false,
        line: number,
        problem: 'does not link to the line before (edited, removed or reordered lines)',
      };
    }
    if (entry.seq !== number) {
      return {
        intact: false,
        line: number,
        problem: `sequence number ${String(entry.seq)} where ${number} was due`,
      };
    }
    prev = lineHash(line);
  }
  return { intact: true, entries: lines.length };
}

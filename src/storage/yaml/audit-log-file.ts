import { lstatSync } from 'node:fs';
import { type FileHandle, lstat, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../storage.errors';
import { openRegularFile, readRegularFile, syncDirectory, writeAndSync } from './durable-file';
import {
  chainLines,
  type ChainAnchor,
  type ChainHead,
  type ChainVerdict,
  EMPTY_CHAIN,
  sealOf,
  verifyChain,
} from '../audit-chain';
import type { AuditEntry, AuditEvent } from '../audit-entry';

export const AUDIT_FILE = 'audit.log';
/** The chain's head (last seq, its hash, the log's length), kept outside the log. */
export const AUDIT_ANCHOR_FILE = 'audit.anchor';

/** The anchor is overwritten in place at this fixed size, so rewriting it never needs a new block. */
const ANCHOR_BYTES = 512;
/** Bytes read per step when reading the log backwards (a line is at most ~20 kB). */
const CHUNK_BYTES = 64 * 1024;

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
}

function parseAnchor(text: string): ChainAnchor {
  const anchor = JSON.parse(text) as ChainAnchor;
  if (typeof anchor?.head?.seq !== 'number' || typeof anchor.head.hash !== 'string') {
    throw new SyntaxError('not an audit anchor');
  }
  return anchor;
}

/** The anchor of the log in `dir`, or undefined when there is none yet. */
export async function readAnchor(dir: string): Promise<ChainAnchor | undefined> {
  const text = await readRegularFile(join(dir, AUDIT_ANCHOR_FILE));
  return text === undefined ? undefined : parseAnchor(text);
}

function anchorText(anchor: ChainAnchor): Buffer {
  const text = JSON.stringify(anchor);
  if (text.length >= ANCHOR_BYTES) throw new RangeError('audit anchor too long');
  return Buffer.from(`${text.padEnd(ANCHOR_BYTES - 1)}\n`);
}

/** The head of a log that has no anchor yet: its last line, read from the end. */
async function headOfUnanchoredLog(
  file: string,
): Promise<{ head: ChainHead; endsWithNewline: boolean }> {
  let handle: FileHandle;
  try {
    handle = await openRegularFile(file, 'read');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return { head: EMPTY_CHAIN, endsWithNewline: true };
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return { head: EMPTY_CHAIN, endsWithNewline: true };
    const text = await handle.readFile('utf8');
    const lines = text.split('\n').filter(Boolean);
    const last = lines[lines.length - 1];
    let seq: number;
    try {
      seq = (JSON.parse(last) as Partial<AuditEntry>).seq ?? lines.length;
    } catch {
      seq = lines.length; // a torn last line: keep counting by lines; `audit verify` reports it
    }
    return {
      head: { seq, hash: sealOf(last).hash, bytes: size },
      endsWithNewline: text.endsWith('\n'),
    };
  } finally {
    await handle.close();
  }
}

/** Lines appended by one write, and the head before them, for a rollback. */
export interface AuditAppend {
  readonly before: ChainHead;
  readonly after: ChainHead;
}

/**
 * A tenant's `audit.log` and its anchor, opened by a writer that holds the tenant's lock.
 * Lines are appended before security.yml is renamed into place, and rolled back if the rename
 * does not happen, so a stored change always has its line and a refused one has none.
 */
export class AuditLogWriter {
  private constructor(
    private readonly dir: string,
    private readonly anchor: FileHandle,
    private head: ChainHead,
    private separator: string,
  ) {}

  private get file(): string {
    return join(this.dir, AUDIT_FILE);
  }

  /**
   * Opens the log of `dir` for appending, first undoing what an interrupted write left: lines
   * of a write whose security.yml was never renamed into place, and anything past the anchored
   * end (reported through `onRepair`). A log without an anchor gets one.
   */
  static async open(dir: string, onRepair: (what: string) => void): Promise<AuditLogWriter> {
    const file = join(dir, AUDIT_FILE);
    const anchorFile = join(dir, AUDIT_ANCHOR_FILE);
    // Read through the handle the writer keeps: every write opens the log, so a file opened
    // once rather than twice is a few thread-pool round trips less per write.
    let handle = await openRegularFile(anchorFile, 'update').catch((error: unknown) => {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw error;
    });
    let anchor: ChainAnchor | undefined;
    let separator = '';
    try {
      anchor = handle && parseAnchor(await handle.readFile('utf8'));
    } catch (error) {
      if (!(error instanceof SyntaxError)) {
        await handle?.close();
        throw error;
      }
      // torn by a crash: rebuilt below
    }
    if (!anchor || !handle) {
      await handle?.close();
      const unanchored = await headOfUnanchoredLog(file);
      separator = unanchored.endsWithNewline ? '' : '\n';
      anchor = { head: unanchored.head };
      await AuditLogWriter.createAnchor(dir, anchor);
      handle = await openRegularFile(anchorFile, 'update');
    }
    const writer = new AuditLogWriter(dir, handle, anchor.head, separator);
    try {
      if (anchor.pendingFile && anchor.previous && (await exists(join(dir, anchor.pendingFile)))) {
        onRepair(
          `rolled back audit lines of a write that never completed (after seq ${anchor.previous.seq})`,
        );
        await writer.moveHead(anchor.previous);
      }
      const size = lstatSync(file, { throwIfNoEntry: false })?.size ?? 0;
      if (size > writer.head.bytes) {
        onRepair(`removed ${size - writer.head.bytes} bytes of audit.log past its anchored end`);
        await writer.truncate(writer.head.bytes);
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    return writer;
  }

  /** Written whole, then renamed, so a crash never leaves a half-written anchor. */
  private static async createAnchor(dir: string, anchor: ChainAnchor): Promise<void> {
    const temp = join(dir, `.${AUDIT_ANCHOR_FILE}.tmp`);
    await rm(temp, { force: true });
    await writeAndSync(temp, 'create', anchorText(anchor).toString());
    await rename(temp, join(dir, AUDIT_ANCHOR_FILE));
    await syncDirectory(dir);
  }

  private async writeAnchor(anchor: ChainAnchor): Promise<void> {
    await this.anchor.write(anchorText(anchor), 0, ANCHOR_BYTES, 0);
    await this.anchor.datasync();
  }

  private async truncate(bytes: number): Promise<void> {
    const handle = await openRegularFile(this.file, 'update');
    try {
      await handle.truncate(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async moveHead(head: ChainHead): Promise<void> {
    await this.writeAnchor({ head });
    await this.truncate(head.bytes);
    this.head = head;
  }

  /**
   * Appends and fsyncs one line per event, then anchors the new head, naming `pendingFile`, the
   * security.yml about to be renamed into place. Undoes its own part if either step fails.
   */
  async append(
    events: readonly AuditEvent[],
    time: string,
    pendingFile: string,
  ): Promise<AuditAppend> {
    const before = this.head;
    const lines = chainLines(
      { ...before, bytes: before.bytes + Buffer.byteLength(this.separator) },
      events,
      time,
    );
    try {
      await writeAndSync(this.file, 'append', this.separator + lines.text);
      await this.writeAnchor({ head: lines.head, previous: before, pendingFile });
    } catch (error) {
      await this.moveHead(before).catch(() => undefined); // the next writer repairs what is left
      throw error;
    }
    this.head = lines.head;
    this.separator = '';
    return { before, after: lines.head };
  }

  /** Takes back an append whose security.yml was not renamed into place. */
  async rollback(append: AuditAppend): Promise<void> {
    await this.moveHead(append.before);
  }

  async close(): Promise<void> {
    await this.anchor.close();
  }
}

/** Checks the log of `dir` against its chain and its anchor (read-only). */
export async function verifyAuditLog(dir: string): Promise<ChainVerdict> {
  let anchor: ChainAnchor | undefined;
  try {
    anchor = await readAnchor(dir);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return { intact: false, line: 0, problem: `${AUDIT_ANCHOR_FILE} is not a valid anchor` };
  }
  const text = (await readRegularFile(join(dir, AUDIT_FILE))) ?? '';
  const inFlight = anchor?.pendingFile ? await exists(join(dir, anchor.pendingFile)) : false;
  return verifyChain(text, anchor, inFlight);
}

/**
 * Up to `limit` entries with `seq` below `before`, newest first, read backwards from the end of
 * the log in chunks: a page costs what it shows, not the length of the log.
 */
export async function readAuditPage(
  dir: string,
  limit: number,
  before = Number.POSITIVE_INFINITY,
): Promise<AuditEntry[]> {
  let handle: FileHandle;
  try {
    handle = await openRegularFile(join(dir, AUDIT_FILE), 'read');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  const entries: AuditEntry[] = [];
  try {
    let end = (await handle.stat()).size;
    let rest = Buffer.alloc(0); // the start of a line whose beginning lies in the next chunk back
    while (end > 0 && entries.length < limit) {
      const start = Math.max(0, end - CHUNK_BYTES);
      const chunk = Buffer.alloc(end - start);
      await handle.read(chunk, 0, chunk.length, start);
      const text = Buffer.concat([chunk, rest]);
      let body = text;
      rest = Buffer.alloc(0);
      if (start > 0) {
        const newline = text.indexOf(10);
        if (newline < 0) {
          rest = text; // one line longer than the chunk: read further back
          end = start;
          continue;
        }
        rest = text.subarray(0, newline);
        body = text.subarray(newline + 1);
      }
      const lines = body.toString('utf8').split('\n');
      for (let i = lines.length - 1; i >= 0 && entries.length < limit; i--) {
        if (!lines[i]) continue;
        try {
          const entry = JSON.parse(lines[i]) as AuditEntry;
          if (entry.seq < before) entries.push(entry);
        } catch {
          // A torn or edited line: `audit verify` reports it; a page shows what can be read.
        }
      }
      end = start;
    }
  } finally {
    await handle.close();
  }
  return entries;
}

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainLines, EMPTY_CHAIN, sha256Hex, verifyChain } from '../audit-chain';
import type { AuditEntry, AuditEvent } from '../audit-entry';
import { AuditLogWriter, readAuditPage, verifyAuditLog } from './audit-log-file';

const event = (key: string): AuditEvent => ({
  requestId: `req-${key}`,
  actor: 'api-key:admin',
  action: 'create',
  key,
  changes: { enabled: { from: null, to: true } },
});
const TIME = '2026-11-30T00:00:00.000Z';

describe('audit.log', () => {
  let dir: string;
  const file = () => join(dir, 'audit.log');
  const lines = async () => (await readFile(file(), 'utf8')).trim().split('\n');
  const write = async (...keys: string[]) => {
    const writer = await AuditLogWriter.open(dir, () => undefined);
    try {
      return await writer.append(keys.map(event), TIME, 'security-pending.tmp');
    } finally {
      await writer.close();
    }
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'audit-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends one sealed, linked, numbered line per event, at mode 0600, and anchors the head', async () => {
    await write('a', 'b');
    await write('c');
    const entries = (await lines()).map((line) => JSON.parse(line) as AuditEntry);
    expect(entries.map((e) => [e.seq, e.key])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(entries[0].prev).toBe('0'.repeat(64));
    expect(entries[2].prev).toBe(entries[1].hash);
    const { hash, ...body } = entries[1];
    expect(hash).toBe(sha256Hex(JSON.stringify(body)));
    expect(await verifyAuditLog(dir)).toEqual({ intact: true, entries: 3, anchored: true });
    expect((await stat(file())).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'audit.anchor'))).mode & 0o777).toBe(0o600);
  });

  it('takes back an append whose security.yml was not installed', async () => {
    await write('a');
    const writer = await AuditLogWriter.open(dir, () => undefined);
    const appended = await writer.append([event('b')], TIME, 'x.tmp');
    await writer.rollback(appended);
    await writer.close();
    expect(await lines()).toHaveLength(1);
    expect(await verifyAuditLog(dir)).toMatchObject({ intact: true, entries: 1 });
  });

  it('repairs, on the next open, what a write that died before its rename left', async () => {
    await write('a');
    const writer = await AuditLogWriter.open(dir, () => undefined);
    await writer.append([event('b')], TIME, 'pending.tmp');
    await writer.close();
    await writeFile(join(dir, 'pending.tmp'), 'never renamed');
    // Until it is repaired, verify knows a write may be in flight and accepts either end.
    expect(await verifyAuditLog(dir)).toMatchObject({ intact: true, entries: 2 });
    const repairs: string[] = [];
    await (await AuditLogWriter.open(dir, (what) => repairs.push(what))).close();
    expect(repairs).toHaveLength(1);
    expect(await lines()).toHaveLength(1);
    expect(await verifyAuditLog(dir)).toMatchObject({ intact: true, entries: 1 });
  });

  it('keeps what a write that died after its rename appended', async () => {
    await write('a', 'b');
    const repairs: string[] = [];
    await (await AuditLogWriter.open(dir, (what) => repairs.push(what))).close();
    expect(repairs).toEqual([]);
    expect(await lines()).toHaveLength(2);
  });

  it('rebuilds an anchor a crash tore from the log, and goes on with the chain', async () => {
    await write('a', 'b');
    await writeFile(join(dir, 'audit.anchor'), '{"head":{"seq":2,"ha');
    await write('c');
    const entries = (await lines()).map((line) => JSON.parse(line) as AuditEntry);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[2].prev).toBe(entries[1].hash);
    expect(await verifyAuditLog(dir)).toEqual({ intact: true, entries: 3, anchored: true });
  });

  it('pages newest first from the end, across chunk boundaries, with before', async () => {
    const many = Array.from({ length: 700 }, (_, i) => `key-${i}`);
    await write(...many);
    const page = await readAuditPage(dir, 3);
    expect(page.map((e) => e.seq)).toEqual([700, 699, 698]);
    const older = await readAuditPage(dir, 500, 300);
    expect(older).toHaveLength(299);
    expect(older[0].seq).toBe(299);
    expect(older.at(-1)?.seq).toBe(1);
    await expect(readAuditPage(join(dir, 'none'), 5)).resolves.toEqual([]);
  });

  it('continues an unanchored log of the earlier format, and verifies across the two', async () => {
    const legacy = (seq: number, prev: string) =>
      JSON.stringify({ seq, time: TIME, ...event(`old-${seq}`), prev });
    const first = legacy(1, '0'.repeat(64));
    const second = legacy(2, sha256Hex(first));
    await writeFile(file(), `${first}\n${second}\n`);
    expect(await verifyAuditLog(dir)).toEqual({ intact: true, entries: 2, anchored: false });
    await write('new');
    const entries = (await lines()).map((line) => JSON.parse(line) as AuditEntry);
    expect(entries[2]).toMatchObject({ seq: 3, prev: sha256Hex(second) });
    expect(await verifyAuditLog(dir)).toEqual({ intact: true, entries: 3, anchored: true });
  });
});

describe('verifying the chain', () => {
  const log = chainLines(EMPTY_CHAIN, ['a', 'b', 'c', 'd', 'e'].map(event), TIME);
  const text = log.text;
  const anchor = { head: log.head };
  const rows = text.trim().split('\n');
  const joined = (lines: string[]) => `${lines.join('\n')}\n`;

  it('finds an intact, anchored log intact', () => {
    expect(verifyChain(text, anchor)).toEqual({ intact: true, entries: 5, anchored: true });
  });

  it.each([
    [
      'an edited line, named as itself',
      () => rows.map((l, i) => (i === 2 ? l.replace('"c"', '"x"') : l)),
      3,
    ],
    ['an edited last line', () => rows.map((l, i) => (i === 4 ? l.replace('"e"', '"x"') : l)), 5],
    ['a removed line', () => rows.filter((_, i) => i !== 1), 2],
    ['reordered lines', () => [rows[0], rows[2], rows[1], rows[3], rows[4]], 2],
    ['a line that is not JSON', () => rows.map((l, i) => (i === 3 ? 'garbage' : l)), 4],
    ['a removed first line', () => rows.slice(1), 1],
    ['lines cut whole off the end', () => rows.slice(0, 3), 3],
    [
      'a forged line appended with a valid link and seal',
      () => [...rows, chainLines(log.head, [event('forged')], TIME).text.trim()],
      6,
    ],
  ])('detects %s', (_what, change, line) => {
    expect(verifyChain(joined(change()), anchor)).toMatchObject({ intact: false, line });
  });

  it('detects an edited last line whose seal was recomputed, by the anchor', () => {
    const forged = chainLines(
      { seq: 4, hash: JSON.parse(rows[3]).hash as string, bytes: 0 },
      [{ ...event('e'), actor: 'api-key:mallory' }],
      TIME,
    ).text.trim();
    expect(verifyChain(joined([...rows.slice(0, 4), forged]), anchor)).toMatchObject({
      intact: false,
      line: 5,
    });
  });

  it('detects a torn last line', () => {
    expect(verifyChain(text.slice(0, -20), anchor)).toMatchObject({ intact: false, line: 5 });
  });

  it('detects a missing anchor once lines are sealed', () => {
    expect(verifyChain(text)).toMatchObject({ intact: false });
  });
});

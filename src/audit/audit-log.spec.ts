import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from './audit-entry';
import { appendAuditEvents, lineHash, parseAuditLog, verifyAuditChain } from './audit-log';

const event = (key: string): AuditEvent => ({
  requestId: `req-${key}`,
  actor: 'api-key:admin',
  action: 'create',
  key,
  changes: { enabled: { from: null, to: true } },
});

describe('audit.log', () => {
  let dir: string;
  const file = () => join(dir, 'audit.log');

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'audit-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends one linked, numbered line per event, at mode 0600', async () => {
    await appendAuditEvents(dir, [event('a'), event('b')]);
    await appendAuditEvents(dir, [event('c')]);
    const text = await readFile(file(), 'utf8');
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(3);
    const entries = parseAuditLog(text);
    expect(entries.map((e) => [e.seq, e.key])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(entries[0].prev).toBe('0'.repeat(64));
    expect(entries[2].prev).toBe(lineHash(lines[1]));
    expect(verifyAuditChain(text)).toEqual({ intact: true, entries: 3 });
    expect((await stat(file())).mode & 0o777).toBe(0o600);
  });

  it('links across a long log by reading only its tail', async () => {
    const many = Array.from({ length: 600 }, (_, i) => ({
      ...event(`k${i}`),
      changes: { permissions: { from: null, to: Array(20).fill('tenant.apiKey:read') } },
    }));
    await appendAuditEvents(dir, many);
    await appendAuditEvents(dir, [event('last')]);
    expect(verifyAuditChain(await readFile(file(), 'utf8'))).toEqual({
      intact: true,
      entries: 601,
    });
  });

  describe('verification finds', () => {
    let lines: string[];
    beforeEach(async () => {
      await appendAuditEvents(dir, [event('a'), event('b'), event('c'), event('d')]);
      lines = (await readFile(file(), 'utf8')).trim().split('\n');
    });

    it.each([
      ['an edited line', () => lines.map((l, i) => (i === 1 ? l.replace('"b"', '"x"') : l)), 3],
      ['a removed line', () => lines.filter((_, i) => i !== 1), 2],
      ['reordered lines', () => [lines[0], lines[2], lines[1], lines[3]], 2],
      ['a line that is not JSON', () => lines.map((l, i) => (i === 2 ? 'garbage' : l)), 3],
    ])('%s', (_what, change, line) => {
      const verdict = verifyAuditChain(`${change().join('\n')}\n`);
      expect(verdict).toMatchObject({ intact: false, line });
    });

    it('a truncated last line', () => {
      const text = `${lines.join('\n')}\n`;
      expect(verifyAuditChain(text.slice(0, -20))).toMatchObject({ intact: false, line: 4 });
    });

    it('a removed first line', () => {
      expect(verifyAuditChain(`${lines.slice(1).join('\n')}\n`)).toMatchObject({
        intact: false,
        line: 1,
      });
    });

    it('and a new append after a torn line keeps numbering and leaves the tear detectable', async () => {
      await writeFile(file(), `${lines.join('\n')}\n{"seq":5,"ti`);
      await appendAuditEvents(dir, [event('e')]);
      const text = await readFile(file(), 'utf8');
      expect(parseAuditLog(text).at(-1)).toMatchObject({ key: 'e', seq: 6 });
      expect(verifyAuditChain(text)).toMatchObject({ intact: false, line: 5 });
    });
  });
});

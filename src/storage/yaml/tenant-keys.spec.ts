import type { ApiKey } from '../api-key.record';
import { toStoredEntry } from './security-file';
import { TenantKeys } from './tenant-keys';

const hashOf = (n: number) => n.toString(16).padStart(64, '0');
const key = (name: string, hash: number, extra: Partial<ApiKey> = {}): ApiKey => ({
  name,
  enabled: true,
  permissions: [],
  hash: hashOf(hash),
  ...extra,
});
const tenant = (...keys: ApiKey[]) =>
  TenantKeys.of({ sections: {}, entries: keys.map((k) => toStoredEntry(k)) });
const names = (keys: TenantKeys) => keys.list().map((k) => k.name);

describe('TenantKeys', () => {
  it('keeps the file order: a changed key stays in place, a deleted one goes, a new one comes last', () => {
    const base = tenant(key('a', 1), key('b', 2), key('c', 3));
    const next = base.withChanges(
      new Map([
        ['d', toStoredEntry(key('d', 4))],
        ['b', null],
        ['a', toStoredEntry(key('a', 5, { enabled: false }))],
      ]),
    );
    expect(names(next)).toEqual(['a', 'c', 'd']);
    expect(next.findByName('a')?.enabled).toBe(false);
    expect([next.findByHash(hashOf(1)), next.findByHash(hashOf(2))]).toEqual([
      undefined,
      undefined,
    ]);
    expect(next.findByHash(hashOf(5))?.name).toBe('a');
    expect(names(base)).toEqual(['a', 'b', 'c']);
    expect(base.findByHash(hashOf(1))?.name).toBe('a');
  });

  it('answers like keys parsed afresh after many writes of creates, rotations and deletions', () => {
    let keys = tenant();
    let hash = 0;
    for (let write = 0; write < 600; write++) {
      const name = `k${(write * 7) % 40}`;
      const current = keys.findByName(name);
      const change = !current
        ? toStoredEntry(key(name, ++hash))
        : write % 3 === 0
          ? null
          : toStoredEntry(
              key(name, ++hash, {
                previousHash: current.hash,
                previousHashExpiresAt: '2999-01-01T00:00:00.000Z',
              }),
            );
      keys = keys.withChanges(new Map([[name, change]]));
      const fresh = TenantKeys.of(keys.document);
      for (let h = 1; h <= hash; h++) {
        expect(keys.findByHash(hashOf(h))).toBe(fresh.findByHash(hashOf(h)));
      }
      for (let n = 0; n < 40; n++) expect(keys.entry(`k${n}`)).toBe(fresh.entry(`k${n}`));
    }
  });

  it('drops a replaced token whose grace ended even when the write changes another key', () => {
    const rotated = key('rotated', 1, {
      previousHash: hashOf(2),
      previousHashExpiresAt: '2030-01-01T00:00:00.000Z',
    });
    let keys = tenant(rotated, key('other', 3));
    const write = (now: number, name: string, hash: number) => {
      const draft = keys.edit();
      draft.put(key(name, hash));
      draft.keep();
      draft.dropExpiredPreviousTokens(now);
      keys = draft.toTenantKeys();
    };
    write(Date.parse('2029-12-31T00:00:00Z'), 'new-1', 4);
    expect(keys.findByHash(hashOf(2))?.name).toBe('rotated');
    // The next write, derived from the one before, still knows a grace period is running.
    write(Date.parse('2030-01-02T00:00:00Z'), 'new-2', 5);
    expect(keys.findByHash(hashOf(2))).toBeUndefined();
    expect(keys.findByName('rotated')?.previousHash).toBeUndefined();
    expect(keys.graceEndsNoEarlierThan).toBe(Infinity);
  });
});

import { ManualClock } from '../common/clock';
import type { ApiKey } from '../storage/api-key.record';
import { UsageBuffer } from './usage-buffer';
import { mergeUsage, type UsageRecord, UsageStore } from '../storage/usage.store';

/** A store in memory that counts its writes (and can be made to fail). */
class CountingStore extends UsageStore {
  readonly records = new Map<string, Map<string, UsageRecord>>();
  writes = 0;
  failing = false;

  read(tenantId: string): Promise<ReadonlyMap<string, UsageRecord>> {
    return Promise.resolve(this.records.get(tenantId) ?? new Map());
  }

  save(tenantId: string, uses: ReadonlyMap<string, UsageRecord>): Promise<void> {
    if (this.failing) return Promise.reject(new Error('disk full'));
    this.writes++;
    this.records.set(tenantId, mergeUsage(this.records.get(tenantId) ?? new Map(), uses));
    return Promise.resolve();
  }
}

const key = (name: string, createdAt?: string): ApiKey => ({
  name,
  enabled: true,
  permissions: [],
  hash: name.padEnd(64, '0'),
  createdAt,
});

describe('UsageBuffer', () => {
  let store: CountingStore;
  let clock: ManualClock;
  let buffer: UsageBuffer;

  beforeEach(() => {
    jest.useFakeTimers();
    store = new CountingStore();
    clock = new ManualClock(Date.parse('2026-11-30T00:00:00.000Z'));
    buffer = new UsageBuffer(store, clock, { usageFlushSeconds: 60 });
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('writes nothing on use, and a tenant at most once per interval however many uses', async () => {
    for (let i = 0; i < 1000; i++) {
      clock.advance(10);
      buffer.record('acme', key('k'));
    }
    expect(store.writes).toBe(0);
    expect((await buffer.lastUsed('acme', [key('k')])).get('k')).toBe('2026-11-30T00:00:10.000Z');
    await jest.advanceTimersByTimeAsync(59_999);
    expect(store.writes).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(store.writes).toBe(1);
    expect(store.records.get('acme')?.get('k')?.lastUsedAt).toBe('2026-11-30T00:00:10.000Z');
  });

  it('shows a use while it is being written, before the store has it', async () => {
    let finish = () => {};
    const save = store.save.bind(store);
    store.save = (tenantId, uses) =>
      new Promise<void>((resolve) => {
        finish = () => void save(tenantId, uses).then(resolve);
      });
    buffer.record('acme', key('k'));
    const flushed = buffer.flush('acme');
    expect((await buffer.lastUsed('acme', [key('k')])).get('k')).toBe('2026-11-30T00:00:00.000Z');
    finish();
    await flushed;
    expect((await buffer.lastUsed('acme', [key('k')])).get('k')).toBe('2026-11-30T00:00:00.000Z');
  });

  it('writes what is pending at shutdown', async () => {
    buffer.record('acme', key('k'));
    buffer.record('beta', key('k'));
    await buffer.beforeApplicationShutdown();
    expect(store.writes).toBe(2);
  });

  it('keeps uses for the next flush when a write fails', async () => {
    store.failing = true;
    buffer.record('acme', key('k'));
    await buffer.flush('acme');
    store.failing = false;
    await buffer.flush('acme');
    expect(store.records.get('acme')?.get('k')).toBeDefined();
  });

  it('shows a use only for the key that was used: not for one re-created under its name', async () => {
    buffer.record('acme', key('k', '2026-01-01T00:00:00.000Z'));
    await buffer.flush('acme');
    const again = key('k', '2026-06-01T00:00:00.000Z');
    expect((await buffer.lastUsed('acme', [again])).get('k')).toBeUndefined();
  });
});

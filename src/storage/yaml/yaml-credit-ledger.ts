import { type BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Clock } from '../../common/clock';
import { appConfig } from '../../config/app.config';
import { BalanceMapLedger, type BalanceChange, type CreditBalance } from '../credit-ledger';
import { type Queued, TenantBatches } from '../group-commit';
import { TenantStorageError } from '../storage.errors';
import { SideFile } from './side-file';
import { existingTenantDir } from './tenant-directory';
import { withTenantLock } from './tenant-lock';

/** Credits spent, beside security.yml: `{ "<key name>": { "grant", "period", "remaining" } }`. */
export const CREDITS_FILE = 'credits.json';

function isBalance(value: unknown): value is CreditBalance {
  const balance = value as Partial<CreditBalance> | null;
  return (
    typeof balance?.grant === 'string' &&
    Number.isSafeInteger(balance.period) &&
    Number.isSafeInteger(balance.remaining)
  );
}

/**
 * The balances in credits.json. A damaged file is an error, never "nothing spent yet": that
 * would hand out every credit again.
 */
function parseBalances(text: string | undefined, tenantId: string): Map<string, CreditBalance> {
  const balances = new Map<string, CreditBalance>();
  if (text === undefined) return balances;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TenantStorageError(tenantId, 'EINVAL', 'read', CREDITS_FILE);
  }
  for (const [name, value] of Object.entries(parsed)) {
    if (!isBalance(value)) throw new TenantStorageError(tenantId, 'EINVAL', 'read', CREDITS_FILE);
    balances.set(name, { grant: value.grant, period: value.period, remaining: value.remaining });
  }
  return balances;
}

interface PendingChange extends Queued {
  readonly change: BalanceChange<unknown>;
  readonly resolve: (value: unknown) => void;
}

/**
 * Credits spent in `<TENANTS_DIR>/<tenantId>/credits.json`, shared by every process on the
 * folder. Refusals are decided from the file as it is now (one lstat while it is unchanged);
 * spends are queued per tenant, and those that arrive while a write is in flight are applied
 * together by the next one, under the file's own lock (`credits.json.lock`, not security.yml's),
 * to the file as it stands, and fsynced before any of them is answered.
 */
@Injectable()
export class YamlCreditLedger extends BalanceMapLedger implements BeforeApplicationShutdown {
  private readonly file: SideFile<Map<string, CreditBalance>>;
  private readonly writes = new TenantBatches<PendingChange>((tenantId, batch) =>
    this.write(tenantId, batch),
  );

  constructor(
    @Inject(appConfig.KEY)
    private readonly config: Pick<ConfigType<typeof appConfig>, 'tenantsDir' | 'tenantCacheSize'>,
    clock: Clock,
  ) {
    super(clock);
    this.file = new SideFile(
      config.tenantsDir,
      CREDITS_FILE,
      config.tenantCacheSize,
      parseBalances,
    );
  }

  protected stored(tenantId: string): Promise<ReadonlyMap<string, CreditBalance>> {
    return this.file.read(tenantId);
  }

  protected update<T>(tenantId: string, change: BalanceChange<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.writes.add(tenantId, { change, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** On shutdown, every spend queued is written (and answered) before the process ends. */
  beforeApplicationShutdown(): Promise<void> {
    return this.writes.drained();
  }

  /** One locked read, apply and rewrite for a batch, then each change answered. */
  private async write(tenantId: string, batch: readonly PendingChange[]): Promise<void> {
    await existingTenantDir(this.config.tenantsDir, tenantId);
    const settle = await withTenantLock(
      tenantId,
      this.file.path(tenantId),
      async (lock) => {
        const balances = await this.file.load(tenantId);
        const now = this.clock.now();
        let changed = false;
        const outcomes = batch.map((pending) => {
          try {
            const outcome = pending.change(balances, now);
            changed ||= outcome.changed;
            return () => pending.resolve(outcome.result);
          } catch (error) {
            return () => pending.reject(error);
          }
        });
        if (changed) {
          const text = `${JSON.stringify(Object.fromEntries(balances), null, 1)}\n`;
          // Stopped past the lock's staleness, another process may have spent meanwhile.
          await this.file.replace(tenantId, text, {
            lock,
            lost: 'lost its lock to another process mid-write',
          });
        }
        return () => outcomes.forEach((answer) => answer());
      },
      () => undefined,
    );
    settle();
  }
}

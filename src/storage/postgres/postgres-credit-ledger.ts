import { Injectable } from '@nestjs/common';
import DataLoader from 'dataloader';
import { DatabaseError, type PoolClient } from 'pg';
import { Clock } from '../../common/clock';
import {
  balanceOf,
  type CreditBalance,
  type CreditGrant,
  CreditLedger,
  type CreditSpend,
  spendFrom,
} from '../credit-ledger';
import { TenantNotFoundError } from '../storage.errors';
import { PostgresDatabase } from './postgres-database';

interface Spend {
  readonly tenantId: string;
  readonly grant: CreditGrant;
  readonly cost: number;
}

interface BalanceRow {
  tenant_id: string;
  name: string;
  grant_id: string;
  period: string;
  remaining: string;
}

const toBalance = (row: BalanceRow): CreditBalance => ({
  grant: row.grant_id,
  period: Number(row.period),
  remaining: Number(row.remaining),
});

/** Times a batch is tried again after PostgreSQL broke a deadlock by aborting it. */
const DEADLOCK_RETRIES = 3;
const DEADLOCK_DETECTED = '40P01';

/**
 * Credits spent, in `api_key_credits`: one row per key, its balance of the current grant. The
 * spends of all requests that arrive in one turn of the event loop are decided in one
 * transaction: rows made for keys spent for the first time, the batch's rows locked (`FOR
 * UPDATE`, in one order on every replica), each spend decided in turn against the balance as
 * every replica left it, the new balances written, and every spend answered after COMMIT.
 */
@Injectable()
export class PostgresCreditLedger extends CreditLedger {
  private readonly spends = new DataLoader((batch: readonly Spend[]) => this.spendBatch(batch), {
    cache: false,
    batchScheduleFn: (dispatch) => setImmediate(dispatch),
    maxBatchSize: 512,
  });

  constructor(
    private readonly db: PostgresDatabase,
    private readonly clock: Clock,
  ) {
    super();
  }

  async spend(tenantId: string, grant: CreditGrant, cost: number): Promise<CreditSpend> {
    if (cost === 0) {
      const remaining = (await this.balances(tenantId, [grant])).get(grant.name) ?? 0;
      return { granted: remaining > 0, remaining };
    }
    return this.spends.load({ tenantId, grant, cost });
  }

  async balances(
    tenantId: string,
    grants: readonly CreditGrant[],
  ): Promise<ReadonlyMap<string, number>> {
    if (grants.length === 0) return new Map();
    const rows = await this.db.query<BalanceRow>(
      `SELECT tenant_id, name, grant_id, period, remaining FROM api_key_credits
        WHERE tenant_id = $1 AND name = ANY($2)`,
      [tenantId, grants.map((grant) => grant.name)],
      'api-key-credits-read',
    );
    const stored = new Map(rows.map((row) => [row.name, toBalance(row)]));
    const now = this.clock.now();
    return new Map(
      grants.map((grant) => [grant.name, balanceOf(grant, stored.get(grant.name), now).remaining]),
    );
  }

  async reset(tenantId: string, grant: CreditGrant): Promise<void> {
    const fresh = balanceOf(grant, undefined, this.clock.now());
    await this.db.query(
      `INSERT INTO api_key_credits (tenant_id, name, grant_id, period, remaining)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, name) DO UPDATE SET
         grant_id = EXCLUDED.grant_id, period = EXCLUDED.period, remaining = EXCLUDED.remaining`,
      [tenantId, grant.name, fresh.grant, fresh.period, fresh.remaining],
    );
  }

  async forget(tenantId: string, name: string): Promise<void> {
    await this.db.query('DELETE FROM api_key_credits WHERE tenant_id = $1 AND name = $2', [
      tenantId,
      name,
    ]);
  }

  private async spendBatch(batch: readonly Spend[]): Promise<Array<CreditSpend | Error>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction((client) => this.decide(client, batch));
      } catch (error) {
        const deadlock = error instanceof DatabaseError && error.code === DEADLOCK_DETECTED;
        if (!deadlock || attempt > DEADLOCK_RETRIES) throw error;
      }
    }
  }

  private async decide(
    client: PoolClient,
    batch: readonly Spend[],
  ): Promise<Array<CreditSpend | Error>> {
    const now = this.clock.now();
    const idOf = (tenantId: string, name: string) => `${tenantId}\n${name}`;
    // One row per key, locked in one order by every replica.
    const first = new Map<string, Spend>();
    for (const spend of batch) {
      const id = idOf(spend.tenantId, spend.grant.name);
      if (!first.has(id)) first.set(id, spend);
    }
    const keys = [...first.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const fresh = keys.map(([, spend]) => balanceOf(spend.grant, undefined, now));
    const tenants = keys.map(([, spend]) => spend.tenantId);
    const names = keys.map(([, spend]) => spend.grant.name);
    await client.query(
      `INSERT INTO api_key_credits (tenant_id, name, grant_id, period, remaining)
       SELECT q.tenant_id, q.name, q.grant_id, q.period, q.remaining
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
              WITH ORDINALITY AS q (tenant_id, name, grant_id, period, remaining, i)
         JOIN tenants t ON t.id = q.tenant_id
        ORDER BY q.i
       ON CONFLICT (tenant_id, name) DO NOTHING`,
      [
        tenants,
        names,
        fresh.map((balance) => balance.grant),
        fresh.map((balance) => balance.period),
        fresh.map((balance) => balance.remaining),
      ],
    );
    const rows = await client.query<BalanceRow>(
      `SELECT c.tenant_id, c.name, c.grant_id, c.period, c.remaining
         FROM api_key_credits c
         JOIN unnest($1::text[], $2::text[]) AS q (tenant_id, name)
           ON c.tenant_id = q.tenant_id AND c.name = q.name
        ORDER BY c.tenant_id, c.name
          FOR UPDATE OF c`,
      [tenants, names],
    );
    const balances = new Map(
      rows.rows.map((row) => [idOf(row.tenant_id, row.name), toBalance(row)]),
    );
    const changed = new Set<string>();
    const answers = batch.map((spend) => {
      const id = idOf(spend.tenantId, spend.grant.name);
      if (!balances.has(id)) return new TenantNotFoundError(spend.tenantId);
      const { balance, granted } = spendFrom(spend.grant, balances.get(id), spend.cost, now);
      if (granted) {
        balances.set(id, balance);
        changed.add(id);
      }
      return { granted, remaining: balance.remaining };
    });
    if (changed.size > 0) {
      const updates = [...changed].map((id) => {
        const spend = first.get(id) as Spend;
        return { spend, balance: balances.get(id) as CreditBalance };
      });
      await client.query(
        `UPDATE api_key_credits c
            SET grant_id = u.grant_id, period = u.period, remaining = u.remaining
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                AS u (tenant_id, name, grant_id, period, remaining)
          WHERE c.tenant_id = u.tenant_id AND c.name = u.name`,
        [
          updates.map(({ spend }) => spend.tenantId),
          updates.map(({ spend }) => spend.grant.name),
          updates.map(({ balance }) => balance.grant),
          updates.map(({ balance }) => balance.period),
          updates.map(({ balance }) => balance.remaining),
        ],
      );
    }
    return answers;
  }
}

import { Injectable } from '@nestjs/common';
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
import { type Queued, TenantBatches } from '../group-commit';
import { TenantNotFoundError } from '../storage.errors';
import { PostgresDatabase } from './postgres-database';

interface Spend extends Queued {
  readonly grant: CreditGrant;
  readonly cost: number;
  readonly resolve: (spend: CreditSpend) => void;
}

interface BalanceRow {
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
 * Credits spent, in `api_key_credits`: one row per key, its balance of the current grant. A
 * tenant's spends that arrive while one of its transactions is in flight are decided together
 * in the next: rows made for keys spent for the first time, the batch's rows locked (`FOR
 * UPDATE`, in one order on every replica), each spend decided in turn against the balance as
 * every replica left it, the new balances written, and every spend answered after COMMIT.
 */
@Injectable()
export class PostgresCreditLedger extends CreditLedger {
  /** One transaction in flight per tenant: the spends arriving meanwhile share the next. */
  private readonly spends = new TenantBatches<Spend>((tenantId, batch) =>
    this.spendBatch(tenantId, batch),
  );

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
    return new Promise((resolve, reject) => {
      this.spends.add(tenantId, { grant, cost, resolve, reject });
    });
  }

  async balances(
    tenantId: string,
    grants: readonly CreditGrant[],
  ): Promise<ReadonlyMap<string, number>> {
    if (grants.length === 0) return new Map();
    const rows = await this.db.query<BalanceRow>(
      `SELECT name, grant_id, period, remaining FROM api_key_credits
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

  /** Decides and stores a batch, then answers each spend (after COMMIT). */
  private async spendBatch(tenantId: string, batch: readonly Spend[]): Promise<void> {
    let answers: Array<CreditSpend | Error>;
    for (let attempt = 1; ; attempt++) {
      try {
        answers = await this.db.transaction((client) => this.decide(client, tenantId, batch));
        break;
      } catch (error) {
        const deadlock = error instanceof DatabaseError && error.code === DEADLOCK_DETECTED;
        if (!deadlock || attempt > DEADLOCK_RETRIES) throw error;
      }
    }
    batch.forEach((spend, i) => {
      const answer = answers[i];
      if (answer instanceof Error) spend.reject(answer);
      else spend.resolve(answer);
    });
  }

  /**
   * The batch (one tenant's spends) decided on its rows: made where missing and locked in one
   * statement, in name order (the same on every replica: no deadlock between their batches),
   * each spend decided in turn, the balances that changed written in a second.
   */
  private async decide(
    client: PoolClient,
    tenantId: string,
    batch: readonly Spend[],
  ): Promise<Array<CreditSpend | Error>> {
    const now = this.clock.now();
    const grants = new Map<string, CreditGrant>();
    for (const { grant } of batch) if (!grants.has(grant.name)) grants.set(grant.name, grant);
    const names = [...grants.keys()].sort();
    const fresh = names.map((name) => balanceOf(grants.get(name) as CreditGrant, undefined, now));
    const locked = await client.query<BalanceRow>({
      name: 'api-key-credits-lock',
      text: `WITH q AS (
               SELECT * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[])
                        WITH ORDINALITY AS q (name, grant_id, period, remaining, i)),
             made AS (
               INSERT INTO api_key_credits (tenant_id, name, grant_id, period, remaining)
               SELECT t.id, q.name, q.grant_id, q.period, q.remaining
                 FROM q JOIN tenants t ON t.id = $1 ORDER BY q.i
               ON CONFLICT (tenant_id, name) DO NOTHING
               RETURNING name, grant_id, period, remaining),
             held AS (
               SELECT c.name, c.grant_id, c.period, c.remaining
                 FROM api_key_credits c JOIN q ON c.tenant_id = $1 AND c.name = q.name
                ORDER BY c.name
                  FOR UPDATE OF c)
           SELECT * FROM made UNION ALL SELECT * FROM held`,
      values: [
        tenantId,
        names,
        fresh.map((balance) => balance.grant),
        fresh.map((balance) => balance.period),
        fresh.map((balance) => balance.remaining),
      ],
    });
    const balances = new Map(locked.rows.map((row) => [row.name, toBalance(row)]));
    const unseen = names.filter((name) => !balances.has(name));
    if (unseen.length > 0) {
      // Made by another replica after this statement began: visible to the next one.
      const again = await client.query<BalanceRow>(
        `SELECT name, grant_id, period, remaining FROM api_key_credits
          WHERE tenant_id = $1 AND name = ANY($2) ORDER BY name FOR UPDATE`,
        [tenantId, unseen],
      );
      for (const row of again.rows) balances.set(row.name, toBalance(row));
    }
    const changed = new Set<string>();
    const answers = batch.map(({ grant, cost }) => {
      const stored = balances.get(grant.name);
      if (!stored) return new TenantNotFoundError(tenantId);
      const { balance, granted } = spendFrom(grant, stored, cost, now);
      if (granted) {
        balances.set(grant.name, balance);
        changed.add(grant.name);
      }
      return { granted, remaining: balance.remaining };
    });
    if (changed.size > 0) {
      const updated = [...changed].map(
        (name) => [name, balances.get(name) as CreditBalance] as const,
      );
      await client.query({
        name: 'api-key-credits-write',
        text: `UPDATE api_key_credits c
                  SET grant_id = u.grant_id, period = u.period, remaining = u.remaining
                 FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[])
                      AS u (name, grant_id, period, remaining)
                WHERE c.tenant_id = $1 AND c.name = u.name`,
        values: [
          tenantId,
          updated.map(([name]) => name),
          updated.map(([, balance]) => balance.grant),
          updated.map(([, balance]) => balance.period),
          updated.map(([, balance]) => balance.remaining),
        ],
      });
    }
    return answers;
  }
}

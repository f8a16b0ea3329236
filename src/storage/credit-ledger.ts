import { createHash } from 'node:crypto';
import type { Clock } from '../common/clock';
import type { ApiKey, Credits } from './api-key.record';

/**
 * A key's credits as granted, which its balance is counted against. The grant is what the key
 * stores (`credits.remaining` as set, by the API or by hand); what has been spent of it is kept
 * beside the keys, in the ledger, so a security.yml kept in Git does not churn with every use.
 */
export interface CreditGrant {
  /** The key's name. */
  readonly name: string;
  /**
   * Tells this grant from any other: a new `remaining` or refill interval (by the API or by
   * hand), or a key re-created under the name, starts a new balance.
   */
  readonly id: string;
  readonly credits: Credits;
}

/** What is left of a grant, in the refill period it was counted in (0 without a refill). */
export interface CreditBalance {
  readonly grant: string;
  readonly period: number;
  readonly remaining: number;
}

/** The answer to a spend: whether the credits were there, and what is left. */
export interface CreditSpend {
  readonly granted: boolean;
  readonly remaining: number;
}

const grants = new WeakMap<ApiKey, CreditGrant>();

/** The key's grant, or undefined when it has no credits. Keys are immutable: computed once. */
export function grantOf(key: ApiKey): CreditGrant | undefined {
  if (!key.credits) return undefined;
  let grant = grants.get(key);
  if (!grant) {
    const { remaining, refill } = key.credits;
    const id = createHash('sha256')
      .update(`${key.createdAt ?? key.hash}\n${remaining}\n${refill?.intervalSeconds ?? ''}`)
      .digest('base64url')
      .slice(0, 22);
    grant = { name: key.name, id, credits: key.credits };
    grants.set(key, grant);
  }
  return grant;
}

/**
 * The refill period `now` falls in: refills happen at multiples of the interval since the Unix
 * epoch (an interval of 86400 refills at 00:00 UTC), the same instant on every replica.
 */
export function periodOf(credits: Credits, now: number): number {
  return credits.refill ? Math.floor(now / (credits.refill.intervalSeconds * 1000)) : 0;
}

/**
 * The grant's balance at `now`, from what the ledger holds of the key (`stored`): a balance of
 * another grant does not count (the grant starts afresh, in the current period), and a balance
 * of an earlier period has been refilled to the refill's amount.
 */
export function balanceOf(
  grant: CreditGrant,
  stored: CreditBalance | undefined,
  now: number,
): CreditBalance {
  const period = periodOf(grant.credits, now);
  if (stored?.grant !== grant.id) {
    return { grant: grant.id, period, remaining: grant.credits.remaining };
  }
  if (grant.credits.refill && stored.period < period) {
    return { grant: grant.id, period, remaining: grant.credits.refill.amount };
  }
  return stored;
}

/**
 * Spends `cost` credits of the grant if its balance holds them: the new balance, and whether
 * it did. A cost of 0 spends nothing, and is granted while any credit is left.
 */
export function spendFrom(
  grant: CreditGrant,
  stored: CreditBalance | undefined,
  cost: number,
  now: number,
): { readonly balance: CreditBalance; readonly granted: boolean } {
  const balance = balanceOf(grant, stored, now);
  if (balance.remaining < Math.max(cost, 1)) return { balance, granted: false };
  return { balance: { ...balance, remaining: balance.remaining - cost }, granted: true };
}

/**
 * Where credits are spent: the port, and its injection token. A spend is decided against the
 * balance as every process sharing the storage left it, and is durable before it resolves as
 * granted: credits are never spent twice. A crash can lose only spends not yet answered.
 */
export abstract class CreditLedger {
  /** Spends `cost` credits of the grant if they are there (see spendFrom). */
  abstract spend(tenantId: string, grant: CreditGrant, cost: number): Promise<CreditSpend>;

  /** What remains of each grant, by key name. */
  abstract balances(
    tenantId: string,
    grants: readonly CreditGrant[],
  ): Promise<ReadonlyMap<string, number>>;

  /** Starts the grant afresh now, with its whole `remaining`: what an admin sets counts from then. */
  abstract reset(tenantId: string, grant: CreditGrant): Promise<void>;

  /** The key is gone: its balance with it. */
  abstract forget(tenantId: string, name: string): Promise<void>;
}

/** A change to a tenant's balances, applied to them as stored; `changed` says whether to store. */
export type BalanceChange<T> = (
  balances: Map<string, CreditBalance>,
  now: number,
) => { readonly result: T; readonly changed: boolean };

/**
 * The ledger over a map of balances per tenant, for the stores that hold one (the files, the
 * in-memory store): the rules once, the adapter only reads the map and applies a change to it
 * atomically.
 */
export abstract class BalanceMapLedger extends CreditLedger {
  constructor(protected readonly clock: Clock) {
    super();
  }

  /** The tenant's balances as stored now. */
  protected abstract stored(tenantId: string): Promise<ReadonlyMap<string, CreditBalance>>;

  /** Applies `change` to the balances as stored, and stores them, as one atomic step. */
  protected abstract update<T>(tenantId: string, change: BalanceChange<T>): Promise<T>;

  async spend(tenantId: string, grant: CreditGrant, cost: number): Promise<CreditSpend> {
    // A refusal, or a check that spends nothing, needs no write: within a grant and a period a
    // balance only goes down, and any reset is a new write the stored balances show.
    const seen = spendFrom(
      grant,
      (await this.stored(tenantId)).get(grant.name),
      cost,
      this.clock.now(),
    );
    if (!seen.granted || cost === 0) {
      return { granted: seen.granted, remaining: seen.balance.remaining };
    }
    return this.update(tenantId, (balances, now) => {
      const { balance, granted } = spendFrom(grant, balances.get(grant.name), cost, now);
      if (granted) balances.set(grant.name, balance);
      return { result: { granted, remaining: balance.remaining }, changed: granted };
    });
  }

  async balances(
    tenantId: string,
    grants: readonly CreditGrant[],
  ): Promise<ReadonlyMap<string, number>> {
    if (grants.length === 0) return new Map();
    const stored = await this.stored(tenantId);
    const now = this.clock.now();
    return new Map(
      grants.map((grant) => [grant.name, balanceOf(grant, stored.get(grant.name), now).remaining]),
    );
  }

  reset(tenantId: string, grant: CreditGrant): Promise<void> {
    return this.update(tenantId, (balances, now) => {
      balances.set(grant.name, balanceOf(grant, undefined, now));
      return { result: undefined, changed: true };
    });
  }

  forget(tenantId: string, name: string): Promise<void> {
    return this.update(tenantId, (balances) => ({
      result: undefined,
      changed: balances.delete(name),
    }));
  }
}

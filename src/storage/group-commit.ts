import type { ApiKey } from './api-key.record';
import { assertDecided, type DecideChange, type KeyDecision } from './api-keys.repository';

/** A change waiting for its tenant's next write, and how to answer its caller. */
export interface PendingChange extends Queued {
  readonly name: string;
  readonly decide: DecideChange<unknown>;
  readonly resolve: (value: unknown) => void;
}

/** Something waiting in a TenantBatches queue: rejected with the batch's error if its write fails. */
export interface Queued {
  readonly reject: (error: unknown) => void;
}

/**
 * Work queued per tenant and done in batches: what arrives while a tenant's batch is being
 * written waits, and is written together by the next one. `write` stores a batch and answers
 * each of its items, or rejects, and then every item of the batch is rejected with its error.
 */
export class TenantBatches<P extends Queued> {
  private readonly queues = new Map<string, P[]>();
  private readonly draining = new Set<Promise<void>>();

  /** `written`, when given, learns of each batch stored, by its number of items. */
  constructor(
    private readonly write: (tenantId: string, batch: P[]) => Promise<void>,
    private readonly written?: (items: number) => void,
  ) {}

  add(tenantId: string, item: P): void {
    const queue = this.queues.get(tenantId);
    if (queue) {
      queue.push(item);
      return;
    }
    const fresh = [item];
    this.queues.set(tenantId, fresh);
    const draining = this.drain(tenantId, fresh).finally(() => this.draining.delete(draining));
    this.draining.add(draining);
  }

  /** Resolves once every item added so far has been written and answered. */
  async drained(): Promise<void> {
    while (this.draining.size > 0) await Promise.allSettled([...this.draining]);
  }

  /** Writes the queue in batches until it is empty. */
  private async drain(tenantId: string, queue: P[]): Promise<void> {
    // Let the requests already read from their sockets join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0);
        await this.write(tenantId, batch).then(
          () => this.written?.(batch.length),
          (error: unknown) => {
            for (const item of batch) item.reject(error);
          },
        );
      }
    } finally {
      this.queues.delete(tenantId);
    }
  }
}

/**
 * Group commit, the same for every backend: changes to a tenant that arrive while one of its
 * writes is in flight wait, and are written together by the next one (one lock, one fsync or
 * COMMIT for many changes), each still judged on its own. `write` stores a batch and answers
 * each of its changes (with `decideEach`), or rejects them all.
 */
export class GroupCommit extends TenantBatches<PendingChange> {
  submit<T>(tenantId: string, name: string, decide: DecideChange<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.add(tenantId, { name, decide, resolve: resolve as (value: unknown) => void, reject });
    });
  }
}

/**
 * Each change of a batch decided on its own, in order, against the keys as the changes before
 * it left them (`current`): its decision applied if it returns, nothing of it if it throws.
 * Returns how to answer each change, once the batch is stored.
 */
export function decideEach(
  batch: readonly PendingChange[],
  current: (name: string) => ApiKey | undefined,
  apply: (name: string, decision: KeyDecision<unknown>) => void,
): Array<() => void> {
  return batch.map((change) => {
    try {
      const decision = assertDecided(change.decide(current(change.name)), change.name);
      apply(change.name, decision);
      return () => change.resolve(decision.result);
    } catch (error) {
      return () => change.reject(error);
    }
  });
}

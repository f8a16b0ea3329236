import type { ApiKey } from './api-key.record';
import { assertDecided, type DecideChange, type KeyDecision } from './api-keys.repository';

/** A change waiting for its tenant's next write, and how to answer its caller. */
export interface PendingChange {
  readonly name: string;
  readonly decide: DecideChange<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit, the same for every backend: changes to a tenant that arrive while one of its
 * writes is in flight wait, and are written together by the next one (one lock, one fsync or
 * COMMIT for many changes), each still judged on its own. `write` stores a batch and answers
 * each of its changes (with `decideEach`), or rejects them all.
 */
export class GroupCommit {
  private readonly queues = new Map<string, PendingChange[]>();
  private readonly draining = new Set<Promise<void>>();

  /** `written`, when given, learns of each batch stored, by its number of changes. */
  constructor(
    private readonly write: (tenantId: string, batch: PendingChange[]) => Promise<void>,
    private readonly written?: (changes: number) => void,
  ) {}

  submit<T>(tenantId: string, name: string, decide: DecideChange<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const change: PendingChange = {
        name,
        decide,
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      const queue = this.queues.get(tenantId);
      if (queue) {
        queue.push(change);
        return;
      }
      const fresh = [change];
      this.queues.set(tenantId, fresh);
      const draining = this.drain(tenantId, fresh).finally(() => this.draining.delete(draining));
      this.draining.add(draining);
    });
  }

  /** Resolves once every change submitted so far has been written and answered. */
  async drained(): Promise<void> {
    while (this.draining.size > 0) await Promise.allSettled([...this.draining]);
  }

  /** Writes the queue in batches until it is empty. */
  private async drain(tenantId: string, queue: PendingChange[]): Promise<void> {
    // Let the requests already read from their sockets join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0);
        await this.write(tenantId, batch).then(
          () => this.written?.(batch.length),
          (error: unknown) => {
            for (const change of batch) change.reject(error);
          },
        );
      }
    } finally {
      this.queues.delete(tenantId);
    }
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

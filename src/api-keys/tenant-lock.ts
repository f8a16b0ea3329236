import { setTimeout as sleep } from 'node:timers/promises';
import { lock } from 'proper-lockfile';
import {
  errnoCode,
  TenantBusyError,
  TenantNotFoundError,
  TenantStorageError,
} from './api-keys.errors';

/** A holder that stops refreshing its lock for this long (it died) loses it to the next writer. */
export const LOCK_STALE_MS = 4000;
/** How long a writer waits for another's lock before 503: longer than LOCK_STALE_MS, so a dead holder's lock is always taken over within the wait. */
export const LOCK_WAIT_MS = 6000;

/** Backoff between attempts: 10 ms doubling to 200 ms, jittered so waiters do not march in step. */
function backoff(attempt: number): number {
  return Math.min(200, 10 * 2 ** attempt) * (0.5 + Math.random());
}

/**
 * Runs `work` holding `<dir>/security.yml.lock`, an exclusive lock shared by every process that
 * uses the folder (proper-lockfile: an atomic mkdir, refreshed while held, stale when not).
 * Only a lock held by someone else is waited for; any other failure (EROFS, EACCES) is final.
 */
export async function withTenantLock<T>(
  tenantId: string,
  file: string,
  work: () => Promise<T>,
  onCompromised: (error: Error) => void,
): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let release: (() => Promise<void>) | undefined;
  for (let attempt = 0; !release; attempt++) {
    try {
      release = await lock(file, {
        realpath: false,
        stale: LOCK_STALE_MS,
        update: LOCK_STALE_MS / 4,
        onCompromised,
      });
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT') throw new TenantNotFoundError(tenantId);
      if (code !== 'ELOCKED') throw new TenantStorageError(tenantId, code);
      if (Date.now() >= deadline) {
        throw new TenantBusyError(tenantId, Math.ceil(LOCK_STALE_MS / 1000));
      }
      await sleep(backoff(attempt));
    }
  }
  try {
    return await work();
  } finally {
    await release().catch(() => undefined);
  }
}

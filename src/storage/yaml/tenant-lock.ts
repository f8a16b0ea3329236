import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lock } from 'proper-lockfile';
import {
  errnoCode,
  TenantLockHeldError,
  TenantNotFoundError,
  TenantStorageError,
} from '../storage.errors';

/** A holder that stops refreshing its lock for this long (it died) loses it to the next writer. */
export const LOCK_STALE_MS = 4000;
/** How long a writer waits for another's lock before 503: longer than LOCK_STALE_MS, so a dead holder's lock is always taken over within the wait. */
export const LOCK_WAIT_MS = 6000;
/**
 * A lock last refreshed longer ago than this is not relied on for a rename: another process
 * may judge it stale before the rename is done.
 */
const TRUST_MS = LOCK_STALE_MS / 2;

/** Backoff between attempts: 10 ms doubling to 200 ms, jittered so waiters do not march in step. */
function backoff(attempt: number): number {
  return Math.min(200, 10 * 2 ** attempt) * (0.5 + Math.random());
}

/** The held lock, as its holder sees it. */
export interface HeldLock {
  /** Whether the lock is still ours and fresh: checked right before a rename. */
  stillHeld(): Promise<boolean>;
}

/**
 * The modification time proper-lockfile last gave each lock it holds, learnt through the `fs`
 * it is handed (a documented option): it sets the lock directory's mtime when it takes the lock
 * and each time it refreshes it, and a process that takes the lock over makes a new directory,
 * so an mtime that is no longer ours means the lock is no longer ours.
 */
const ourMtimes = new Map<string, { mtimeMs: number; at: number }>();
const created = new Set<string>();

type Callback<T> = (error: NodeJS.ErrnoException | null, value?: T) => void;
const recordingFs = {
  ...fs,
  mkdir(path: string, callback: Callback<void>) {
    fs.mkdir(path, (error) => {
      if (!error) created.add(path);
      callback(error);
    });
  },
  stat(path: string, callback: Callback<fs.Stats>) {
    fs.stat(path, (error, stats) => {
      // proper-lockfile reads the new directory's mtime right after making it: that one is ours.
      if (!error && created.delete(path)) {
        ourMtimes.set(path, { mtimeMs: stats.mtime.getTime(), at: Date.now() });
      }
      callback(error, stats);
    });
  },
  utimes(path: string, atime: Date, mtime: Date, callback: Callback<void>) {
    fs.utimes(path, atime, mtime, (error) => {
      if (!error) ourMtimes.set(path, { mtimeMs: mtime.getTime(), at: Date.now() });
      callback(error);
    });
  },
};

/**
 * Runs `work` holding `<file>.lock`, an exclusive lock shared by every process that uses the
 * folder (proper-lockfile: an atomic mkdir, refreshed while held, stale when not). Only a lock
 * held by someone else is waited for; any other failure (EROFS, EACCES) is final. `work` is
 * given the means to check, right before it installs anything, that the lock is still its own.
 */
export async function withTenantLock<T>(
  tenantId: string,
  file: string,
  work: (held: HeldLock) => Promise<T>,
  onCompromised: (error: Error) => void,
  waitMs = LOCK_WAIT_MS,
): Promise<T> {
  const lockDir = `${file}.lock`;
  const deadline = Date.now() + waitMs;
  let release: (() => Promise<void>) | undefined;
  let compromised = false;
  for (let attempt = 0; !release; attempt++) {
    try {
      release = await lock(file, {
        realpath: false,
        stale: LOCK_STALE_MS,
        update: LOCK_STALE_MS / 4,
        fs: recordingFs,
        onCompromised: (error) => {
          compromised = true;
          onCompromised(error);
        },
      });
    } catch (error) {
      const code = errnoCode(error);
      // ENOENT: the folder is gone, or the lock we were taking was taken over meanwhile.
      if (code === 'ENOENT' && !existsSync(dirname(file))) throw new TenantNotFoundError(tenantId);
      if (code !== 'ELOCKED' && code !== 'ENOENT') throw new TenantStorageError(tenantId, code);
      if (Date.now() >= deadline) {
        throw new TenantLockHeldError(tenantId, Math.ceil(LOCK_STALE_MS / 1000));
      }
      await sleep(backoff(attempt));
    }
  }
  const held: HeldLock = {
    async stillHeld() {
      const ours = ourMtimes.get(lockDir);
      if (compromised || !ours || Date.now() - ours.at > TRUST_MS) return false;
      const current = await stat(lockDir).catch(() => undefined);
      return current?.mtime.getTime() === ours.mtimeMs;
    },
  };
  try {
    return await work(held);
  } finally {
    ourMtimes.delete(lockDir);
    await release().catch(() => undefined);
  }
}

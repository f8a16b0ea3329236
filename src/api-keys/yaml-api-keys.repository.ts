import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomBytes } from 'node:crypto';
import { type BigIntStats, statSync } from 'node:fs';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIT_FILE } from '../audit/audit-entry';
import { appendAuditEvents } from '../audit/audit-log';
import { appConfig } from '../config/app.config';
import { syncDirectory, writeAndSync } from '../common/durable-file';
import { LruCache } from '../common/lru-cache';
import { type ApiKey, isTenantId } from './api-key';
import { existingTenantDir, tenantPath } from './tenant-directory';
import {
  errnoCode,
  TenantFileInvalidError,
  TenantNotFoundError,
  TenantStorageError,
} from './api-keys.errors';
import { type ApiKeyChanges, ApiKeysRepository } from './api-keys.repository';
import {
  EMPTY_SECURITY_DOCUMENT,
  MAX_SECURITY_FILE_BYTES,
  parseSecurityFile,
  renderSecurityFile,
  SecurityFileError,
} from './security-file';
import { TenantKeys } from './tenant-keys';
import { withTenantLock } from './tenant-lock';

export const SECURITY_FILE = 'security.yml';
/** Temp files are `.security.yml.<pid>.<random>.tmp`; only a crashed writer leaves one behind. */
const TEMP_FILE = /^\.security\.yml\.\d+\.[0-9a-f]+\.tmp$/;
const tempFileName = () => `.${SECURITY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;

/** What was last read of a tenant's file, valid while the file's identity stays the same. */
interface CachedTenant {
  readonly signature: string;
  readonly keys?: TenantKeys;
  readonly error?: TenantFileInvalidError;
}

interface PendingChange {
  readonly apply: (keys: ApiKeyChanges) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

const NO_FILE = 'absent';

/** Inode, size, and nanosecond change and modification times: any write or rename changes it. */
function signatureOf(stats: BigIntStats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/**
 * Keys in `<TENANTS_DIR>/<tenantId>/security.yml`. The file is the source of truth: each read
 * stats it and re-parses only when it changed, so hand edits and other processes' writes count
 * on the next request. Changes to a tenant are queued; those that arrive while a write is in
 * flight are applied together in the next rewrite (group commit). Each rewrite holds the
 * tenant's lock across processes, starts from the file as it is, and is atomic and durable
 * (temp file, fsync, rename, directory fsync) before any of its callers is answered.
 */
@Injectable()
export class YamlApiKeysRepository extends ApiKeysRepository implements BeforeApplicationShutdown {
  private readonly root: string;
  private readonly cache: LruCache<string, CachedTenant>;
  private readonly queues = new Map<string, PendingChange[]>();
  private readonly draining = new Set<Promise<void>>();
  private readonly loading = new Map<string, { signature: string; keys: Promise<TenantKeys> }>();
  private readonly logger = new Logger(YamlApiKeysRepository.name);

  constructor(
    @Inject(appConfig.KEY)
    config: Pick<ConfigType<typeof appConfig>, 'tenantsDir' | 'tenantCacheSize'>,
  ) {
    super();
    this.root = config.tenantsDir;
    this.cache = new LruCache(config.tenantCacheSize);
  }

  async list(tenantId: string): Promise<readonly ApiKey[]> {
    return (await this.read(tenantId)).list();
  }

  async findByName(tenantId: string, name: string): Promise<ApiKey | undefined> {
    return (await this.read(tenantId)).findByName(name);
  }

  async findByHash(tenantId: string, hash: string): Promise<ApiKey | undefined> {
    return (await this.read(tenantId)).findByHash(hash);
  }

  /** On shutdown, lets every queued change reach the disk (and its caller) before the process ends. */
  async beforeApplicationShutdown(): Promise<void> {
    while (this.draining.size > 0) await Promise.allSettled([...this.draining]);
  }

  change<T>(tenantId: string, apply: (keys: ApiKeyChanges) => T): Promise<T> {
    if (!isTenantId(tenantId)) return Promise.reject(new TenantNotFoundError(tenantId));
    return new Promise<T>((resolve, reject) => {
      const change: PendingChange = { apply, resolve: resolve as (value: unknown) => void, reject };
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

  /** Commits the queue in batches until it is empty: one parse, one dump, one fsync per batch. */
  private async drain(tenantId: string, queue: PendingChange[]): Promise<void> {
    // Let the requests already read from their sockets join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      while (queue.length > 0) await this.commit(tenantId, queue.splice(0));
    } finally {
      this.queues.delete(tenantId);
    }
  }

  private async commit(tenantId: string, batch: PendingChange[]): Promise<void> {
    const outcomes: Array<() => void> = [];
    try {
      const dir = await existingTenantDir(this.root, tenantId); // no tenant: no lock folder either
      const file = join(dir, SECURITY_FILE);
      await withTenantLock(
        tenantId,
        file,
        async () => {
          const draft = (await this.read(tenantId)).edit();
          for (const change of batch) {
            try {
              const value = change.apply(draft);
              draft.keep();
              outcomes.push(() => change.resolve(value));
            } catch (error) {
              draft.discard();
              outcomes.push(() => change.reject(error));
            }
          }
          if (!draft.hasChanges) return;
          await this.write(tenantId, dir, draft.toTenantKeys());
          await appendAuditEvents(dir, draft.events).catch((error: unknown) => {
            throw new TenantStorageError(tenantId, errnoCode(error), 'append to', AUDIT_FILE);
          });
        },
        (error) => this.logger.error(`lost the lock of ${tenantId}/security.yml: ${error.message}`),
      );
    } catch (error) {
      for (const change of batch) change.reject(error);
      return;
    }
    for (const settle of outcomes) settle();
  }

  /** The tenant's keys as the file holds them now. */
  private async read(tenantId: string): Promise<TenantKeys> {
    const dir = tenantPath(this.root, tenantId);
    const file = join(dir, SECURITY_FILE);
    let stats: BigIntStats | undefined;
    try {
      // On the hot path of every request: a metadata syscall answered from the inode cache in
      // microseconds, cheaper in place than a round trip through libuv's thread pool.
      stats = statSync(file, { bigint: true, throwIfNoEntry: false });
    } catch (error) {
      const code = errnoCode(error);
      if (code !== 'ENOTDIR') throw new TenantStorageError(tenantId, code, 'read');
    }
    if (!stats) return this.readWithoutFile(tenantId);
    const signature = signatureOf(stats);
    return this.fromCache(tenantId, signature) ?? this.loadOnce(tenantId, file, signature);
  }

  private fromCache(tenantId: string, signature: string): TenantKeys | undefined {
    const cached = this.cache.get(tenantId);
    if (cached?.signature !== signature) return undefined;
    if (cached.error) throw cached.error;
    return cached.keys;
  }

  private async readWithoutFile(tenantId: string): Promise<TenantKeys> {
    await existingTenantDir(this.root, tenantId);
    const keys = this.fromCache(tenantId, NO_FILE) ?? TenantKeys.of(EMPTY_SECURITY_DOCUMENT);
    this.cache.set(tenantId, { signature: NO_FILE, keys });
    return keys;
  }

  /** Requests that find the same new file share one parse instead of each doing their own. */
  private loadOnce(tenantId: string, file: string, signature: string): Promise<TenantKeys> {
    const inFlight = this.loading.get(tenantId);
    if (inFlight?.signature === signature) return inFlight.keys;
    const keys = this.load(tenantId, file).finally(() => {
      if (this.loading.get(tenantId)?.keys === keys) this.loading.delete(tenantId);
    });
    this.loading.set(tenantId, { signature, keys });
    return keys;
  }

  /** Reads and parses the file; the signature comes from the open descriptor, so it matches the text. */
  private async load(tenantId: string, file: string): Promise<TenantKeys> {
    let signature: string;
    let text: string | undefined;
    try {
      const handle = await open(file, 'r');
      try {
        const stats = await handle.stat({ bigint: true });
        signature = signatureOf(stats);
        if (!stats.isFile()) text = undefined;
        else if (stats.size <= BigInt(MAX_SECURITY_FILE_BYTES))
          text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT') return this.read(tenantId); // replaced between stat and open
      throw new TenantStorageError(tenantId, code, 'read');
    }
    let entry: CachedTenant;
    try {
      if (text === undefined) {
        throw new SecurityFileError(
          `the file is not a regular file or exceeds ${MAX_SECURITY_FILE_BYTES} bytes`,
        );
      }
      entry = { signature, keys: TenantKeys.of(parseSecurityFile(text)) };
    } catch (error) {
      if (!(error instanceof SecurityFileError)) throw error;
      entry = { signature, error: new TenantFileInvalidError(tenantId, error.message) };
    }
    this.cache.set(tenantId, entry);
    return this.fromCache(tenantId, signature) as TenantKeys;
  }

  /** Replaces the file atomically and durably, then caches what was written without re-reading it. */
  private async write(tenantId: string, dir: string, keys: TenantKeys): Promise<void> {
    const file = join(dir, SECURITY_FILE);
    const temp = join(dir, tempFileName());
    const text = renderSecurityFile(keys.document);
    try {
      await this.removeOrphanedTempFiles(dir);
      await writeAndSync(temp, 'wx', text);
      await rename(temp, file);
      await syncDirectory(dir);
      this.cache.set(tenantId, {
        signature: signatureOf(await stat(file, { bigint: true })),
        keys,
      });
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      const code = errnoCode(error);
      if (code === 'ENOENT') throw new TenantNotFoundError(tenantId);
      throw new TenantStorageError(tenantId, code);
    }
  }

  /** Under the lock no other writer is mid-write, so any temp file left is a crashed writer's. */
  private async removeOrphanedTempFiles(dir: string): Promise<void> {
    const orphans = (await readdir(dir)).filter((name) => TEMP_FILE.test(name));
    await Promise.all(orphans.map((name) => rm(join(dir, name), { force: true })));
  }
}

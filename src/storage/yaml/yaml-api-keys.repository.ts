import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  Optional,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { randomBytes } from 'node:crypto';
import { type BigIntStats, constants, lstatSync, renameSync } from 'node:fs';
import { access, mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AuditEvent } from '../audit-entry';
import { AUDIT_FILE } from './audit-log-file';
import { type AuditAppend, AuditLogWriter } from './audit-log-file';
import { openRegularFile, readRegularFile, syncDirectory, writeSyncAndClose } from './durable-file';
import { Clock, SystemClock } from '../../common/clock';
import { Metrics } from '../../common/metrics';
import { ChangeFeed } from '../change-feed';
import { LruCache } from '../../common/lru-cache';
import { appConfig } from '../../config/app.config';
import { type ApiKey, isTenantId } from '../api-key.record';
import {
  errnoCode,
  TenantBusyError,
  TenantChangedError,
  TenantExistsError,
  TenantChangeTooLargeError,
  TenantFileInvalidError,
  TenantNotFoundError,
  TenantStorageError,
} from '../storage.errors';
import { ApiKeysRepository, type DecideChange } from '../api-keys.repository';
import { decideEach, GroupCommit, type PendingChange } from '../group-commit';
import {
  EMPTY_SECURITY_DOCUMENT,
  MAX_SECURITY_FILE_BYTES,
  renderSecurityFileBytes,
  type SecurityDocument,
  SecurityFileError,
} from './security-file';
import { SecurityFileParser } from './security-file-parser';
import { fileError } from './file-errors';
import { existingTenantDir, tenantPath } from './tenant-directory';
import { TenantHashIndex } from './tenant-hash-index';
import { TenantKeys, type TenantKeysDraft } from './tenant-keys';
import { type HeldLock, withTenantLock } from './tenant-lock';

export const SECURITY_FILE = 'security.yml';
/** Temp files are `.security.yml.<pid>.<random>.tmp`; only a crashed writer leaves one behind. */
const TEMP_FILE = /^\.security\.yml\.\d+\.[0-9a-f]+\.tmp$/;
const tempFileName = () => `.${SECURITY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
/** Times a batch is applied again to a file that keeps changing under it before giving up (503). */
const MAX_ATTEMPTS = 5;
const NO_FILE = 'absent';

/** What was last read of a tenant's file, valid while the file's signature stays the same. */
interface CachedTenant {
  readonly signature: string;
  readonly keys?: TenantKeys;
  readonly error?: TenantFileInvalidError;
}

/** The tenant's keys and the signature of the file they were read from. */
interface Snapshot {
  readonly signature: string;
  readonly keys: TenantKeys;
}

/** Inode, size, and nanosecond change and modification times: any write or rename changes it. */
function signatureOf(stats: BigIntStats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}

/** The file's signature now, without following a symlink; NO_FILE when there is none. */
function signatureNow(file: string): string {
  const stats = lstatSync(file, { bigint: true, throwIfNoEntry: false });
  return stats ? signatureOf(stats) : NO_FILE;
}

function storageError(
  tenantId: string,
  error: unknown,
  action: 'read' | 'update',
  file = SECURITY_FILE,
): Error {
  return fileError(tenantId, error, action, file);
}

/** The batch decided on `base`, each change on its own (see decideEach). */
function applyBatch(
  base: TenantKeys,
  batch: readonly PendingChange[],
): { draft: TenantKeysDraft; outcomes: Array<() => void> } {
  const draft = base.edit();
  const outcomes = decideEach(
    batch,
    (name) => draft.get(name),
    (name, decision) => {
      if (decision.key === null) draft.delete(name);
      else draft.put(decision.key);
      if (decision.event) draft.record(decision.event);
      draft.keep();
    },
  );
  return { draft, outcomes };
}

/** The service never writes what it would refuse to read. */
function assertReadableBack(tenantId: string, content: string | readonly Buffer[]): void {
  const bytes =
    typeof content === 'string'
      ? Buffer.byteLength(content)
      : content.reduce((sum, piece) => sum + piece.length, 0);
  if (bytes > MAX_SECURITY_FILE_BYTES) {
    throw new TenantChangeTooLargeError(
      tenantId,
      `would grow to ${bytes} bytes, over the limit of ${MAX_SECURITY_FILE_BYTES}`,
    );
  }
}

/**
 * Keys in `<TENANTS_DIR>/<tenantId>/security.yml`. The file is the source of truth: each read
 * stats it and re-parses only when it changed, so hand edits and other processes' writes count
 * on the next request. Changes to a tenant are queued; those that arrive while a write is in
 * flight are applied together in the next rewrite (group commit). Each rewrite holds the
 * tenant's lock across processes, starts from the file as it is, never replaces a file that
 * changed since it was read, and is atomic and durable (temp file, fsync, audit lines, rename,
 * directory fsync) before any of its callers is answered.
 */
@Injectable()
export class YamlApiKeysRepository extends ApiKeysRepository implements BeforeApplicationShutdown {
  private readonly root: string;
  private readonly cache: LruCache<string, CachedTenant>;
  private readonly writes = new GroupCommit(
    (tenantId, batch) => this.commit(tenantId, batch),
    (changes) => this.metrics?.written(changes),
  );
  private readonly loading = new Map<string, { signature: string; keys: Promise<Snapshot> }>();
  private readonly logger = new Logger(YamlApiKeysRepository.name);
  private readonly hashes: TenantHashIndex;

  constructor(
    @Inject(appConfig.KEY)
    config: Pick<ConfigType<typeof appConfig>, 'tenantsDir' | 'tenantCacheSize'>,
    private readonly parser: SecurityFileParser = new SecurityFileParser(),
    private readonly clock: Clock = new SystemClock(),
    @Optional() private readonly metrics?: Metrics,
    @Optional() private readonly feed?: ChangeFeed,
  ) {
    super();
    this.root = config.tenantsDir;
    this.cache = new LruCache(config.tenantCacheSize);
    this.hashes = new TenantHashIndex(this.root, SECURITY_FILE, parser);
    metrics?.watchCache(() => this.cache.size);
  }

  async healthy(): Promise<boolean> {
    return access(this.root, constants.R_OK | constants.W_OK).then(
      () => true,
      () => false,
    );
  }

  async createTenant(tenantId: string): Promise<void> {
    const dir = tenantPath(this.root, tenantId);
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') throw new TenantExistsError(tenantId);
      throw storageError(tenantId, error, 'update');
    }
  }

  async list(tenantId: string): Promise<readonly ApiKey[]> {
    return (await this.read(tenantId)).keys.list();
  }

  async findByName(tenantId: string, name: string): Promise<ApiKey | undefined> {
    return (await this.read(tenantId)).keys.findByName(name);
  }

  async findByHash(tenantId: string, hash: string): Promise<ApiKey | undefined> {
    return (await this.read(tenantId)).keys.findByHash(hash);
  }

  async findEverywhereByHash(hash: string): Promise<Array<{ tenantId: string; key: ApiKey }>> {
    const found: Array<{ tenantId: string; key: ApiKey }> = [];
    for (const tenantId of await this.hashes.tenantsHolding(hash)) {
      // The index may be a moment behind: the tenant's file as it is now decides.
      const key = await this.findByHash(tenantId, hash).catch(() => undefined);
      if (key) found.push({ tenantId, key });
    }
    return found;
  }

  /** On shutdown, lets every queued change reach the disk (and its caller) before the process ends. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.writes.drained();
    await this.parser.close();
  }

  change<T>(tenantId: string, name: string, decide: DecideChange<T>): Promise<T> {
    if (!isTenantId(tenantId)) return Promise.reject(new TenantNotFoundError(tenantId));
    return this.writes.submit(tenantId, name, decide);
  }

  /** One rewrite for a batch (one lock, one render, one fsync); answers each change once stored. */
  private async commit(tenantId: string, batch: PendingChange[]): Promise<void> {
    const dir = await existingTenantDir(this.root, tenantId); // no tenant: no lock folder either
    const outcomes = await withTenantLock(
      tenantId,
      join(dir, SECURITY_FILE),
      (lock) => this.rewrite(tenantId, dir, batch, lock),
      (error) => this.logger.error(`lost the lock of ${tenantId}/security.yml: ${error.message}`),
    );
    this.feed?.changed(tenantId);
    for (const settle of outcomes) settle();
  }

  /**
   * Under the lock: applies the batch to the file as it is and installs the result, or, when the
   * file changed before the result could be installed (a hand edit, an editor's rename), reads it
   * again and applies the batch again, each change judged anew. Returns how to answer each change.
   */
  private async rewrite(
    tenantId: string,
    dir: string,
    batch: PendingChange[],
    lock: HeldLock,
  ): Promise<Array<() => void>> {
    let audit: AuditLogWriter | undefined;
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const base = await this.read(tenantId);
        const { draft, outcomes } = applyBatch(base.keys, batch);
        if (!draft.hasChanges) return outcomes;
        draft.dropExpiredPreviousTokens(this.clock.now());
        const keys = draft.toTenantKeys();
        const bytes = renderSecurityFileBytes(keys.document);
        assertReadableBack(tenantId, bytes);
        if (draft.events.length > 0) audit ??= await this.openAudit(tenantId, dir);
        const stored = await this.install(tenantId, dir, bytes, base.signature, lock, {
          writer: audit,
          events: draft.events,
        });
        if (stored) {
          if (stored.signature) this.cache.set(tenantId, { signature: stored.signature, keys });
          else this.cache.delete(tenantId);
          return outcomes;
        }
      }
      throw new TenantBusyError(tenantId, 1, 'kept changing while it was being written');
    } finally {
      await audit?.close();
    }
  }

  /** The audit log, opened for appending (which first repairs what an interrupted write left). */
  private openAudit(tenantId: string, dir: string): Promise<AuditLogWriter> {
    const repaired = (what: string) => this.logger.warn(`${tenantId}/${AUDIT_FILE}: ${what}`);
    return AuditLogWriter.open(dir, repaired).catch((error: unknown) => {
      throw storageError(tenantId, error, 'update', AUDIT_FILE);
    });
  }

  /**
   * Writes `content` beside security.yml, appends the audit lines, and renames it into place if the
   * file still has `signature` and the lock is still ours: checked last, right before the rename.
   * Returns the new file's signature (none if it was replaced again at once), or undefined when
   * the file had changed; then nothing is stored and the audit lines are taken back, as they are
   * when anything fails.
   */
  private async install(
    tenantId: string,
    dir: string,
    content: string | readonly Buffer[],
    signature: string,
    lock: HeldLock,
    audit: { readonly writer?: AuditLogWriter; readonly events: readonly AuditEvent[] },
  ): Promise<{ signature?: string } | undefined> {
    const file = join(dir, SECURITY_FILE);
    const temp = join(dir, tempFileName());
    let appended: AuditAppend | undefined;
    const assertLockHeld = async () => {
      if (!(await lock.stillHeld())) {
        throw new TenantBusyError(tenantId, 1, 'lost its lock to another process mid-write');
      }
    };
    let installed: bigint;
    let after: BigIntStats | undefined;
    let renamed = false;
    try {
      await assertLockHeld(); // before anything is written, the audit log included
      await this.removeOrphanedTempFiles(dir);
      if (signatureNow(file) !== signature) return undefined;
      const handle = await openRegularFile(temp, 'create');
      installed = lstatSync(temp, { bigint: true }).ino;
      // The file and its audit lines are written side by side. The lines name the temp file,
      // which exists from here on: if the process dies before the rename, the next writer
      // finds it and takes the lines back.
      const [wrote, logged] = await Promise.allSettled([
        writeSyncAndClose(handle, content),
        audit.writer && audit.events.length > 0
          ? audit.writer.append(
              audit.events,
              new Date(this.clock.now()).toISOString(),
              basename(temp),
            )
          : undefined,
      ]);
      if (logged.status === 'fulfilled') appended = logged.value;
      if (wrote.status === 'rejected') throw wrote.reason;
      if (logged.status === 'rejected') throw logged.reason;
      await assertLockHeld();
      // The check and the rename back to back on this thread: an editor's rename can only be
      // lost in the microseconds between them, not while ours waits for the thread pool (which,
      // on a busy machine, can take milliseconds).
      if (signatureNow(file) !== signature) return undefined;
      renameSync(temp, file);
      renamed = true;
      after = lstatSync(file, { bigint: true, throwIfNoEntry: false });
      appended = undefined;
    } catch (error) {
      if (error instanceof TenantBusyError) throw error;
      // A writer that took the lock over may have removed our temp file as a dead writer's.
      await assertLockHeld();
      throw storageError(tenantId, error, 'update');
    } finally {
      if (appended) {
        // Left undone (the disk failing twice), the next writer's repair takes them back.
        await audit.writer?.rollback(appended).catch((error: unknown) => {
          this.logger.error(`could not take back audit lines of ${tenantId}: ${errnoCode(error)}`);
        });
      }
      if (!renamed) await rm(temp, { force: true }).catch(() => undefined);
    }
    // Renamed: the change is visible, so it is answered as stored; a failed directory fsync is
    // logged rather than answered as an error the client would take to mean "not stored".
    await syncDirectory(dir).catch((error: unknown) => {
      this.logger.error(`could not fsync the folder of ${tenantId}: ${errnoCode(error)}`);
    });
    // Taken right after the rename, and only if the file is still ours: an editor's rename
    // that landed since must not be mistaken for what we wrote.
    return { signature: after?.ino === installed ? signatureOf(after) : undefined };
  }

  async exportText(tenantId: string): Promise<string> {
    const dir = await existingTenantDir(this.root, tenantId);
    try {
      return (await readRegularFile(join(dir, SECURITY_FILE))) ?? '';
    } catch (error) {
      throw storageError(tenantId, error, 'read');
    }
  }

  async replaceAll(
    tenantId: string,
    next: { readonly text: string; readonly document: SecurityDocument },
    audit: (before: readonly ApiKey[], after: readonly ApiKey[]) => AuditEvent[],
    expectedText?: string,
  ): Promise<void> {
    assertReadableBack(tenantId, next.text);
    const dir = await existingTenantDir(this.root, tenantId);
    const file = join(dir, SECURITY_FILE);
    const keys = TenantKeys.of(next.document);
    await withTenantLock(
      tenantId,
      file,
      async (lock) => {
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          const signature = signatureNow(file);
          if (expectedText !== undefined && (await this.exportText(tenantId)) !== expectedText) {
            throw new TenantChangedError(tenantId);
          }
          // The operator replaces a file the service refuses to use; its keys count as none.
          const before = await this.read(tenantId).then(
            (current) => current.keys.list(),
            (error: unknown) => {
              if (error instanceof TenantFileInvalidError) return [];
              throw error;
            },
          );
          const events = audit(before, keys.list());
          const writer = events.length > 0 ? await this.openAudit(tenantId, dir) : undefined;
          try {
            const stored = await this.install(tenantId, dir, next.text, signature, lock, {
              writer,
              events,
            });
            if (stored) {
              if (stored.signature) this.cache.set(tenantId, { signature: stored.signature, keys });
              return;
            }
          } finally {
            await writer?.close();
          }
        }
        throw new TenantBusyError(tenantId, 1, 'kept changing while it was being written');
      },
      (error) => this.logger.error(`lost the lock of ${tenantId}/security.yml: ${error.message}`),
    );
    this.feed?.changed(tenantId);
  }

  /** The tenant's keys as the file holds them now. */
  private async read(tenantId: string): Promise<Snapshot> {
    const dir = tenantPath(this.root, tenantId);
    const file = join(dir, SECURITY_FILE);
    let stats: BigIntStats | undefined;
    try {
      // On the hot path of every request: a metadata syscall answered from the inode cache in
      // microseconds, cheaper in place than a round trip through libuv's thread pool. lstat:
      // a symlink is judged as itself, never followed.
      stats = lstatSync(file, { bigint: true, throwIfNoEntry: false });
    } catch (error) {
      const code = errnoCode(error);
      if (code !== 'ENOTDIR') throw new TenantStorageError(tenantId, code, 'read');
    }
    if (!stats) return this.readWithoutFile(tenantId);
    const signature = signatureOf(stats);
    const cached = this.fromCache(tenantId, signature);
    this.metrics?.tenantCacheLookups.inc({ result: cached ? 'hit' : 'miss' });
    if (cached) return cached;
    if (!stats.isFile()) {
      // A FIFO, a device or a symlink is never opened: nothing waits on it.
      const error = storageError(
        tenantId,
        { code: stats.isSymbolicLink() ? 'ELOOP' : 'ENOTREG' },
        'read',
      );
      this.cache.set(tenantId, { signature, error: error as TenantFileInvalidError });
      throw error;
    }
    return this.loadOnce(tenantId, file, signature);
  }

  private fromCache(tenantId: string, signature: string): Snapshot | undefined {
    const cached = this.cache.get(tenantId);
    if (cached?.signature !== signature) return undefined;
    if (cached.error) throw cached.error;
    return cached.keys && { signature, keys: cached.keys };
  }

  private async readWithoutFile(tenantId: string): Promise<Snapshot> {
    await existingTenantDir(this.root, tenantId);
    const keys = this.fromCache(tenantId, NO_FILE)?.keys ?? TenantKeys.of(EMPTY_SECURITY_DOCUMENT);
    this.cache.set(tenantId, { signature: NO_FILE, keys });
    return { signature: NO_FILE, keys };
  }

  /** Requests that find the same new file share one parse instead of each doing their own. */
  private loadOnce(tenantId: string, file: string, signature: string): Promise<Snapshot> {
    const inFlight = this.loading.get(tenantId);
    if (inFlight?.signature === signature) return inFlight.keys;
    const keys = this.load(tenantId, file).finally(() => {
      if (this.loading.get(tenantId)?.keys === keys) this.loading.delete(tenantId);
    });
    this.loading.set(tenantId, { signature, keys });
    return keys;
  }

  /** Reads and parses the file; the signature comes from the open descriptor, so it matches the text. */
  private async load(tenantId: string, file: string): Promise<Snapshot> {
    let signature: string;
    let text: string | undefined;
    try {
      const handle = await openRegularFile(file, 'read');
      try {
        const stats = await handle.stat({ bigint: true });
        signature = signatureOf(stats);
        if (stats.size <= BigInt(MAX_SECURITY_FILE_BYTES)) text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return this.read(tenantId); // replaced between stat and open
      throw storageError(tenantId, error, 'read');
    }
    let entry: CachedTenant;
    try {
      if (text === undefined) {
        throw new SecurityFileError(`the file exceeds ${MAX_SECURITY_FILE_BYTES} bytes`);
      }
      entry = { signature, keys: TenantKeys.of(await this.parser.parse(text)) };
    } catch (error) {
      if (!(error instanceof SecurityFileError)) throw error;
      entry = { signature, error: new TenantFileInvalidError(tenantId, error.message) };
    }
    this.cache.set(tenantId, entry);
    if (entry.error) throw entry.error;
    return { signature, keys: entry.keys as TenantKeys };
  }

  /** Under the lock no other writer is mid-write, so any temp file left is a crashed writer's. */
  private async removeOrphanedTempFiles(dir: string): Promise<void> {
    const orphans = (await readdir(dir)).filter((name) => TEMP_FILE.test(name));
    await Promise.all(orphans.map((name) => rm(join(dir, name), { force: true })));
  }
}

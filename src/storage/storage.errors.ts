/** The errno code of a failed file-system call (`ENOENT`, `EACCES`...), `EIO` when it has none. */
export function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? 'EIO';
}

/**
 * Storage-level failures, independent of HTTP. ProblemDetailsFilter maps each to its status
 * in one place; the CLI prints their messages.
 */
export class TenantNotFoundError extends Error {
  constructor(readonly tenantId: string) {
    super(`tenant "${tenantId}" does not exist`);
  }
}

/**
 * The tenant's security.yml cannot be used; it is left untouched. The message, which callers
 * see, only says so; `problem` (line, column, reason) is for the log and `keys check`.
 */
export class TenantFileInvalidError extends Error {
  constructor(
    readonly tenantId: string,
    readonly problem: string,
  ) {
    super(
      `the security.yml of tenant "${tenantId}" is invalid and is left untouched; ` +
        `\`npm run keys -- check ${tenantId}\` tells where and why`,
    );
  }
}

/** Reading or writing the tenant's files failed at the operating-system level (EACCES, ENOSPC...). */
export class TenantStorageError extends Error {
  constructor(
    readonly tenantId: string,
    readonly code: string,
    action: 'read' | 'update' | 'append to' = 'update',
    file = 'security.yml',
  ) {
    super(`could not ${action} ${tenantId}/${file} (${code})`);
  }
}

/**
 * Another writer held the tenant's lock for longer than we wait, took it over from us, or kept
 * changing the file under us: nothing was changed, and the client should retry.
 */
export class TenantBusyError extends Error {
  constructor(
    readonly tenantId: string,
    readonly retryAfterSeconds: number,
    reason = 'is being written by another process',
  ) {
    super(`tenant "${tenantId}" ${reason}; nothing was changed, retry shortly`);
  }
}

/** Another process held the tenant's lock for longer than we waited: nothing was changed. */
export class TenantLockHeldError extends TenantBusyError {}

/** The change would make security.yml larger than the service will read back; nothing was written. */
export class TenantChangeTooLargeError extends Error {
  constructor(
    readonly tenantId: string,
    problem: string,
  ) {
    super(`the change was refused, nothing was written: ${tenantId}/security.yml ${problem}`);
  }
}

/** What was to be replaced changed meanwhile (someone else wrote the tenant); nothing was written. */
export class TenantChangedError extends Error {
  constructor(readonly tenantId: string) {
    super(`the keys of tenant "${tenantId}" changed meanwhile; nothing was written`);
  }
}

/** The database cannot be reached (or a commit's outcome is unknown): answered 503, retried later. */
export class StorageUnavailableError extends Error {
  readonly retryAfterSeconds = 2;

  constructor(reason: string) {
    super(
      `the key store is unavailable (${reason}); nothing was answered from a stale copy, retry shortly`,
    );
  }
}

/** `keys tenant create` for a tenant that already exists. */
export class TenantExistsError extends Error {
  constructor(readonly tenantId: string) {
    super(`tenant "${tenantId}" already exists`);
  }
}

import {
  errnoCode,
  TenantFileInvalidError,
  TenantNotFoundError,
  TenantStorageError,
} from '../storage.errors';

/**
 * What a failed file operation on a tenant's `file` means for the caller: the tenant is gone
 * (ENOENT), the file is not a regular file inside the folder (a symlink, a FIFO: the tenant
 * cannot be used), or the system refused (EACCES, ENOSPC...).
 */
export function fileError(
  tenantId: string,
  error: unknown,
  action: 'read' | 'update',
  file: string,
): Error {
  const code = errnoCode(error);
  if (code === 'ENOENT') return new TenantNotFoundError(tenantId);
  if (code === 'ELOOP' || code === 'ENOTREG') {
    return new TenantFileInvalidError(
      tenantId,
      `${file} is not a regular file inside the tenant's folder`,
    );
  }
  return new TenantStorageError(tenantId, code, action, file);
}

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isTenantId } from '../api-key.record';
import { TenantNotFoundError } from '../storage.errors';

/**
 * `<root>/<tenantId>`, joined only after the id matched its pattern (no separators, no leading
 * dot), so no request can name a path outside the tenants folder.
 */
export function tenantPath(root: string, tenantId: string): string {
  if (!isTenantId(tenantId)) throw new TenantNotFoundError(tenantId);
  return join(root, tenantId);
}

/** The tenant's folder, or TenantNotFoundError when it is not an existing directory. */
export async function existingTenantDir(root: string, tenantId: string): Promise<string> {
  const dir = tenantPath(root, tenantId);
  const stats = await stat(dir).catch(() => undefined); // missing or unreadable: no tenant
  if (!stats?.isDirectory()) throw new TenantNotFoundError(tenantId);
  return dir;
}

import { readFile, writeFile } from 'node:fs/promises';
import { SystemClock } from '../../src/common/clock';
import { PostgresApiKeysRepository } from '../../src/storage/postgres/postgres-api-keys.repository';
import { PostgresDatabase } from '../../src/storage/postgres/postgres-database';
import { parseSecurityFile } from '../../src/storage/yaml/security-file';
import { runKeys } from './cli';
import { TestDatabase } from './database';
import { TenantsFixture } from './tenants';

/**
 * Where a spec's tenants live, for HTTP specs that hold on every backend: the environment that
 * points the service at it, and tenants laid out, replaced and read back as security.yml text
 * (the file itself on YAML; what `keys apply` and `keys export` do on PostgreSQL).
 */
export interface TenantStore {
  readonly env: Readonly<Record<string, string>>;
  addTenant(tenantId: string, securityYml?: string): Promise<void>;
  /** Replaces what the tenant holds, as an operator would (an edit, `keys apply`). */
  write(tenantId: string, securityYml: string): Promise<void>;
  /** What the tenant holds, as security.yml text. */
  read(tenantId: string): Promise<string>;
  /** The tenant's audit trail as stored: one JSON line per entry, oldest first. */
  auditLines(tenantId: string): Promise<string[]>;
  /** Takes the `seq`-th audit line out of the stored trail, as tampering would. */
  dropAuditLine(tenantId: string, seq: number): Promise<void>;
  /** Runs the `keys` CLI against this store. */
  keys(args: string[]): Promise<{ stdout: string; stderr: string }>;
  remove(): Promise<void>;
}

async function yamlStore(): Promise<TenantStore> {
  const tenants = await TenantsFixture.create();
  return {
    env: { TENANTS_DIR: tenants.root },
    addTenant: (tenantId, text) => tenants.addTenant(tenantId, text),
    write: (tenantId, text) => tenants.write(tenantId, text),
    read: (tenantId) => tenants.read(tenantId),
    auditLines: async (tenantId) =>
      (await readFile(tenants.file(tenantId, 'audit.log'), 'utf8')).trim().split('\n'),
    dropAuditLine: async (tenantId, seq) => {
      const file = tenants.file(tenantId, 'audit.log');
      const lines = (await readFile(file, 'utf8')).split('\n');
      await writeFile(file, lines.filter((_line, i) => i !== seq - 1).join('\n'));
    },
    keys: (args) => runKeys(tenants.root, args),
    remove: () => tenants.remove(),
  };
}

async function postgresStore(): Promise<TenantStore> {
  const database = await TestDatabase.create();
  const db = new PostgresDatabase({
    backend: 'postgres',
    databaseUrl: database.url,
    authCacheMs: 0,
  });
  await db.onModuleInit();
  const repository = new PostgresApiKeysRepository(db, new SystemClock());
  const write = (tenantId: string, text: string) =>
    repository.replaceAll(tenantId, { text, document: parseSecurityFile(text) }, () => []);
  return {
    env: { STORAGE: 'postgres', DATABASE_URL: database.url },
    addTenant: async (tenantId, text) => {
      await repository.createTenant(tenantId);
      if (text !== undefined) await write(tenantId, text);
    },
    write,
    read: (tenantId) => repository.exportText(tenantId),
    auditLines: async (tenantId) =>
      (
        await database.sql('SELECT line FROM audit_log WHERE tenant_id = $1 ORDER BY seq', [
          tenantId,
        ])
      ).map((row) => row.line as string),
    dropAuditLine: async (tenantId, seq) => {
      await database.sql('DELETE FROM audit_log WHERE tenant_id = $1 AND seq = $2', [
        tenantId,
        seq,
      ]);
    },
    keys: (args) =>
      runKeys('/nonexistent', args, { STORAGE: 'postgres', DATABASE_URL: database.url }),
    remove: async () => {
      await db.onApplicationShutdown();
      await database.drop();
    },
  };
}

/** Every backend an HTTP spec runs against: `describe.each(STORES)('... (%s)', (_name, open) => ...)`. */
export const STORES: Array<[string, () => Promise<TenantStore>]> = [
  ['yaml', yamlStore],
  ['postgres', postgresStore],
];

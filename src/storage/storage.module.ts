import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import type { StorageBackend } from '../config/storage.config';
import { ApiKeysRepository } from './api-keys.repository';
import { AuditTrail } from './audit-trail';
import { KeyCache } from './postgres/key-cache';
import { PostgresApiKeysRepository } from './postgres/postgres-api-keys.repository';
import { PostgresAuditTrail } from './postgres/postgres-audit-trail';
import { PostgresDatabase } from './postgres/postgres-database';
import { PostgresUsageStore } from './postgres/postgres-usage.store';
import { UsageStore } from './usage.store';
import { SecurityFileParser } from './yaml/security-file-parser';
import { YamlApiKeysRepository } from './yaml/yaml-api-keys.repository';
import { YamlAuditTrail } from './yaml/yaml-audit-trail';
import { YamlUsageStore } from './yaml/yaml-usage.store';

/** Each backend's binding of the ports: one folder per adapter, one line per port. */
const BINDINGS: Record<StorageBackend, Provider[]> = {
  yaml: [
    SecurityFileParser,
    { provide: ApiKeysRepository, useClass: YamlApiKeysRepository },
    { provide: AuditTrail, useClass: YamlAuditTrail },
    { provide: UsageStore, useClass: YamlUsageStore },
  ],
  postgres: [
    PostgresDatabase,
    KeyCache,
    { provide: ApiKeysRepository, useClass: PostgresApiKeysRepository },
    { provide: AuditTrail, useClass: PostgresAuditTrail },
    { provide: UsageStore, useClass: PostgresUsageStore },
  ],
};

/** Where keys, their audit trail and their last uses are kept, as STORAGE chooses. */
@Global()
@Module({})
export class StorageModule {
  static forBackend(backend: StorageBackend): DynamicModule {
    return {
      module: StorageModule,
      providers: BINDINGS[backend],
      exports: [ApiKeysRepository, AuditTrail, UsageStore],
    };
  }
}

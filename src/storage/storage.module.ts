import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import type { StorageBackend } from '../config/storage.config';
import { ApiKeysRepository } from './api-keys.repository';
import { AuditTrail } from './audit-trail';
import { ChangeFeed } from './change-feed';
import { CreditLedger } from './credit-ledger';
import { InProcessRateLimits, RateLimitStore } from './rate-limit.store';
import { KeyCache } from './postgres/key-cache';
import { PostgresApiKeysRepository } from './postgres/postgres-api-keys.repository';
import { PostgresAuditTrail } from './postgres/postgres-audit-trail';
import { PostgresCreditLedger } from './postgres/postgres-credit-ledger';
import { PostgresRateLimits } from './postgres/postgres-rate-limits';
import { PostgresDatabase } from './postgres/postgres-database';
import { PostgresUsageStore } from './postgres/postgres-usage.store';
import { UsageStore } from './usage.store';
import { WebhookCursors } from './webhook-cursors';
import { PostgresWebhookCursors } from './postgres/postgres-webhook-cursors';
import { YamlWebhookCursors } from './yaml/yaml-webhook-cursors';
import { SecurityFileParser } from './yaml/security-file-parser';
import { YamlApiKeysRepository } from './yaml/yaml-api-keys.repository';
import { YamlAuditTrail } from './yaml/yaml-audit-trail';
import { YamlCreditLedger } from './yaml/yaml-credit-ledger';
import { YamlUsageStore } from './yaml/yaml-usage.store';

/** Each backend's binding of the ports: one folder per adapter, one line per port. */
const BINDINGS: Record<StorageBackend, Provider[]> = {
  yaml: [
    SecurityFileParser,
    { provide: ApiKeysRepository, useClass: YamlApiKeysRepository },
    { provide: AuditTrail, useClass: YamlAuditTrail },
    { provide: UsageStore, useClass: YamlUsageStore },
    { provide: CreditLedger, useClass: YamlCreditLedger },
    // Each process counts on its own: the files have no shared counter cheap enough to ask.
    { provide: RateLimitStore, useClass: InProcessRateLimits },
    { provide: WebhookCursors, useClass: YamlWebhookCursors },
  ],
  postgres: [
    PostgresDatabase,
    KeyCache,
    { provide: ApiKeysRepository, useClass: PostgresApiKeysRepository },
    { provide: AuditTrail, useClass: PostgresAuditTrail },
    { provide: UsageStore, useClass: PostgresUsageStore },
    { provide: CreditLedger, useClass: PostgresCreditLedger },
    { provide: RateLimitStore, useClass: PostgresRateLimits },
    { provide: WebhookCursors, useClass: PostgresWebhookCursors },
  ],
};

/** Where keys, their audit trail, last uses, credits and rate counts are kept, as STORAGE chooses. */
@Global()
@Module({})
export class StorageModule {
  static forBackend(backend: StorageBackend): DynamicModule {
    return {
      module: StorageModule,
      providers: [ChangeFeed, ...BINDINGS[backend]],
      exports: [
        ApiKeysRepository,
        AuditTrail,
        UsageStore,
        CreditLedger,
        RateLimitStore,
        WebhookCursors,
        ChangeFeed,
      ],
    };
  }
}

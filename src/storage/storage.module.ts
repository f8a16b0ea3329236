import { Global, Module } from '@nestjs/common';
import { ApiKeysRepository } from './api-keys.repository';
import { AuditTrail } from './audit-trail';
import { UsageStore } from './usage.store';
import { SecurityFileParser } from './yaml/security-file-parser';
import { YamlApiKeysRepository } from './yaml/yaml-api-keys.repository';
import { YamlAuditTrail } from './yaml/yaml-audit-trail';
import { YamlUsageStore } from './yaml/yaml-usage.store';

/** Where keys, their audit trail and their last uses are kept: one binding per port. */
@Global()
@Module({
  providers: [
    SecurityFileParser,
    { provide: ApiKeysRepository, useClass: YamlApiKeysRepository },
    { provide: AuditTrail, useClass: YamlAuditTrail },
    { provide: UsageStore, useClass: YamlUsageStore },
  ],
  exports: [ApiKeysRepository, AuditTrail, UsageStore],
})
export class StorageModule {}

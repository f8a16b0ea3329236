import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { hashToken, hasValidChecksum } from '../api-keys/api-key-token';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { hintOf } from '../api-keys/key-lifecycle';
import type { Caller } from '../auth/principal';
import { Metrics } from '../common/metrics';
import { leaksConfig } from '../config/leaks.config';
import { ApiKeysRepository } from '../storage/api-keys.repository';

/** One token a secret scanner found in public, with what it says of where. */
export interface LeakedToken {
  readonly token: string;
  /** The scanner's name for the token's pattern, answered back as it came. */
  readonly type?: string;
  readonly url?: string;
  readonly source?: string;
}

/** What became of one reported token: a key of ours (true positive), or none. */
export interface LeakVerdict {
  /** The token's SHA-256, lowercase hex: how the answer names it, never the token. */
  readonly tokenHash: string;
  readonly tokenType?: string;
  readonly label: 'true_positive' | 'false_positive';
  /** Each key it belongs to (tenants do not share tokens, but nothing stops a copy). */
  readonly keys: ReadonlyArray<{
    readonly tenantId: string;
    readonly name: string;
    readonly enabled: boolean;
    /** Whether this report changed the key (false: an earlier one already had). */
    readonly changed: boolean;
  }>;
}

/**
 * A leaked token, revoked by itself: each reported token is looked up by its hash in every
 * tenant, and LEAKED_KEY_ACTION (`disable`, or only `report`) is applied to each key it belongs
 * to through ApiKeysService.reportLeak (audited as `leak`, with the report's url and source).
 * Reporting the same token again changes nothing more. Tokens are never logged or kept.
 */
@Injectable()
export class LeakResponse {
  private readonly logger = new Logger(LeakResponse.name);

  constructor(
    private readonly repository: ApiKeysRepository,
    private readonly apiKeys: ApiKeysService,
    @Inject(leaksConfig.KEY)
    private readonly config: Pick<ConfigType<typeof leaksConfig>, 'action'>,
    private readonly metrics: Metrics,
  ) {}

  async respond(tokens: readonly LeakedToken[], caller: Caller): Promise<LeakVerdict[]> {
    const verdicts: LeakVerdict[] = [];
    for (const leaked of tokens) verdicts.push(await this.respondTo(leaked, caller));
    return verdicts;
  }

  private async respondTo(leaked: LeakedToken, caller: Caller): Promise<LeakVerdict> {
    const hash = hashToken(leaked.token);
    // A token of our shape whose checksum fails is a look-alike: no lookup at all.
    const found = hasValidChecksum(leaked.token)
      ? await this.repository.findEverywhereByHash(hash)
      : [];
    const keys: Array<LeakVerdict['keys'][number]> = [];
    for (const { tenantId } of found) {
      const outcome = await this.apiKeys.reportLeak(
        tenantId,
        hash,
        { action: this.config.action, url: leaked.url, source: leaked.source },
        caller,
      );
      if (!outcome) continue;
      const { key, changed } = outcome;
      keys.push({ tenantId, name: key.name, enabled: key.enabled, changed });
      if (changed) {
        this.logger.warn(
          `leaked token ${hintOf(leaked.token)} of ${tenantId}/${key.name} reported by ${caller.principal.subject}` +
            `${leaked.url ? ` at ${leaked.url}` : ''}: ${this.config.action === 'disable' ? 'disabled' : 'reported'}`,
        );
      }
    }
    const label = keys.length > 0 ? 'true_positive' : 'false_positive';
    this.metrics.leakReports.inc({ label });
    return { tokenHash: hash, tokenType: leaked.type, label, keys };
  }
}

import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { Clock } from '../common/clock';
import { leaksConfig } from '../config/leaks.config';
import type { WithHeaders } from '../common/http-problems';

/** Fetches of the keys for identifiers not seen yet: at most one per this long (3 a minute). */
export const REFETCH_INTERVAL_MS = 20_000;
const FETCH_TIMEOUT_MS = 5_000;

/** 503: the report cannot be checked yet; nothing was done. */
class SigningKeysUnavailableException extends ServiceUnavailableException implements WithHeaders {
  readonly headers = { 'Retry-After': String(REFETCH_INTERVAL_MS / 1000) };

  constructor() {
    super('the keys that sign secret scanning reports cannot be fetched; nothing was done');
  }
}

interface PublishedKeys {
  readonly public_keys?: ReadonlyArray<{
    readonly key_identifier?: unknown;
    readonly key?: unknown;
  }>;
}

/**
 * The keys GitHub signs secret scanning reports with, from SECRET_SCANNING_KEYS_URL (their
 * `key_identifier` and PEM `key`), kept once read. An identifier not among them makes the list
 * be fetched again, at most once per REFETCH_INTERVAL_MS, so a flood of made-up identifiers
 * cannot turn into a flood of fetches.
 */
@Injectable()
export class GithubSigningKeys {
  private readonly logger = new Logger(GithubSigningKeys.name);
  private keys = new Map<string, KeyObject>();
  private fetchedAt?: number;
  private fetching?: Promise<void>;

  constructor(
    @Inject(leaksConfig.KEY)
    private readonly config: Pick<ConfigType<typeof leaksConfig>, 'signingKeysUrl'>,
    private readonly clock: Clock,
  ) {}

  /**
   * Whether `signature` (base64 of an ASN.1 DER ECDSA signature, as GitHub sends it) signs
   * `payload` with the key `identifier`, using SHA-256. 503 when the keys could never be
   * fetched (the scanner sends the report again later).
   */
  async verifies(identifier: string, signature: string, payload: Buffer): Promise<boolean> {
    const key = await this.keyFor(identifier);
    if (!key) return false;
    try {
      return verify('sha256', payload, key, Buffer.from(signature, 'base64'));
    } catch {
      return false; // not a signature at all
    }
  }

  private async keyFor(identifier: string): Promise<KeyObject | undefined> {
    const known = this.keys.get(identifier);
    if (known) return known;
    const due =
      this.fetchedAt === undefined || this.clock.now() - this.fetchedAt >= REFETCH_INTERVAL_MS;
    if (due) {
      this.fetching ??= this.fetch().finally(() => (this.fetching = undefined));
      await this.fetching;
    } else if (this.fetching) {
      await this.fetching;
    }
    // Never fetched: the report cannot be judged yet (and is not refused as forged).
    if (this.keys.size === 0) throw new SigningKeysUnavailableException();
    return this.keys.get(identifier);
  }

  private async fetch(): Promise<void> {
    this.fetchedAt = this.clock.now();
    let published: PublishedKeys;
    try {
      const response = await fetch(this.config.signingKeysUrl, {
        headers: { Accept: 'application/json' },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (!response.ok) throw new Error(`answered ${response.status}`);
      published = (await response.json()) as PublishedKeys;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(`could not fetch the secret scanning keys: ${reason}`);
      return;
    }
    const keys = new Map<string, KeyObject>();
    for (const entry of published.public_keys ?? []) {
      if (typeof entry.key_identifier !== 'string' || typeof entry.key !== 'string') continue;
      try {
        keys.set(entry.key_identifier, createPublicKey(entry.key));
      } catch {
        this.logger.warn(`secret scanning key ${entry.key_identifier} is not a public key`);
      }
    }
    this.keys = keys;
  }
}

import {
  ConflictException,
  ForbiddenException,
  Injectable,
  NotFoundException,
  PreconditionFailedException,
} from '@nestjs/common';
import type { AuditEvent, FieldValue } from '../storage/audit-entry';
import type { Caller, Principal } from '../auth/principal';
import { uncovered } from '../auth/scope-matching';
import { Clock } from '../common/clock';
import { ValidationProblemException } from '../common/validation.pipe';
import type { IfMatch } from '../common/if-match';
import { satisfiesIfMatch, uniquePermissions } from './api-key';
import {
  type ApiKey,
  type Credits,
  isKeyName,
  isTenantId,
  type KeyMeta,
  previousTokenValidUntil,
  type RateLimit,
} from '../storage/api-key.record';
import { hashToken, hasValidChecksum, mintToken } from './api-key-token';
import { TenantExistsError, TenantNotFoundError } from '../storage/storage.errors';
import { ApiKeysRepository } from '../storage/api-keys.repository';
import { hintOf } from './key-lifecycle';
import { firstRefusal, KeyRefusedError, type Presentation } from './key-checks';
import { KeyRateLimiter, type RateLimitState } from './key-rate-limiter';
import { CreditLedger, grantOf } from '../storage/credit-ledger';
import {
  parseSecurityFile,
  renderSecurityFile,
  toStoredEntry,
} from '../storage/yaml/security-file';
import { UsageBuffer } from './usage-buffer';

/** The policy fields of a key, as a create sets them. */
export interface KeyPolicies {
  readonly owner?: string;
  readonly rateLimit?: RateLimit;
  readonly credits?: Credits;
  readonly allowedIps?: readonly string[];
  readonly meta?: KeyMeta;
}

/** The policy fields, in the order a key lists them. */
const POLICY_FIELDS = ['owner', 'rateLimit', 'credits', 'allowedIps', 'meta'] as const;

export interface NewApiKey extends KeyPolicies {
  readonly name: string;
  readonly enabled?: boolean;
  readonly permissions?: readonly string[];
  /** An ISO 8601 instant in the future. */
  readonly expiresAt?: string;
}

/** Each of these left out: kept; null: removed; a value: set. */
export type PolicyUpdate = { readonly [F in keyof KeyPolicies]?: KeyPolicies[F] | null };

export interface ApiKeyUpdate extends PolicyUpdate {
  readonly enabled: boolean;
  readonly permissions?: readonly string[];
  /** Left out: kept; null: removed; an instant in the future: set. */
  readonly expiresAt?: string | null;
}

/** What to do with a key whose token a secret scanner found in public. */
export type LeakAction = 'disable' | 'report';

/** A scanner's report of one leaked token, as far as the key's record keeps it. */
export interface LeakReport {
  readonly action: LeakAction;
  /** Where the token was found, as the scanner says. */
  readonly url?: string;
  /** Which scanner, or which of its sources (`content`, `commit`, `npm`...). */
  readonly source?: string;
}

/** The key a leak report concerned, as it stands after it, and whether the report changed it. */
export interface LeakOutcome {
  readonly key: ApiKey;
  readonly changed: boolean;
}

/** Which keys a list holds: all, or one owner's. */
export interface KeyFilter {
  readonly owner?: string;
}

/** A key that passed verification, and what its policies say after this use. */
export interface VerifiedKey {
  readonly key: ApiKey;
  /** The rate-limit window after this verification, for a key with a limit. */
  readonly rateLimit?: RateLimitState;
  /** Credits left after this verification's spend, for a key with credits. */
  readonly creditsRemaining?: number;
}

export interface Rotation {
  /** How long the replaced token keeps working, 0 (not at all) to 30 days. */
  readonly gracePeriodSeconds?: number;
}

/** A key as callers see it: what is stored, when it was last used, and its grace period. */
export interface ApiKeyView {
  readonly key: ApiKey;
  readonly lastUsedAt?: string;
  /** Until when the token a rotation replaced still works, while it does. */
  readonly previousTokenExpiresAt?: string;
  /** What is left of the key's credits now (the key stores them as granted). */
  readonly creditsRemaining?: number;
}

/** A key just created or rotated, with the only copy of its plaintext token. */
export interface IssuedApiKey {
  readonly view: ApiKeyView;
  readonly token: string;
}

function keyNotFound(tenantId: string, name: string): NotFoundException {
  return new NotFoundException(`API key "${name}" does not exist in tenant "${tenantId}"`);
}

/** 400 naming `expiresAt` unless it lies after `now`. */
function assertFuture(expiresAt: string, now: number): void {
  if (Date.parse(expiresAt) <= now) {
    throw new ValidationProblemException([
      { field: 'expiresAt', message: 'expiresAt must lie in the future' },
    ]);
  }
}

/** A freshly minted token and what is stored of it. */
function minted(): { token: string; hash: string; hint: string } {
  const token = mintToken();
  return { token, hash: hashToken(token), hint: hintOf(token) };
}

/**
 * The rules of API keys: unique names, no privilege escalation, hashed tokens shown once,
 * expiry and rotation read from one clock, and the one check every authentication goes through.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly repository: ApiKeysRepository,
    private readonly clock: Clock,
    private readonly usage: UsageBuffer,
    private readonly rateLimiter: KeyRateLimiter,
    private readonly credits: CreditLedger,
  ) {}

  async list(tenantId: string, filter: KeyFilter = {}): Promise<ApiKeyView[]> {
    const all = await this.repository.list(tenantId);
    const keys = filter.owner === undefined ? all : all.filter((k) => k.owner === filter.owner);
    return this.views(tenantId, keys);
  }

  async get(tenantId: string, name: string): Promise<ApiKeyView> {
    const key = isKeyName(name) ? await this.repository.findByName(tenantId, name) : undefined;
    if (!key) throw keyNotFound(tenantId, name);
    return (await this.views(tenantId, [key]))[0];
  }

  /**
   * The check every presented API key goes through, in this order: the key exists, is enabled
   * and has not expired (a token a rotation replaced counts within its grace); the client's
   * address is allowed; the key grants the scopes; it is within its rate limit; it has the
   * credits, which are then spent. Its use is recorded. Otherwise KeyRefusedError says why
   * (`NOT_FOUND` also for a tenant that does not exist, or a token of the current shape whose
   * checksum fails, refused before any lookup). A refused verification spends no credit, and
   * one refused before the rate limit is not counted by it.
   */
  async verify(
    tenantId: string,
    token: string,
    presented: Presentation = {},
  ): Promise<VerifiedKey> {
    if (!isTenantId(tenantId) || !hasValidChecksum(token)) throw new KeyRefusedError('NOT_FOUND');
    const hash = hashToken(token);
    let key: ApiKey | undefined;
    try {
      key = await this.repository.findByHash(tenantId, hash);
    } catch (error) {
      if (error instanceof TenantNotFoundError) throw new KeyRefusedError('NOT_FOUND');
      throw error;
    }
    const refusal = firstRefusal(key, hash, this.clock.now(), presented);
    if (refusal || !key) {
      throw new KeyRefusedError(refusal?.code ?? 'NOT_FOUND', { missing: refusal?.missing });
    }
    const limited = await this.rateLimiter.take(tenantId, key);
    if (limited && !limited.allowed) {
      throw new KeyRefusedError('RATE_LIMITED', { rateLimit: limited.state });
    }
    const grant = grantOf(key);
    const spent = grant && (await this.credits.spend(tenantId, grant, presented.cost ?? 1));
    if (spent && !spent.granted) {
      throw new KeyRefusedError('USAGE_EXCEEDED', { rateLimit: limited?.state });
    }
    this.usage.record(tenantId, key);
    return {
      key,
      ...(limited && { rateLimit: limited.state }),
      ...(spent && { creditsRemaining: spent.remaining }),
    };
  }

  async create(tenantId: string, request: NewApiKey, caller: Caller): Promise<IssuedApiKey> {
    const permissions = uniquePermissions(request.permissions ?? []);
    assertGrantable(caller.principal, permissions);
    const now = this.clock.now();
    if (request.expiresAt !== undefined) assertFuture(request.expiresAt, now);
    const { token, hash, hint } = minted();
    const stamp = new Date(now).toISOString();
    const key: ApiKey = withPolicies(
      {
        name: request.name,
        enabled: request.enabled ?? true,
        permissions,
        hash,
        createdAt: stamp,
        updatedAt: stamp,
        ...(request.expiresAt !== undefined && { expiresAt: normalized(request.expiresAt) }),
        hint,
      },
      request,
    );
    await this.repository.change(tenantId, key.name, (current) => {
      if (current) throw new ConflictException(`an API key named "${key.name}" already exists`);
      return { key, event: auditEvent(caller, 'create', undefined, key), result: key };
    });
    this.usage.forget(tenantId, key.name);
    // Nothing to write to the ledger, or to read for the answer: a new key's grant is its own
    // (its createdAt is in the grant id), so any balance, or last use, left under its name by a
    // key deleted by hand is not its own. It has every credit, no last use, no replaced token.
    const view: ApiKeyView = {
      key,
      ...(key.credits && { creditsRemaining: key.credits.remaining }),
    };
    return { view, token };
  }

  /** Replaces `enabled`, and `permissions` and `expiresAt` when given; with `ifMatch`, only if the key still matches. */
  async update(
    tenantId: string,
    name: string,
    request: ApiKeyUpdate,
    caller: Caller,
    ifMatch?: IfMatch,
  ): Promise<ApiKeyView> {
    const now = this.clock.now();
    if (typeof request.expiresAt === 'string') assertFuture(request.expiresAt, now);
    const updated = await this.repository.change(tenantId, name, (stored) => {
      const current = currentKey(stored, tenantId, name, ifMatch);
      assertMayChange(caller.principal, current);
      const permissions = request.permissions
        ? uniquePermissions(request.permissions)
        : current.permissions;
      assertGrantable(caller.principal, permissions);
      const next: { -readonly [K in keyof ApiKey]: ApiKey[K] } = {
        ...current,
        enabled: request.enabled,
        permissions,
        updatedAt: new Date(now).toISOString(),
      };
      if (request.expiresAt === null) delete next.expiresAt;
      else if (request.expiresAt !== undefined) next.expiresAt = normalized(request.expiresAt);
      const key = withPolicies(next, request);
      return { key, event: auditEvent(caller, 'update', current, key), result: key };
    });
    // Credits given in the update are granted now, even the same number as before.
    if (request.credits !== undefined) await this.grantCredits(tenantId, updated);
    return (await this.views(tenantId, [updated]))[0];
  }

  /**
   * Gives the key a new token. The one it replaces keeps working for `gracePeriodSeconds` (then
   * as `previousHash`), and only it: a second rotation drops the token the first replaced.
   * Under the grant rule, since it hands out a working credential for the key.
   */
  async rotate(
    tenantId: string,
    name: string,
    rotation: Rotation,
    caller: Caller,
    ifMatch?: IfMatch,
  ): Promise<IssuedApiKey> {
    const grace = rotation.gracePeriodSeconds ?? 0;
    const { token, hash, hint } = minted();
    const rotated = await this.repository.change(tenantId, name, (stored) => {
      const current = currentKey(stored, tenantId, name, ifMatch);
      assertMayChange(caller.principal, current);
      const now = this.clock.now();
      const next: { -readonly [K in keyof ApiKey]: ApiKey[K] } = {
        ...current,
        hash,
        hint,
        updatedAt: new Date(now).toISOString(),
      };
      delete next.previousHash;
      delete next.previousHashExpiresAt;
      delete next.leakedAt; // the leaked token is replaced
      if (grace > 0) {
        next.previousHash = current.hash;
        next.previousHashExpiresAt = new Date(now + grace * 1000).toISOString();
      }
      const rotation = auditEvent(caller, 'rotate', current, next);
      const event: AuditEvent = {
        ...rotation,
        changes: {
          ...rotation.changes, // a leak the old token was reported in no longer applies
          token: { from: 'old', to: 'new' },
          previousTokenExpiresAt: { from: null, to: next.previousHashExpiresAt ?? null },
        },
      };
      return { key: next, event, result: next };
    });
    return { view: (await this.views(tenantId, [rotated]))[0], token };
  }

  /** The tenant's keys and other sections as a security.yml text, as stored. */
  exportText(tenantId: string): Promise<string> {
    return this.repository.exportText(tenantId);
  }

  /**
   * The tenant's keys as a security.yml to take elsewhere (`keys export`): as stored, except
   * that each key's credits are what is left of them now, not what was granted, so an import
   * does not hand out again what was spent. Text without credits is returned as it is.
   */
  async exportKeys(tenantId: string): Promise<string> {
    const text = await this.repository.exportText(tenantId);
    const document = parseSecurityFile(text);
    const grants = document.entries
      .map((entry) => grantOf(entry.key))
      .filter((g) => g !== undefined);
    if (grants.length === 0) return text;
    const balances = await this.credits.balances(tenantId, grants);
    const entries = document.entries.map((entry) => {
      const { credits } = entry.key;
      const remaining = balances.get(entry.key.name);
      if (!credits || remaining === undefined || remaining === credits.remaining) return entry;
      return toStoredEntry({ ...entry.key, credits: { ...credits, remaining } }, entry.raw);
    });
    return renderSecurityFile({ ...document, entries });
  }

  /**
   * Installs `text`, a whole security.yml, as the tenant's keys: validated first (a
   * SecurityFileError says where and why), then written in one change with an audit line for
   * each key it creates, changes or deletes. With `expectedText`, only if the tenant has not
   * changed since that text was read.
   */
  async replaceAll(
    tenantId: string,
    text: string,
    caller: Caller,
    expectedText?: string,
  ): Promise<void> {
    const document = parseSecurityFile(text);
    await this.repository.replaceAll(
      tenantId,
      { text, document },
      (before, after) => replacementEvents(caller, before, after),
      expectedText,
    );
  }

  /** Makes the tenant exist; TenantExistsError if it does. */
  createTenant(tenantId: string): Promise<void> {
    return this.repository.createTenant(tenantId);
  }

  /**
   * Loads the keys of a security.yml text (hashes, fields and other sections kept) into the
   * tenant, creating it when missing: all or nothing, and nothing if a name or hash is taken.
   * Each imported key is audited as a create. Returns how many keys were imported.
   */
  async importKeys(tenantId: string, text: string, caller: Caller): Promise<number> {
    const imported = parseSecurityFile(text);
    await this.repository.createTenant(tenantId).catch((error: unknown) => {
      if (!(error instanceof TenantExistsError)) throw error;
    });
    const exported = await this.repository.exportText(tenantId);
    const current = parseSecurityFile(exported);
    const names = new Set(current.entries.map((entry) => entry.key.name));
    const hashesOf = (key: ApiKey) =>
      key.previousHash ? [key.hash, key.previousHash] : [key.hash];
    const hashes = new Set(current.entries.flatMap((entry) => hashesOf(entry.key)));
    const taken = imported.entries.filter(
      ({ key }) => names.has(key.name) || hashesOf(key).some((hash) => hashes.has(hash)),
    );
    if (taken.length > 0) {
      throw new ConflictException(
        `nothing was imported: tenant "${tenantId}" already holds ${taken.map((e) => e.key.name).join(', ')} (or their hashes)`,
      );
    }
    const document = {
      sections: { ...imported.sections, ...current.sections },
      entries: [...current.entries, ...imported.entries],
    };
    await this.repository.replaceAll(
      tenantId,
      { text: renderSecurityFile(document), document },
      (before, after) => replacementEvents(caller, before, after),
      exported,
    );
    return imported.entries.length;
  }

  /**
   * What a secret scanner's report that a token leaked does to the key of `hash` in the tenant:
   * with `disable`, the key is disabled (or, when it is the token a rotation replaced, that
   * token's grace ends at once), and either way the key records when it leaked. Audited as
   * `leak` with where and by which scanner it was found, never the token. A report that would
   * change nothing more (the same report again) stores nothing. Undefined when the tenant holds
   * no key of that hash.
   */
  async reportLeak(
    tenantId: string,
    hash: string,
    report: LeakReport,
    caller: Caller,
  ): Promise<LeakOutcome | undefined> {
    const found = await this.repository.findByHash(tenantId, hash);
    if (!found) return undefined;
    const at = new Date(this.clock.now()).toISOString();
    if (!leakChanges(found, hash, report.action, at)) return { key: found, changed: false };
    return this.repository.change<LeakOutcome>(tenantId, found.name, (current) => {
      const next = current && leakChanges(current, hash, report.action, at);
      if (!current || !next) {
        // Changed meanwhile: rotated away from the token, deleted, or already answered.
        return current
          ? { key: current, result: { key: current, changed: false } }
          : { key: null, result: { key: found, changed: false } };
      }
      const event: AuditEvent = {
        ...auditEvent(caller, 'leak', current, next),
        ...(report.url !== undefined && { url: report.url }),
        ...(report.source !== undefined && { source: report.source }),
      };
      return { key: next, event, result: { key: next, changed: true } };
    });
  }

  /** Deletes the key; with `ifMatch`, only if it still matches. */
  async delete(tenantId: string, name: string, caller: Caller, ifMatch?: IfMatch): Promise<void> {
    await this.repository.change(tenantId, name, (stored) => {
      const current = currentKey(stored, tenantId, name, ifMatch);
      assertMayChange(caller.principal, current);
      return { key: null, event: auditEvent(caller, 'delete', current, undefined), result: null };
    });
    this.usage.forget(tenantId, name);
    await this.credits.forget(tenantId, name);
  }

  /**
   * Starts the key's credits afresh, or, when it has none, drops what the ledger held: what the
   * admin API sets counts from the moment it is answered, on every replica.
   */
  private async grantCredits(tenantId: string, key: ApiKey): Promise<void> {
    const grant = grantOf(key);
    if (grant) await this.credits.reset(tenantId, grant);
    else await this.credits.forget(tenantId, key.name);
  }

  /** The keys as callers see them: when each was last used, its grace period, its credits left. */
  private async views(tenantId: string, keys: readonly ApiKey[]): Promise<ApiKeyView[]> {
    const grants = keys.map(grantOf).filter((grant) => grant !== undefined);
    const [lastUsed, balances] = await Promise.all([
      this.usage.lastUsed(tenantId, keys),
      this.credits.balances(tenantId, grants),
    ]);
    const now = this.clock.now();
    return keys.map((key) => {
      const lastUsedAt = lastUsed.get(key.name);
      const previousTokenExpiresAt = previousTokenValidUntil(key, now);
      const creditsRemaining = balances.get(key.name);
      return {
        key,
        ...(lastUsedAt !== undefined && { lastUsedAt }),
        ...(previousTokenExpiresAt !== undefined && { previousTokenExpiresAt }),
        ...(creditsRemaining !== undefined && { creditsRemaining }),
      };
    });
  }
}

/**
 * The key after a report that the token of `hash` leaked, or undefined when it would change
 * nothing: disabled (or the replaced token's grace ended) under `disable`, and its leak recorded.
 */
function leakChanges(
  key: ApiKey,
  hash: string,
  action: LeakAction,
  at: string,
): ApiKey | undefined {
  const next: { -readonly [K in keyof ApiKey]: ApiKey[K] } = { ...key };
  if (action === 'disable') {
    if (key.hash === hash) next.enabled = false;
    else if (key.previousHash === hash) {
      delete next.previousHash;
      delete next.previousHashExpiresAt;
    }
  }
  next.leakedAt ??= at;
  const same =
    next.enabled === key.enabled &&
    next.previousHash === key.previousHash &&
    next.leakedAt === key.leakedAt;
  return same ? undefined : next;
}

/** `key` with the policy fields `update` sets (left out: kept; null: removed). */
function withPolicies(key: ApiKey, update: PolicyUpdate): ApiKey {
  const next: Record<string, unknown> = { ...key };
  for (const field of POLICY_FIELDS) {
    const value = update[field];
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = value;
  }
  return next as unknown as ApiKey;
}

/** An instant as the service stores it: UTC, milliseconds, `Z`. */
function normalized(instant: string): string {
  return new Date(instant).toISOString();
}

/** One audit event per key that `after` adds, changes or removes compared with `before`. */
function replacementEvents(
  caller: Caller,
  before: readonly ApiKey[],
  after: readonly ApiKey[],
): AuditEvent[] {
  const previous = new Map(before.map((key) => [key.name, key]));
  const events: AuditEvent[] = [];
  for (const key of after) {
    const old = previous.get(key.name);
    previous.delete(key.name);
    if (!old) {
      events.push(auditEvent(caller, 'create', undefined, key));
      continue;
    }
    const event = auditEvent(caller, 'update', old, key);
    if (old.hash !== key.hash) {
      events.push({ ...event, changes: { ...event.changes, token: { from: 'old', to: 'new' } } });
    } else if (Object.keys(event.changes).length > 0) {
      events.push(event);
    }
  }
  for (const old of previous.values()) events.push(auditEvent(caller, 'delete', old, undefined));
  return events;
}

/** The key as the change sees it: 404 when it is gone, 412 when it changed since `ifMatch`. */
function currentKey(
  stored: ApiKey | undefined,
  tenantId: string,
  name: string,
  ifMatch?: IfMatch,
): ApiKey {
  const current = isKeyName(name) ? stored : undefined;
  if (!current) throw keyNotFound(tenantId, name);
  if (ifMatch && !satisfiesIfMatch(current, ifMatch)) {
    throw new PreconditionFailedException(
      `API key "${name}" has changed since the version in If-Match; fetch it again`,
    );
  }
  return current;
}

/** What the audit trail says of a change: who, what, and each public field that changed. */
function auditEvent(
  caller: Caller,
  action: AuditEvent['action'],
  before: ApiKey | undefined,
  after: ApiKey | undefined,
): AuditEvent {
  const changes: Record<string, { from: FieldValue; to: FieldValue }> = {};
  for (const field of [
    'enabled',
    'permissions',
    'expiresAt',
    ...POLICY_FIELDS,
    'leakedAt',
  ] as const) {
    const from = before?.[field] ?? null;
    const to = after?.[field] ?? null;
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[field] = { from, to };
  }
  return {
    requestId: caller.requestId,
    actor: `${caller.principal.method}:${caller.principal.subject}`,
    action,
    key: (after ?? before)?.name ?? '',
    changes,
  };
}

/**
 * The grant rule's other half: a caller may only change or delete a key its own scopes cover,
 * so a write-only key cannot disable, strip or delete a `*` key.
 */
function assertMayChange(caller: Principal, key: ApiKey): void {
  const beyond = uncovered(caller.scopes, key.permissions);
  if (beyond.length > 0) {
    throw new ForbiddenException(
      `API key "${key.name}" holds permissions beyond your own; not covered: ${beyond.join(', ')}`,
    );
  }
}

/** The grant rule: a caller may only give a key permissions its own scopes cover. */
function assertGrantable(caller: Principal, permissions: readonly string[]): void {
  const beyond = uncovered(caller.scopes, permissions);
  if (beyond.length > 0) {
    throw new ForbiddenException(
      `the key's permissions would exceed your own; not covered: ${beyond.join(', ')}`,
    );
  }
}

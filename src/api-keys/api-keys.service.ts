import {
  ConflictException,
  ForbiddenException,
  Injectable,
  NotFoundException,
  PreconditionFailedException,
} from '@nestjs/common';
import type { AuditEvent, FieldValue } from '../audit/audit-entry';
import type { Caller, Principal } from '../auth/principal';
import { uncovered } from '../auth/scope-matching';
import {
  type ApiKey,
  type IfMatch,
  isKeyName,
  satisfiesIfMatch,
  uniquePermissions,
} from './api-key';
import { hashToken, mintToken } from './api-key-token';
import { type ApiKeyChanges, ApiKeysRepository } from './api-keys.repository';
import { parseSecurityFile } from './security-file';

export interface NewApiKey {
  readonly name: string;
  readonly enabled?: boolean;
  readonly permissions?: readonly string[];
}

export interface ApiKeyUpdate {
  readonly enabled: boolean;
  readonly permissions?: readonly string[];
}

/** A key just created, with the only copy of its plaintext token. */
export interface CreatedApiKey {
  readonly key: ApiKey;
  readonly token: string;
}

function keyNotFound(tenantId: string, name: string): NotFoundException {
  return new NotFoundException(`API key "${name}" does not exist in tenant "${tenantId}"`);
}

/** The rules of API keys: unique names, no privilege escalation, hashed tokens shown once. */
@Injectable()
export class ApiKeysService {
  constructor(private readonly repository: ApiKeysRepository) {}

  list(tenantId: string): Promise<readonly ApiKey[]> {
    return this.repository.list(tenantId);
  }

  async get(tenantId: string, name: string): Promise<ApiKey> {
    const key = isKeyName(name) ? await this.repository.findByName(tenantId, name) : undefined;
    if (!key) throw keyNotFound(tenantId, name);
    return key;
  }

  async create(tenantId: string, request: NewApiKey, caller: Caller): Promise<CreatedApiKey> {
    const permissions = uniquePermissions(request.permissions ?? []);
    assertGrantable(caller.principal, permissions);
    const token = mintToken();
    const now = new Date().toISOString();
    const key: ApiKey = {
      name: request.name,
      enabled: request.enabled ?? true,
      permissions,
      hash: hashToken(token),
      createdAt: now,
      updatedAt: now,
    };
    await this.repository.change(tenantId, (keys) => {
      if (keys.get(key.name)) {
        throw new ConflictException(`an API key named "${key.name}" already exists`);
      }
      keys.put(key);
      keys.record(auditEvent(caller, 'create', undefined, key));
    });
    return { key, token };
  }

  /** Replaces `enabled`, and `permissions` when given; with `ifMatch`, only if the key still matches. */
  update(
    tenantId: string,
    name: string,
    request: ApiKeyUpdate,
    caller: Caller,
    ifMatch?: IfMatch,
  ): Promise<ApiKey> {
    return this.repository.change(tenantId, (keys) => {
      const current = currentKey(keys, tenantId, name, ifMatch);
      assertMayChange(caller.principal, current);
      const permissions = request.permissions
        ? uniquePermissions(request.permissions)
        : current.permissions;
      assertGrantable(caller.principal, permissions);
      const updated: ApiKey = {
        ...current,
        enabled: request.enabled,
        permissions,
        updatedAt: new Date().toISOString(),
      };
      keys.put(updated);
      keys.record(auditEvent(caller, 'update', current, updated));
      return updated;
    });
  }

  /** The tenant's keys and other sections as a security.yml text. */
  exportText(tenantId: string): Promise<string> {
    return this.repository.exportText(tenantId);
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

  /** Deletes the key; with `ifMatch`, only if it still matches. */
  async delete(tenantId: string, name: string, caller: Caller, ifMatch?: IfMatch): Promise<void> {
    await this.repository.change(tenantId, (keys) => {
      const current = currentKey(keys, tenantId, name, ifMatch);
      assertMayChange(caller.principal, current);
      keys.delete(name);
      keys.record(auditEvent(caller, 'delete', current, undefined));
    });
  }
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
  keys: ApiKeyChanges,
  tenantId: string,
  name: string,
  ifMatch?: IfMatch,
): ApiKey {
  const current = isKeyName(name) ? keys.get(name) : undefined;
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
  for (const field of ['enabled', 'permissions'] as const) {
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

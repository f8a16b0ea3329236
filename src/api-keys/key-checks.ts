import { HttpStatus } from '@nestjs/common';
import { uncovered } from '../auth/scope-matching';
import { AllowedAddresses } from '../common/ip-ranges';
import { InsufficientScopeException, ProblemException } from '../common/http-problems';
import type { ApiKey } from '../storage/api-key.record';
import { refusalOf, type TokenRefusal } from './key-lifecycle';
import { rateLimitHeaders, type RateLimitState } from './key-rate-limiter';

/** Why a presented key does not pass, as gateways and problem bodies name it. */
export type Refusal =
  TokenRefusal | 'IP_NOT_ALLOWED' | 'INSUFFICIENT_PERMISSIONS' | 'RATE_LIMITED' | 'USAGE_EXCEEDED';

/** What a key is presented with besides its token: from where, for what, at what cost. */
export interface Presentation {
  /** The client's address, as Express derives it under TRUST_PROXY. */
  readonly client?: string;
  /** Scopes the key must grant. */
  readonly scopes?: readonly string[];
  /** Credits to spend (default 1; 0 checks without spending). */
  readonly cost?: number;
}

const allowLists = new WeakMap<ApiKey, AllowedAddresses>();

/** Whether the key may be presented from `client`: any address when it lists none. */
export function addressAllowed(key: ApiKey, client: string | undefined): boolean {
  if (!key.allowedIps || key.allowedIps.length === 0) return true;
  let allowed = allowLists.get(key);
  if (!allowed) {
    allowed = new AllowedAddresses(key.allowedIps);
    allowLists.set(key, allowed); // keys are immutable: parsed once
  }
  return allowed.allows(client);
}

/**
 * The checks that count nothing, in their order: the token (the key exists, is enabled, has not
 * expired; a rotated token within its grace), then the client's address, then the scopes.
 * Undefined when the key passes them all; else the first refusal, with the scopes missing.
 */
export function firstRefusal(
  key: ApiKey | undefined,
  hash: string,
  now: number,
  presented: Presentation,
): { readonly code: Refusal; readonly missing?: readonly string[] } | undefined {
  const refusal = refusalOf(key, hash, now);
  if (refusal || !key) return { code: refusal ?? 'NOT_FOUND' };
  if (!addressAllowed(key, presented.client)) return { code: 'IP_NOT_ALLOWED' };
  const missing = uncovered(key.permissions, presented.scopes ?? []);
  if (missing.length > 0) return { code: 'INSUFFICIENT_PERMISSIONS', missing };
  return undefined;
}

const MESSAGES: Record<Refusal, string> = {
  NOT_FOUND: 'the API key is not valid for this tenant',
  DISABLED: 'the API key is not valid for this tenant',
  EXPIRED: 'the API key has expired',
  IP_NOT_ALLOWED: 'the API key may not be used from this address',
  INSUFFICIENT_PERMISSIONS: 'the API key does not grant the scopes required',
  RATE_LIMITED: 'the API key has reached its rate limit',
  USAGE_EXCEEDED: 'the API key has no credits left for this request',
};

/** A presented API key that does not pass, and why (as gateways and problem bodies name it). */
export class KeyRefusedError extends Error {
  constructor(
    readonly code: Refusal,
    readonly details: {
      readonly missing?: readonly string[];
      readonly rateLimit?: RateLimitState;
    } = {},
  ) {
    super(
      code === 'INSUFFICIENT_PERMISSIONS' && details.missing
        ? `the API key does not grant the scope ${details.missing.join(' ')}`
        : MESSAGES[code],
    );
  }

  /**
   * Whether the key failed to authenticate (unknown, disabled, expired): a 401, and a failure
   * the failed-authentication limit counts. The others are a known key refused for its use.
   */
  get failedAuthentication(): boolean {
    return this.code === 'NOT_FOUND' || this.code === 'DISABLED' || this.code === 'EXPIRED';
  }
}

/**
 * The answer to a refusal of a key that authenticated: 403 for an address or a scope, 429 for
 * the rate limit (Retry-After and the RateLimit fields) or for credits.
 */
export function refusalException(error: KeyRefusedError): Error {
  switch (error.code) {
    case 'INSUFFICIENT_PERMISSIONS':
      return new InsufficientScopeException(error.details.missing ?? [], false, error.message);
    case 'IP_NOT_ALLOWED':
      return new ProblemException(HttpStatus.FORBIDDEN, error.message, error.code);
    case 'RATE_LIMITED': {
      const state = error.details.rateLimit;
      const headers = state
        ? { ...rateLimitHeaders(state), 'Retry-After': String(Math.max(1, state.resetSeconds)) }
        : {};
      return new ProblemException(HttpStatus.TOO_MANY_REQUESTS, error.message, error.code, headers);
    }
    case 'USAGE_EXCEEDED': {
      const state = error.details.rateLimit;
      const headers = state ? rateLimitHeaders(state) : {};
      return new ProblemException(HttpStatus.TOO_MANY_REQUESTS, error.message, error.code, headers);
    }
    default:
      return error;
  }
}

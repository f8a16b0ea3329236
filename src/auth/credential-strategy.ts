import type { Request } from 'express';
import type { Principal } from './principal';

/** A credential that was presented but does not authenticate: always a 401. */
export class InvalidCredentialsError extends Error {
  /** `challenge`, when given, replaces the strategy's own in `WWW-Authenticate`. */
  constructor(
    message: string,
    readonly challenge?: string,
  ) {
    super(message);
  }
}

/** One way in. AuthenticationGuard asks each whether the request carries its credential. */
export interface CredentialStrategy {
  /** The `WWW-Authenticate` challenge for this scheme. */
  readonly challenge: string;
  /** Whether the request carries this kind of credential (valid or not). */
  presentIn(request: Request): boolean;
  /**
   * The caller, or InvalidCredentialsError. `scopes` are those the route requires, for a
   * credential whose own checks come after its scopes (an API key's rate limit and credits).
   */
  authenticate(request: Request, tenantId: string, scopes: readonly string[]): Promise<Principal>;
}

/** Injection token for the list of strategies, in the order their challenges are announced. */
export const CREDENTIAL_STRATEGIES = Symbol('CREDENTIAL_STRATEGIES');

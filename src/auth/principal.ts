/** How a caller proved who it is. */
export type AuthMethod = 'api-key' | 'bearer' | 'cli' | 'scanner';

/** Who is calling: established by authentication, read by the scope guard and the grant rule. */
export interface Principal {
  readonly method: AuthMethod;
  /** The key name for an API key, the `sub` claim for a bearer. */
  readonly subject: string;
  /** Scopes held, possibly with `*` wildcards. */
  readonly scopes: readonly string[];
  /** Tenants the caller may administer; `*` for every tenant. */
  readonly tenants: readonly string[];
}

/** The principal of an operator at the command line, who holds the files themselves. */
export const OPERATOR: Principal = {
  method: 'cli',
  subject: 'operator',
  scopes: ['*'],
  tenants: ['*'],
};

/** Who makes a change, and in which request: what the audit trail records. */
export interface Caller {
  readonly principal: Principal;
  readonly requestId: string;
}

export function mayAdminister(principal: Principal, tenantId: string): boolean {
  return principal.tenants.includes('*') || principal.tenants.includes(tenantId);
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by AuthenticationGuard on every route that is not public. */
    principal?: Principal;
  }
}

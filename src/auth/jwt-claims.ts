import type { Principal } from './principal';

/** Space-separated scopes (`scope`) or an array of them (`scp`), in any mix. */
function scopesIn(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value))
    return value.flatMap((item) => (typeof item === 'string' ? scopesIn(item) : []));
  return [];
}

function tenantsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

/**
 * The principal of a verified bearer token: scopes from `scope` and `scp`, tenants from the
 * configured claim (a string or an array; `*` for every tenant; none when it is missing).
 */
export function principalFromClaims(
  claims: Record<string, unknown>,
  tenantClaim: string,
): Principal {
  const tenantValue = Object.hasOwn(claims, tenantClaim) ? claims[tenantClaim] : undefined;
  return {
    method: 'bearer',
    subject: typeof claims.sub === 'string' ? claims.sub : 'anonymous',
    scopes: [...new Set([...scopesIn(claims.scope), ...scopesIn(claims.scp)])],
    tenants: tenantsIn(tenantValue),
  };
}

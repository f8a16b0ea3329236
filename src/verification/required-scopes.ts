import { PERMISSION_PATTERN } from '../storage/api-key.record';

/**
 * The scopes a gateway requires, from `?scope=`: space- or comma-separated, and the parameter
 * may repeat (`?scope=a,b&scope=c`). Undefined when one of them cannot be a scope at all.
 */
export function requiredScopes(query: unknown): string[] | undefined {
  const values = query === undefined ? [] : Array.isArray(query) ? query : [query];
  const scopes: string[] = [];
  for (const value of values) {
    if (typeof value !== 'string') return undefined;
    for (const scope of value.split(/[\s,]+/)) {
      if (scope === '') continue;
      if (!PERMISSION_PATTERN.test(scope)) return undefined;
      if (!scopes.includes(scope)) scopes.push(scope);
    }
  }
  return scopes;
}

/**
 * Whether `permission` grants `scope`: it is `*`, equal to it, or ends in `*` and the scope
 * starts with what comes before. A wildcard is only ever a trailing `*`; nothing else matches.
 *
 * The same rule tells whether one permission covers another (the grant rule): a held
 * `tenant.*` covers `tenant.apiKey:*`, because everything the latter grants starts with `tenant.`.
 */
export function grants(permission: string, scope: string): boolean {
  if (permission === '*' || permission === scope) return true;
  return permission.endsWith('*') && scope.startsWith(permission.slice(0, -1));
}

/** Whether any of the held permissions grants `scope`. */
export function hasScope(held: readonly string[], scope: string): boolean {
  return held.some((permission) => grants(permission, scope));
}

/** The requested permissions that none of the held ones covers: what granting them would escalate. */
export function uncovered(held: readonly string[], requested: readonly string[]): string[] {
  return requested.filter((permission) => !hasScope(held, permission));
}

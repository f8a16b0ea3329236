import { parseAddressRange } from '../common/ip-ranges';
import { KEY_NAME_PATTERN } from './api-key.record';

/**
 * The limits of a key's policy fields, and the one check of each, shared by the admin API's
 * validation and the security.yml parser: a hand edit is held to exactly what the API accepts.
 */

/** Requests per period: an `integer` column on PostgreSQL. */
export const MAX_RATE_LIMIT = 1_000_000_000;
export const MAX_RATE_PERIOD_SECONDS = 86_400;
/** Credits are whole numbers JavaScript and PostgreSQL's bigint both hold exactly. */
export const MAX_CREDITS = 1_000_000_000_000_000;
export const MIN_REFILL_INTERVAL_SECONDS = 60;
/** A year and a day: longer refills are no refill. */
export const MAX_REFILL_INTERVAL_SECONDS = 31_622_400;
export const MAX_ALLOWED_IPS = 64;
export const MAX_META_BYTES = 4096;
export const MAX_META_DEPTH = 4;
/** An owner: the tenant's own customer or user id, with the characters of a key name. */
export const OWNER_PATTERN = KEY_NAME_PATTERN;

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function integerProblem(field: string, value: unknown, min: number, max: number) {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max
    ? undefined
    : `${field} must be an integer from ${min} to ${max}`;
}

/** A mapping holding exactly `fields` (the optional ones may be left out), each checked. */
function mappingProblem(
  field: string,
  value: unknown,
  fields: Record<string, (name: string, value: unknown) => string | undefined>,
  optional: readonly string[] = [],
): string | undefined {
  if (!isMapping(value)) return `${field} must be an object with ${Object.keys(fields).join(', ')}`;
  for (const name of Object.keys(value)) {
    if (!Object.hasOwn(fields, name)) return `${field}.${name} is not a known field`;
  }
  for (const [name, check] of Object.entries(fields)) {
    if (value[name] === undefined && optional.includes(name)) continue;
    const problem = check(`${field}.${name}`, value[name]);
    if (problem) return problem;
  }
  return undefined;
}

/** What is wrong with a `rateLimit` value, naming the field; undefined when nothing is. */
export function rateLimitProblem(value: unknown, field = 'rateLimit'): string | undefined {
  return mappingProblem(field, value, {
    limit: (name, limit) => integerProblem(name, limit, 1, MAX_RATE_LIMIT),
    periodSeconds: (name, period) => integerProblem(name, period, 1, MAX_RATE_PERIOD_SECONDS),
  });
}

/** What is wrong with a `credits` value, naming the field; undefined when nothing is. */
export function creditsProblem(value: unknown, field = 'credits'): string | undefined {
  return mappingProblem(
    field,
    value,
    {
      remaining: (name, remaining) => integerProblem(name, remaining, 0, MAX_CREDITS),
      refill: (name, refill) =>
        mappingProblem(name, refill, {
          amount: (sub, amount) => integerProblem(sub, amount, 1, MAX_CREDITS),
          intervalSeconds: (sub, interval) =>
            integerProblem(sub, interval, MIN_REFILL_INTERVAL_SECONDS, MAX_REFILL_INTERVAL_SECONDS),
        }),
    },
    ['refill'],
  );
}

/** What is wrong with an `allowedIps` value, naming the first bad entry; undefined when nothing is. */
export function allowedIpsProblem(value: unknown, field = 'allowedIps'): string | undefined {
  if (!Array.isArray(value)) return `${field} must be an array of addresses and CIDR ranges`;
  if (value.length > MAX_ALLOWED_IPS) return `${field} may hold at most ${MAX_ALLOWED_IPS} entries`;
  const bad = value.findIndex(
    (entry) => typeof entry !== 'string' || parseAddressRange(entry) === undefined,
  );
  if (bad < 0) return undefined;
  return `${field}[${bad}] must be an IPv4 or IPv6 address or CIDR range, such as 10.0.0.0/8 or 2001:db8::/32`;
}

/** How deeply `value` nests objects and arrays: a flat object is 1. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(node)) pending.push([child, depth + 1]);
  }
  return deepest;
}

/** Whether `value` is plain JSON data: what JSON.stringify writes back as it is. */
function isJsonData(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonData);
  return isMapping(value) && Object.values(value).every(isJsonData);
}

/** What is wrong with a `meta` value; undefined when nothing is. */
export function metaProblem(value: unknown, field = 'meta'): string | undefined {
  if (!isMapping(value)) return `${field} must be a JSON object`;
  if (depthOf(value) > MAX_META_DEPTH) {
    return `${field} may nest objects and arrays at most ${MAX_META_DEPTH} deep`;
  }
  if (!isJsonData(value)) return `${field} must hold JSON values only`;
  if (Buffer.byteLength(JSON.stringify(value)) > MAX_META_BYTES) {
    return `${field} may be at most ${MAX_META_BYTES} bytes as JSON`;
  }
  return undefined;
}

/** What is wrong with an `owner` value; undefined when nothing is. */
export function ownerProblem(value: unknown, field = 'owner'): string | undefined {
  return typeof value === 'string' && OWNER_PATTERN.test(value)
    ? undefined
    : `${field} must be 1 to 128 characters of letters, digits, hyphens, underscores and dots`;
}

/** Each policy field with its check, in the order a key's entry lists them. */
export const POLICY_CHECKS = {
  owner: ownerProblem,
  rateLimit: rateLimitProblem,
  credits: creditsProblem,
  allowedIps: allowedIpsProblem,
  meta: metaProblem,
} as const;

import type { IfMatch } from '../api-keys/api-key';

/**
 * The `If-Match` header as a condition: undefined when absent, `*`, or its strong tags (weak
 * `W/` tags can never match under If-Match's strong comparison, RFC 9110 §13.1.1).
 */
export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  if (header.trim() === '*') return '*';
  return header
    .split(',')
    .map((tag) => tag.trim())
    .filter((tag) => /^"[^"]*"$/.test(tag));
}

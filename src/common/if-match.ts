/** An `If-Match` condition: `*` (any current version) or a list of strong tags. */
export type IfMatch = '*' | readonly string[];

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

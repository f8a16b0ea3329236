import {
  constructFromEvents,
  CORE_SCHEMA,
  type Document,
  DUMP_SCHEMA,
  dump,
  EVENT_ID,
  type Event,
  eventsToAst,
  getScalarValue,
  parseEvents,
  present,
  SCALAR_STYLE,
  type ScalarStyle,
  visit,
  YAMLException,
} from 'js-yaml';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  type ApiKey,
  HASH_PATTERN,
  INSTANT_PATTERN,
  KEY_NAME_PATTERN,
  OPTIONAL_KEY_FIELDS,
  PERMISSION_PATTERN,
} from '../api-key.record';
import { POLICY_CHECKS } from '../key-policies';

/** Files above this size are refused before parsing. 10,000 keys take about 2.5 MB. */
export const MAX_SECURITY_FILE_BYTES = 16 * 1024 * 1024;

/** Parse limits for a file people edit by hand: deep nesting and alias floods fail fast. */
const LOAD_LIMITS = { maxDepth: 64, maxAliases: 1000 } as const;

type Mapping = Record<string, unknown>;

/** One `apiKeys` entry: the key as the service reads it, and the mapping it came from. */
export interface StoredEntry {
  readonly key: ApiKey;
  /** Every field of the entry as written, unknown ones included, so rewrites keep them. */
  readonly raw: Readonly<Mapping>;
}

/** A parsed security.yml: its top-level mapping (any other sections kept) and its keys. */
export interface SecurityDocument {
  readonly sections: Readonly<Mapping>;
  readonly entries: readonly StoredEntry[];
  /**
   * The other sections as written, anchors and aliases included, with a stand-in where
   * `apiKeys` goes: present only when they use anchors, which a rewrite keeps rather than
   * expanding every alias into a copy.
   */
  readonly layout?: Document;
}

/** Why a security.yml cannot be used, as "line N: field: what is wrong", never quoting the file. */
export class SecurityFileError extends Error {}

export const EMPTY_SECURITY_DOCUMENT: SecurityDocument = { sections: {}, entries: [] };

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(mapping: Mapping, name: string): unknown {
  return Object.hasOwn(mapping, name) ? mapping[name] : undefined;
}

/** Parses and validates the text of a security.yml. Throws SecurityFileError. */
export function parseSecurityFile(text: string): SecurityDocument {
  let events: Event[];
  let documents: unknown[];
  try {
    events = parseEvents(text, { maxDepth: LOAD_LIMITS.maxDepth });
    documents = constructFromEvents(events, { source: text, maxAliases: LOAD_LIMITS.maxAliases });
  } catch (error) {
    if (error instanceof YAMLException) {
      const where = error.mark
        ? `line ${error.mark.line + 1}, column ${error.mark.column + 1}: `
        : '';
      throw new SecurityFileError(`${where}${error.reason}`);
    }
    throw new SecurityFileError('the file is not valid YAML');
  }
  if (documents.length > 1)
    throw new SecurityFileError('the file holds more than one YAML document');
  const root = documents[0] ?? null;
  if (root === null) return EMPTY_SECURITY_DOCUMENT;
  if (!isMapping(root)) throw new SecurityFileError('line 1: the top level must be a mapping');

  const list = field(root, 'apiKeys') ?? [];
  if (!Array.isArray(list)) {
    throw new SecurityFileError(`line ${apiKeysLine(text)}: apiKeys must be a list`);
  }
  const entries: StoredEntry[] = [];
  const names = new Map<string, number>();
  const hashes = new Map<string, number>();
  list.forEach((item: unknown, index) => {
    const fail = (problem: string): never => {
      throw new SecurityFileError(`line ${entryLine(text, index)}: apiKeys[${index}]${problem}`);
    };
    const entry = toEntry(item, fail);
    const sameName = names.get(entry.key.name);
    if (sameName !== undefined) fail(`.name "${entry.key.name}" repeats apiKeys[${sameName}]`);
    for (const [field, value] of [
      ['hash', entry.key.hash],
      ['previousHash', entry.key.previousHash],
    ] as const) {
      if (value === undefined) continue;
      const sameHash = hashes.get(value);
      if (sameHash !== undefined) fail(`.${field} repeats a hash of apiKeys[${sameHash}]`);
      hashes.set(value, index);
    }
    names.set(entry.key.name, index);
    entries.push(entry);
  });
  return { sections: root, entries, layout: layoutOf(text, events) };
}

/** The placeholder that stands for the key list while the other sections are rendered. */
function placeholderItem(): { key: Document['contents']; value: Document['contents'] } {
  const scalar = (value: string, style: ScalarStyle) => ({
    kind: 'scalar' as const,
    tag: 'tag:yaml.org,2002:str',
    tagged: false,
    style,
    value,
  });
  return {
    key: scalar('apiKeys', SCALAR_STYLE.PLAIN),
    value: scalar(PLACEHOLDER, SCALAR_STYLE.DOUBLE_QUOTED),
  };
}

/**
 * The other sections as an AST, when they hold anchors or aliases (else undefined): built from
 * the parser's events with the `apiKeys` pair left out, the placeholder put in its place.
 */
function layoutOf(text: string, events: Event[]): Document | undefined {
  const anchored = events.some(
    (event) => event.type === EVENT_ID.ALIAS || ('anchorStart' in event && event.anchorStart >= 0),
  );
  const root = events.findIndex((e) => e.type === EVENT_ID.MAPPING);
  if (!anchored || root < 0) return undefined;
  let index = root + 1;
  let at = -1;
  let pairs = 0;
  const kept: Event[] = events.slice(0, index);
  while (index < events.length && events[index].type !== EVENT_ID.POP) {
    const key = events[index];
    const value = skipNode(events, index);
    const end = skipNode(events, value);
    if (key.type === EVENT_ID.SCALAR && getScalarValue(text, key) === 'apiKeys') at = pairs;
    else {
      kept.push(...events.slice(index, end));
      pairs++;
    }
    index = end;
  }
  kept.push(...events.slice(index));
  let layout: Document;
  try {
    [layout] = eventsToAst(kept, { source: text, schema: CORE_SCHEMA });
  } catch {
    return undefined; // an alias into apiKeys: the sections are rendered from their values
  }
  if (layout.contents?.kind !== 'mapping') return undefined;
  layout.contents.items.splice(at < 0 ? pairs : at, 0, placeholderItem() as never);
  return layout;
}

function toEntry(item: unknown, fail: (problem: string) => never): StoredEntry {
  if (!isMapping(item)) return fail(' must be a mapping with at least name and hash');
  const name = field(item, 'name');
  if (typeof name !== 'string' || !KEY_NAME_PATTERN.test(name)) {
    fail('.name must be 1-128 characters of A-Z a-z 0-9 . _ -');
  }
  const hash = field(item, 'hash');
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) {
    fail(
      '.hash must be 64 hexadecimal characters, the SHA-256 of the token, as a string (quote it if it is all digits)',
    );
  }
  const enabled = field(item, 'enabled') ?? true;
  if (typeof enabled !== 'boolean') fail('.enabled must be true or false');
  const permissions = field(item, 'permissions') ?? [];
  if (
    !Array.isArray(permissions) ||
    !permissions.every((p): p is string => typeof p === 'string' && PERMISSION_PATTERN.test(p))
  ) {
    fail('.permissions must be a list of permissions (1-128 characters of A-Z a-z 0-9 . _ : * -)');
  }
  const key: { -readonly [K in keyof ApiKey]: ApiKey[K] } = {
    name,
    enabled,
    permissions,
    hash: hash.toLowerCase(),
  };
  for (const stamp of ['createdAt', 'updatedAt', 'hint'] as const) {
    const value = field(item, stamp) ?? undefined; // null counts as absent
    if (value === undefined) continue;
    if (typeof value !== 'string') fail(`.${stamp} must be a string`);
    key[stamp] = value;
  }
  // These two are enforced, so they must be instants, not just strings.
  for (const instant of ['expiresAt', 'previousHashExpiresAt', 'leakedAt'] as const) {
    const value = field(item, instant) ?? undefined;
    if (value === undefined) continue;
    if (
      typeof value !== 'string' ||
      !INSTANT_PATTERN.test(value) ||
      Number.isNaN(Date.parse(value))
    ) {
      fail(`.${instant} must be an ISO 8601 instant such as 2027-01-31T00:00:00Z`);
    }
    key[instant] = value;
  }
  const previous = field(item, 'previousHash') ?? undefined;
  if (previous !== undefined) {
    if (typeof previous !== 'string' || !HASH_PATTERN.test(previous)) {
      fail('.previousHash must be 64 hexadecimal characters');
    }
    if (key.previousHashExpiresAt === undefined) {
      fail('.previousHash needs previousHashExpiresAt, the end of its grace period');
    }
    key.previousHash = previous.toLowerCase();
  }
  for (const name of Object.keys(POLICY_CHECKS) as Array<keyof typeof POLICY_CHECKS>) {
    const value = field(item, name) ?? undefined;
    if (value === undefined) continue;
    const problem = POLICY_CHECKS[name](value, name);
    if (problem) fail(`.${problem}`);
    (key as Record<string, unknown>)[name] = value;
  }
  return { key, raw: item };
}

/** The entry for `key`, keeping the fields of the entry it replaces that the service does not know. */
export function toStoredEntry(key: ApiKey, replaced?: Readonly<Mapping>): StoredEntry {
  const raw: Mapping = {
    ...replaced,
    name: key.name,
    enabled: key.enabled,
    permissions: [...key.permissions],
    hash: key.hash,
  };
  for (const name of OPTIONAL_KEY_FIELDS) {
    if (key[name] === undefined) delete raw[name];
    else raw[name] = key[name];
  }
  return { key, raw };
}

/** Every string value double-quoted: unambiguous for any YAML reader, and cheap to write by hand. */
const DUMP_OPTIONS = { quoteStyle: 'double', forceQuotes: true, lineWidth: -1 } as const;
/** Stands in for the key list while the other sections are rendered; never a real value. */
const PLACEHOLDER = `tenantapikeys${randomBytes(12).toString('hex')}`;
const PLACEHOLDER_LINE = dump({ apiKeys: PLACEHOLDER }, DUMP_OPTIONS);
/**
 * Each entry's and the other sections' bytes, kept with the (never mutated) objects they were
 * rendered from. Bytes rather than strings: a rewrite hands them to one `writev`, so a write
 * of a 10,000-key file builds no 2.5 MB string (joining one cost more than writing it).
 */
const renderedEntries = new WeakMap<object, Buffer>();
const renderedSections = new WeakMap<object, readonly [Buffer, Buffer]>();
/**
 * Runs of consecutive entries, joined, by the first entry of the run: what a rewrite hands to
 * `writev` (a piece per entry made marshalling 10,000 of them cost more than the rest). A run
 * is reused while it holds the same entries; a create changes only the last one.
 */
const renderedRuns = new WeakMap<
  object,
  { readonly raws: readonly object[]; readonly bytes: Buffer }
>();
const ENTRIES_PER_RUN = 256;
const EMPTY_LIST = Buffer.from('apiKeys: []\n');
const LIST_START = Buffer.from('apiKeys:\n');

/**
 * Scalars longer than this are written by us, as JSON strings (valid YAML double-quoted
 * scalars): js-yaml's style checks run regular expressions that overflow the stack on
 * strings of a few hundred kilobytes.
 */
const LONG_SCALAR = 4096;
/** Characters YAML does not allow unescaped, which JSON.stringify leaves as they are. */
const NOT_PRINTABLE = /[\x7f-\x84\x86-\x9f\ufffe\uffff]/g;
const LONG_TOKEN = new RegExp(`"${PLACEHOLDER}_(\\d+)"`, 'g');

/** Renders `documents` with long scalars written as escaped JSON strings, not by js-yaml. */
function presentSafely(documents: Document[], render: (documents: Document[]) => string): string {
  const long: string[] = [];
  visit(documents, (node, context) => {
    if (node.kind !== 'scalar' || context.isKey || node.value.length <= LONG_SCALAR) return;
    long.push(node.value);
    node.value = `${PLACEHOLDER}_${long.length - 1}`;
    node.style = SCALAR_STYLE.DOUBLE_QUOTED;
  });
  const text = render(documents);
  if (long.length === 0) return text;
  return text.replace(LONG_TOKEN, (_token, index: string) =>
    JSON.stringify(long[Number(index)]).replace(
      NOT_PRINTABLE,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
  );
}

/** js-yaml's dump of `value` with our options, safe for long strings. */
function dumpSafely(value: unknown, noRefs: boolean): string {
  let text = '';
  dump(value, {
    ...DUMP_OPTIONS,
    noRefs,
    transform: (documents) => {
      text = presentSafely(documents, (docs) =>
        present(docs, { ...DUMP_OPTIONS, schema: DUMP_SCHEMA }),
      );
    },
  });
  return text;
}

/** Printable ASCII that needs no escape inside double quotes: exactly as js-yaml writes it. */
const PLAIN_QUOTABLE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const KNOWN_FIELDS = new Set<string>([
  'name',
  'enabled',
  'permissions',
  'hash',
  ...OPTIONAL_KEY_FIELDS,
]);

/**
 * The text js-yaml would write for an entry that holds only the fields the service knows, with
 * plain ASCII strings (every entry the service creates), without running the dumper: a create
 * is mostly this. Anything else returns undefined and goes to js-yaml.
 */
function renderKnownEntry(raw: Readonly<Mapping>): string | undefined {
  let text = '';
  for (const name of Object.keys(raw)) {
    if (!KNOWN_FIELDS.has(name)) return undefined;
    const value = raw[name];
    const indent = text === '' ? '  - ' : '    ';
    if (typeof value === 'boolean') {
      text += `${indent}${name}: ${value}\n`;
    } else if (typeof value === 'string' && PLAIN_QUOTABLE.test(value)) {
      text += `${indent}${name}: "${value}"\n`;
    } else if (Array.isArray(value) && value.length === 0) {
      text += `${indent}${name}: []\n`;
    } else if (
      Array.isArray(value) &&
      value.every((item) => typeof item === 'string' && PLAIN_QUOTABLE.test(item))
    ) {
      text += `${indent}${name}:\n${value.map((item) => `      - "${item as string}"\n`).join('')}`;
    } else {
      return undefined;
    }
  }
  return text === '' ? undefined : text;
}

/** One entry as a list item under `apiKeys:`, rendered once: entries are never mutated. */
function renderEntry(entry: StoredEntry): Buffer {
  let bytes = renderedEntries.get(entry.raw);
  if (bytes === undefined) {
    // Aliases inside an entry are written out in full: each entry is rendered on its own.
    bytes = Buffer.from(
      renderKnownEntry(entry.raw) ??
        dumpSafely({ apiKeys: [entry.raw] }, true).slice('apiKeys:\n'.length),
    );
    renderedEntries.set(entry.raw, bytes);
  }
  return bytes;
}

/** The entries from `from` to `to`, as one piece. */
function renderRun(entries: readonly StoredEntry[], from: number, to: number): Buffer {
  const first = entries[from].raw;
  const cached = renderedRuns.get(first);
  if (
    cached?.raws.length === to - from &&
    cached.raws.every((raw, i) => raw === entries[from + i].raw)
  ) {
    return cached.bytes;
  }
  const run = entries.slice(from, to);
  const bytes = Buffer.concat(run.map(renderEntry));
  renderedRuns.set(first, { raws: run.map((entry) => entry.raw), bytes });
  return bytes;
}

/** `text`, split at the placeholder line where the key list goes. */
function splitAtPlaceholder(text: string): readonly [string, string] {
  const at = text.startsWith(PLACEHOLDER_LINE) ? 0 : text.indexOf(`\n${PLACEHOLDER_LINE}`) + 1;
  if (at < 0 || text.indexOf(PLACEHOLDER_LINE, at) !== at) {
    throw new SecurityFileError('the other top-level sections cannot be written back');
  }
  return [text.slice(0, at), text.slice(at + PLACEHOLDER_LINE.length)];
}

/**
 * Whether `parts` read back within the limits, and, for sections without anchors (whose data is
 * no larger than their text), as the same data: checked once per set of sections, before any
 * write. Sections with anchors are not compared value by value, which would walk every alias.
 */
function readsBack(parts: readonly [string, string], document: SecurityDocument): boolean {
  try {
    const again = parseSecurityFile(`${parts[0]}apiKeys: []\n${parts[1]}`).sections;
    if (document.layout) return true;
    const others = (sections: Readonly<Mapping>) =>
      Object.entries(sections).filter(([name]) => name !== 'apiKeys');
    return isDeepStrictEqual(others(again), others(document.sections));
  } catch {
    return false;
  }
}

/**
 * The other sections, rendered once, split where the `apiKeys` list goes: from their layout
 * when they use anchors (kept as written, not expanded), else from their values. Either way
 * the result is parsed back once and compared, so a rewrite never writes what it cannot read.
 */
function renderSections(document: SecurityDocument): readonly [Buffer, Buffer] {
  let parts = renderedSections.get(document.sections);
  if (parts === undefined) {
    const layout = document.layout && structuredClone(document.layout);
    const candidates = [
      ...(layout
        ? [
            () =>
              presentSafely([layout], (docs) =>
                present(docs, { ...DUMP_OPTIONS, forceQuotes: false, schema: DUMP_SCHEMA }),
              ),
          ]
        : []),
      () => dumpSafely({ ...document.sections, apiKeys: PLACEHOLDER }, false),
    ];
    for (const render of candidates) {
      const split = splitAtPlaceholder(render());
      if (readsBack(split, document)) {
        parts = [Buffer.from(split[0]), Buffer.from(split[1])];
        break;
      }
    }
    if (!parts) throw new SecurityFileError('the other top-level sections cannot be written back');
    renderedSections.set(document.sections, parts);
  }
  return parts;
}

/**
 * The bytes of a security.yml, in pieces to be written one after the other: the other sections
 * as they were, `apiKeys` in its place. The same text as one js-yaml dump of the whole document
 * (except that data shared through YAML aliases is kept as anchors in the other sections and
 * written out in full in entries), but each entry and the other sections are rendered once and
 * reused, so a rewrite renders what changed, not the whole file.
 */
export function renderSecurityFileBytes(document: SecurityDocument): Buffer[] {
  const [before, after] = renderSections(document);
  if (document.entries.length === 0) return [before, EMPTY_LIST, after];
  const { entries } = document;
  const pieces = [before, LIST_START];
  for (let from = 0; from < entries.length; from += ENTRIES_PER_RUN) {
    pieces.push(renderRun(entries, from, Math.min(from + ENTRIES_PER_RUN, entries.length)));
  }
  pieces.push(after);
  return pieces;
}

/** The YAML text of a security.yml (see renderSecurityFileBytes). */
export function renderSecurityFile(document: SecurityDocument): string {
  return Buffer.concat(renderSecurityFileBytes(document)).toString('utf8');
}

// Error path only: finds where things are, re-reading the text as parser events.

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function startOf(event: Event): number {
  switch (event.type) {
    case EVENT_ID.MAPPING:
    case EVENT_ID.SEQUENCE:
      return event.start;
    case EVENT_ID.SCALAR:
      return event.valueStart;
    case EVENT_ID.ALIAS:
      return event.anchorStart;
    default:
      return -1;
  }
}

/** Index just past the node starting at `index`. */
function skipNode(events: Event[], index: number): number {
  const type = events[index].type;
  if (type !== EVENT_ID.MAPPING && type !== EVENT_ID.SEQUENCE) return index + 1;
  let depth = 0;
  do {
    const t = events[index].type;
    if (t === EVENT_ID.MAPPING || t === EVENT_ID.SEQUENCE) depth++;
    else if (t === EVENT_ID.POP) depth--;
    index++;
  } while (depth > 0 && index < events.length);
  return index;
}

/** Event index of the top-level `apiKeys` value, or -1. */
function apiKeysValue(text: string, events: Event[]): number {
  const root = events.findIndex((e) => e.type === EVENT_ID.MAPPING);
  if (root < 0) return -1;
  let index = root + 1;
  while (index < events.length && events[index].type !== EVENT_ID.POP) {
    const key = events[index];
    const value = skipNode(events, index);
    if (key.type === EVENT_ID.SCALAR && getScalarValue(text, key) === 'apiKeys') return value;
    index = skipNode(events, value);
  }
  return -1;
}

function safeEvents(text: string): Event[] {
  try {
    return parseEvents(text, LOAD_LIMITS);
  } catch {
    return [];
  }
}

function apiKeysLine(text: string): number {
  const events = safeEvents(text);
  const value = apiKeysValue(text, events);
  return value < 0 ? 1 : lineOf(text, startOf(events[value]));
}

function entryLine(text: string, entry: number): number {
  const events = safeEvents(text);
  const list = apiKeysValue(text, events);
  if (list < 0 || events[list].type !== EVENT_ID.SEQUENCE) return 1;
  let index = list + 1;
  for (let i = 0; i < entry && events[index]?.type !== EVENT_ID.POP; i++) {
    index = skipNode(events, index);
  }
  const event = events[index];
  return event ? lineOf(text, startOf(event)) : 1;
}

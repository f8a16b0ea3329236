import { dump, load } from 'js-yaml';
import {
  parseSecurityFile,
  renderSecurityFile,
  SecurityFileError,
  toStoredEntry,
} from './security-file';

const HASH = 'a'.repeat(64);
const HASH2 = 'b'.repeat(64);

function problem(text: string): string {
  try {
    parseSecurityFile(text);
  } catch (error) {
    expect(error).toBeInstanceOf(SecurityFileError);
    return (error as Error).message;
  }
  throw new Error('expected the file to be refused');
}

describe('security.yml format', () => {
  it.each(['', '# only a comment\n', '---\n', 'apiKeys:\n', 'apiKeys: []\n', 'other: 1\n'])(
    'reads %j as no keys',
    (text) => {
      expect(parseSecurityFile(text).entries).toEqual([]);
    },
  );

  it('fills the defaults of a minimal entry and lowercases the hash', () => {
    const { entries } = parseSecurityFile(`apiKeys:\n  - name: m\n    hash: ${'A'.repeat(64)}\n`);
    expect(entries[0].key).toEqual({ name: 'm', enabled: true, permissions: [], hash: HASH });
  });

  it('reads the policy fields of an entry, and writes them back as they were read', () => {
    const text = `apiKeys:
  - name: p
    hash: ${HASH}
    owner: customer-1
    rateLimit: { limit: 10, periodSeconds: 60 }
    credits:
      remaining: 5
      refill: { amount: 10, intervalSeconds: 86400 }
    allowedIps: [10.0.0.0/8, "::1"]
    meta: { plan: pro, seats: 3, tags: [a] }
`;
    const { key } = parseSecurityFile(text).entries[0];
    expect(key).toMatchObject({
      owner: 'customer-1',
      rateLimit: { limit: 10, periodSeconds: 60 },
      credits: { remaining: 5, refill: { amount: 10, intervalSeconds: 86400 } },
      allowedIps: ['10.0.0.0/8', '::1'],
      meta: { plan: 'pro', seats: 3, tags: ['a'] },
    });
    const again = parseSecurityFile(
      renderSecurityFile({ sections: {}, entries: [toStoredEntry(key)] }),
    ).entries[0].key;
    expect(again).toEqual(key);
  });

  it.each([
    ['rateLimit: { limit: 0, periodSeconds: 60 }', 'apiKeys[0].rateLimit.limit'],
    ['credits: { remaining: -2 }', 'apiKeys[0].credits.remaining'],
    [
      'credits: { remaining: 2, refill: { amount: 1, intervalSeconds: 5 } }',
      'apiKeys[0].credits.refill.intervalSeconds',
    ],
    ['allowedIps: [10.0.0.0/8, nowhere]', 'apiKeys[0].allowedIps[1]'],
    ['meta: [1, 2]', 'apiKeys[0].meta'],
    ['meta: { when: .inf }', 'apiKeys[0].meta'],
    ['owner: "a b"', 'apiKeys[0].owner'],
  ])('refuses the entry field %s, naming %s and its line', (line, named) => {
    const message = problem(`apiKeys:\n  - name: p\n    hash: ${HASH}\n    ${line}\n`);
    expect(message).toContain(named);
    expect(message).toMatch(/^line 2: /);
    expect(message).not.toContain('nowhere');
  });

  it('reads unquoted timestamps as strings', () => {
    const { entries } = parseSecurityFile(
      `apiKeys:\n  - name: m\n    hash: ${HASH}\n    createdAt: 2026-11-29T16:00:00.000Z\n`,
    );
    expect(entries[0].key.createdAt).toBe('2026-11-29T16:00:00.000Z');
  });

  it.each([
    ['a list at the top', '- a\n', /line 1: the top level must be a mapping/],
    ['two documents', 'a: 1\n---\nb: 2\n', /more than one YAML document/],
    [
      'an entry that is a string',
      'apiKeys:\n  - just-a-name\n',
      /line 2: apiKeys\[0\] must be a mapping/,
    ],
    ['a missing hash', 'apiKeys:\n  - name: a\n', /line 2: apiKeys\[0\]\.hash/],
    ['a bad name', `apiKeys:\n  - name: "a b"\n    hash: ${HASH}\n`, /apiKeys\[0\]\.name/],
    [
      'a non-boolean enabled',
      `apiKeys:\n  - name: a\n    hash: ${HASH}\n    enabled: "yes"\n`,
      /\.enabled/,
    ],
    [
      'permissions not a list',
      `apiKeys:\n  - name: a\n    hash: ${HASH}\n    permissions: "*"\n`,
      /\.permissions/,
    ],
    [
      'a number timestamp',
      `apiKeys:\n  - name: a\n    hash: ${HASH}\n    createdAt: 5\n`,
      /\.createdAt/,
    ],
    [
      'a duplicate name on line 5',
      `apiKeys:\n  - name: a\n    hash: ${HASH}\n\n  - name: a\n    hash: ${HASH2}\n`,
      /^line 5: apiKeys\[1\]\.name "a" repeats apiKeys\[0\]/,
    ],
    [
      'a duplicate hash',
      `apiKeys:\n  - name: a\n    hash: ${HASH}\n  - name: b\n    hash: ${HASH}\n`,
      /apiKeys\[1\]\.hash repeats/,
    ],
  ])('refuses %s', (_what, text, message) => {
    expect(problem(text)).toMatch(message);
  });

  it('never quotes the file in its messages', () => {
    const secret = 'c'.repeat(63);
    const message = problem(`apiKeys:\n  - name: a\n    hash: ${secret}\n  - [broken\n`);
    expect(message).not.toContain(secret);
    expect(message).not.toContain('\n');
  });

  it('keeps an alias bomb unexpanded, and refuses deep nesting and unknown tags', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 10; level++) {
      const prev = String.fromCharCode(96 + level);
      bomb.push(
        `${String.fromCharCode(97 + level)}: &${String.fromCharCode(97 + level)} [${Array(9).fill(`*${prev}`).join(', ')}]`,
      );
    }
    const doc = parseSecurityFile(`${bomb.join('\n')}\napiKeys: []\n`);
    // 9^9 strings if expanded; shared references render back as anchors and aliases.
    expect(renderSecurityFile(doc).length).toBeLessThan(10_000);
    expect(problem(`x: ${'['.repeat(1000)}${']'.repeat(1000)}\n`)).toMatch(/maxDepth/);
    expect(problem('x: !!js/undefined ""\n')).toMatch(/unknown scalar tag/);
    expect(problem('x: !!binary aGVsbG8=\n')).toMatch(/unknown scalar tag/);
  });

  it('keeps __proto__ and constructor as ordinary data', () => {
    const doc = parseSecurityFile(
      `__proto__: {polluted: true}\nconstructor: x\napiKeys:\n  - name: __proto__\n    hash: ${HASH}\n    __proto__: {polluted: true}\n`,
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(doc.entries[0].key.name).toBe('__proto__');
    const text = renderSecurityFile(doc);
    const again = load(text) as Record<string, unknown>;
    expect(Object.keys(again)).toEqual(['__proto__', 'constructor', 'apiKeys']);
    expect(parseSecurityFile(text).entries[0].raw).toHaveProperty('__proto__', { polluted: true });
  });

  it('renders other sections in place and keeps unknown entry fields on replace', () => {
    const doc = parseSecurityFile(
      `first: 1\napiKeys:\n  - name: a\n    hash: ${HASH}\n    owner: me\nlast: [x]\n`,
    );
    const replaced = toStoredEntry({ ...doc.entries[0].key, enabled: false }, doc.entries[0].raw);
    const text = renderSecurityFile({ sections: doc.sections, entries: [replaced] });
    expect(load(text)).toEqual({
      first: 1,
      apiKeys: [{ name: 'a', hash: HASH, owner: 'me', enabled: false, permissions: [] }],
      last: ['x'],
    });
  });

  it('quotes timestamps and * so that any YAML reader gets strings back', () => {
    const text = renderSecurityFile({
      sections: {},
      entries: [
        toStoredEntry({
          name: 'a',
          enabled: true,
          permissions: ['*'],
          hash: HASH,
          createdAt: '2026-11-29T16:00:00.000Z',
        }),
      ],
    });
    expect(text).toContain('createdAt: "2026-11-29T16:00:00.000Z"');
    expect(text).toContain('- "*"');
    expect(parseSecurityFile(text).entries[0].key.permissions).toEqual(['*']);
  });
});

describe('writing back what was read', () => {
  it('keeps anchors and aliases of other sections as written, not expanded', () => {
    const big = Array.from({ length: 200 }, (_, i) => `    - "item-${i}"`).join('\n');
    const aliases = Array.from({ length: 300 }, (_, i) => `  use${i}: *shared`).join('\n');
    const text = `defaults: &shared\n  list:\n${big}\n  name: &name "n"\nusers:\n${aliases}\n  who: *name\napiKeys:\n  - name: a\n    hash: ${HASH}\n`;
    const doc = parseSecurityFile(text);
    const rendered = renderSecurityFile(doc);
    expect(rendered.length).toBeLessThan(text.length * 1.5);
    expect(rendered).toContain('&shared');
    expect(rendered).toContain('*name');
    const again = parseSecurityFile(rendered);
    expect((again.sections.users as Record<string, unknown>).use299).toEqual(doc.sections.defaults);
    expect(again.entries.map((e) => e.key)).toEqual(doc.entries.map((e) => e.key));
  });

  it('writes an entry whose data aliases an anchor of another section in full, and reads it back', () => {
    const text = `common: &perms ["tenant.apiKey:read"]\napiKeys:\n  - name: a\n    hash: ${HASH}\n    permissions: *perms\n`;
    const rendered = renderSecurityFile(parseSecurityFile(text));
    expect(parseSecurityFile(rendered).entries[0].key.permissions).toEqual(['tenant.apiKey:read']);
  });

  it('falls back to the values when another section aliases an anchor inside apiKeys', () => {
    const text = `apiKeys:\n  - name: a\n    hash: ${HASH}\n    labels: &l {team: x}\nowner: *l\n`;
    const rendered = renderSecurityFile(parseSecurityFile(text));
    expect(parseSecurityFile(rendered).sections.owner).toEqual({ team: 'x' });
  });

  it('renders a string of several megabytes without exhausting the stack', () => {
    const long = `${'x'.repeat(5_000_000)}\u007f"\\`;
    const doc = parseSecurityFile(
      `notes: ${JSON.stringify(long)}\napiKeys:\n  - name: a\n    hash: ${HASH}\n    memo: ${JSON.stringify(long)}\n`,
    );
    const rendered = renderSecurityFile(doc);
    const again = parseSecurityFile(rendered);
    expect(again.sections.notes).toBe(long);
    expect(again.entries[0].raw.memo).toBe(long);
  });
});

describe('renderSecurityFile', () => {
  const wholeDump = (doc: ReturnType<typeof parseSecurityFile>) =>
    dump(
      { ...doc.sections, apiKeys: doc.entries.map((e) => e.raw) },
      { quoteStyle: 'double', forceQuotes: true, lineWidth: -1 },
    );

  it.each([
    `apiKeys: []\n`,
    `apiKeys:\n  - name: a\n    hash: ${HASH}\n`,
    `first: {x: [1, "two"]}\napiKeys:\n  - name: a\n    hash: ${HASH}\n    labels: {k: v}\n  - name: b\n    hash: ${HASH2}\n    permissions: ["*", "tenant.*"]\nlast: "apiKeys: x"\n`,
    `only: other\n`,
    `apiKeys:\n  - name: a\n    hash: ${HASH}\n    note: "multi\\nline"\n    weird: "- not a list"\n`,
    `apiKeys:\n  - name: "123"\n    enabled: false\n    permissions: ["a:*", "*"]\n    hash: ${HASH}\n    createdAt: 2026-11-29\n  - hash: ${HASH2}\n    name: "true"\n    permissions: []\n`,
    `apiKeys:\n  - name: q\n    hash: ${HASH}\n    createdAt: "say \\"hi\\" \\\\ é"\n`,
  ])('writes exactly what one dump of the whole document would: %j', (text) => {
    const doc = parseSecurityFile(text);
    const rendered = renderSecurityFile(doc);
    expect(rendered).toBe(wholeDump(doc));
    expect(renderSecurityFile(doc)).toBe(rendered);
  });

  it('reuses what it rendered before only where the entries are still the same', () => {
    const hash = (i: number) => i.toString(16).padStart(64, '0');
    const key = (i: number, enabled = true) => ({
      name: `key-${i}`,
      enabled,
      permissions: ['read'],
      hash: hash(i),
    });
    let entries = Array.from({ length: 700 }, (_v, i) => toStoredEntry(key(i)));
    const sections = parseSecurityFile('before: 1\napiKeys: []\nafter: 2\n').sections;
    const check = () => {
      const document = { sections, entries };
      // Parsed afresh, nothing of it was rendered before.
      expect(renderSecurityFile(document)).toBe(wholeDump(parseSecurityFile(wholeDump(document))));
    };
    check();
    entries = [...entries, toStoredEntry(key(700))]; // a create
    check();
    entries = entries.map((entry, i) => (i === 300 ? toStoredEntry(key(300, false)) : entry));
    check();
    entries = entries.filter((_entry, i) => i !== 10); // a deletion shifts every later entry
    check();
  });
});

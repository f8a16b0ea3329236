import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runKeys } from './support/cli';
import { handKey, TenantsFixture } from './support/tenants';

type Outcome = { code: number; stdout: string; stderr: string };

describe('`keys edit` and `keys apply` (e2e, the built command)', () => {
  let tenants: TenantsFixture;
  const admin = handKey('admin', ['*']);
  const old = handKey('old', ['tenant.apiKey:read']);
  const fresh = handKey('fresh', ['tenant.apiKey:read']);
  const keys = (args: string[], env: Record<string, string> = {}): Promise<Outcome> =>
    runKeys(tenants.root, args, env).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: Outcome) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );
  /** An editor that replaces the file it is given with `text` (and first runs `before`). */
  const editor = async (text: string, before = '') => {
    const source = join(tenants.root, 'edited.yml');
    await writeFile(source, text);
    const script = join(tenants.root, 'editor.sh');
    await writeFile(script, `#!/bin/sh\n${before}\ncat "${source}" > "$1"\n`);
    await chmod(script, 0o755);
    return { EDITOR: script };
  };
  const GIT_FILE = () => `# reviewed in PR 42\napiKeys:\n${admin.yaml}${fresh.yaml}`;

  beforeEach(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('acme', `apiKeys:\n${admin.yaml}${old.yaml}`);
  });

  afterEach(async () => {
    await tenants.remove();
  });

  it('applies a valid file as written, comments included, auditing each key it adds or removes', async () => {
    const file = join(tenants.root, 'from-git.yml');
    await writeFile(file, GIT_FILE());
    expect(await keys(['apply', 'acme', file])).toMatchObject({ code: 0 });
    expect(await tenants.read('acme')).toBe(GIT_FILE());
    const audit = (await readFile(tenants.file('acme', 'audit.log'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { action: string; key: string; actor: string });
    expect(audit.map((e) => [e.action, e.key, e.actor])).toEqual([
      ['create', 'fresh', 'cli:operator'],
      ['delete', 'old', 'cli:operator'],
    ]);
    expect(await keys(['audit', 'verify', 'acme'])).toMatchObject({ code: 0 });
  });

  it('refuses an invalid file with its line and reason, and installs nothing', async () => {
    const before = await tenants.read('acme');
    const file = join(tenants.root, 'broken.yml');
    await writeFile(file, `apiKeys:\n  - name: x\n    hash: nothex\n`);
    const outcome = await keys(['apply', 'acme', file]);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/line 2: apiKeys\[0\]\.hash/);
    expect(await tenants.read('acme')).toBe(before);
  });

  it('installs what the editor saved, once it is valid', async () => {
    const outcome = await keys(['edit', 'acme'], await editor(GIT_FILE()));
    expect(outcome).toMatchObject({ code: 0, stdout: expect.stringMatching(/installed/) });
    expect(await tenants.read('acme')).toBe(GIT_FILE());
  });

  it('refuses an invalid save without a terminal: exit 1, nothing installed', async () => {
    const before = await tenants.read('acme');
    const outcome = await keys(['edit', 'acme'], await editor('apiKeys: [unclosed\n'));
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/invalid: line \d+/);
    expect(await tenants.read('acme')).toBe(before);
  });

  it('refuses to install over a change made while the editor was open', async () => {
    const meanwhile = `apiKeys:\n${admin.yaml}`;
    const env = await editor(GIT_FILE(), `printf '%s' '${meanwhile}' > '${tenants.file('acme')}'`);
    const outcome = await keys(['edit', 'acme'], env);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/changed while you edited/);
    expect(await tenants.read('acme')).toBe(meanwhile);
  });
});

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { freePort, startNodeScript } from '../support/child-process';
import { ServerProcess } from '../support/server-process';
import { openBrowser } from './chromium';
import { handKey, TenantsFixture } from '../support/tenants';

const PROVIDER = join(__dirname, '..', 'support', 'oidc-provider.mjs');
const SCREENSHOT = join(__dirname, '..', '..', 'docs', 'swagger-signed-in.png');
const READ = 'tenant.apiKey:read';
const WRITE = 'tenant.apiKey:write';

jest.setTimeout(120_000);

/** The npm package oidc-provider in a process of its own; resolves with its issuer. */
async function startProvider(port: number, redirectUri: string): Promise<[ChildProcess, string]> {
  const args = [String(port), redirectUri, 'tenant-api-keys', 'demo'];
  const { child, match } = await startNodeScript(PROVIDER, args, /issuer (\S+)/);
  return [child, match[1]];
}

describe('Swagger UI signing in through a real OpenID provider (oidc-provider, Chromium)', () => {
  let tenants: TenantsFixture;
  let server: ServerProcess;
  let provider: ChildProcess;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const existing = handKey('existing', ['*']);
  const violations: string[] = [];

  beforeAll(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('demo', `apiKeys:\n${existing.yaml}`);
    const [servicePort, providerPort] = [await freePort(), await freePort()];
    origin = `http://127.0.0.1:${servicePort}`;
    let issuer: string;
    [provider, issuer] = await startProvider(providerPort, `${origin}/docs/oauth2-redirect.html`);
    server = await ServerProcess.start({
      TENANTS_DIR: tenants.root,
      PORT: String(servicePort),
      AUTH_JWKS_URI: `${issuer}/jwks`,
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: 'tenant-api-keys',
      OAUTH2_AUTHORIZATION_URL: `${issuer}/auth`,
      OAUTH2_TOKEN_URL: `${issuer}/token`,
      SWAGGER_OAUTH2_CLIENT_ID: 'swagger-ui',
    });
    ({ browser, page } = await openBrowser(violations, 20_000));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (provider && provider.exitCode === null) {
      provider.kill('SIGTERM');
      await once(provider, 'exit');
    }
    await tenants?.remove();
  });

  const openDialog = async (): Promise<Locator> => {
    const dialog = page.locator('.dialog-ux .modal-ux');
    if (!(await dialog.isVisible())) await page.locator('.auth-wrapper > .btn.authorize').click();
    await dialog.waitFor();
    return dialog;
  };

  /** Signs in through the provider's own login and consent pages, in the popup Swagger UI opens. */
  const signIn = async (flow: Locator, scopes: string[]) => {
    for (const box of await flow.locator('.scopes input[type="checkbox"]').all()) {
      const wanted = scopes.includes((await box.getAttribute('data-value')) ?? '');
      const label = flow.locator(`label[for="${await box.getAttribute('id')}"]`);
      if ((await box.isChecked()) !== wanted) await label.click();
    }
    const popup = page.waitForEvent('popup');
    await flow.locator('button.authorize').click();
    const window = await popup;
    while (!window.isClosed()) {
      const step = await Promise.race([
        window
          .locator('input[name="login"]')
          .waitFor()
          .then(() => 'login' as const),
        window
          .locator('button', { hasText: 'Continue' })
          .waitFor()
          .then(() => 'consent' as const),
        window.waitForEvent('close').then(() => 'closed' as const),
      ]).catch(() => 'closed' as const);
      if (step === 'login') {
        await window.fill('input[name="login"]', 'alice');
        await window.fill('input[name="password"]', 'any');
        await window.click('button[type="submit"]');
        await window.waitForLoadState();
      } else if (step === 'consent') {
        await window.click('button[type="submit"]');
        await window.waitForLoadState().catch(() => undefined);
      }
    }
  };

  const execute = async (operation: string, fill: (op: Locator) => Promise<void>) => {
    const op = page.locator(`#operations-ApiKeys-ApiKeysController_${operation}`);
    if (!(await op.locator('.opblock-body').isVisible()))
      await op.locator('.opblock-summary').click();
    const tryIt = op.getByRole('button', { name: 'Try it out' });
    if (await tryIt.isVisible()) await tryIt.click();
    await op.locator('input[placeholder="tenantId"]').fill('demo');
    await fill(op);
    await op.getByRole('button', { name: 'Execute' }).click();
    const live = op.locator('.live-responses-table');
    await live.locator('.response-col_status').first().waitFor();
    return live;
  };

  it('signs in at /docs (no slash) with the code flow and PKCE, then lists and creates keys', async () => {
    await page.goto(`${origin}/docs`);
    expect(page.url()).toBe(`${origin}/docs/`);
    const dialog = await openDialog();
    const code = dialog.locator('.auth-container', { hasText: 'authorizationCode with PKCE' });
    expect(await code.locator('input[data-name="clientId"]').inputValue()).toBe('swagger-ui');
    await signIn(code, [READ, WRITE]);
    await code.getByText('Authorized').waitFor();
    await dialog.screenshot({ path: SCREENSHOT });
    await dialog.locator('.close-modal').click();

    const listed = await execute('list', () => Promise.resolve());
    await listed.locator('.response-col_status', { hasText: '200' }).waitFor();
    expect(await listed.innerText()).toContain('existing');

    const created = await execute('create', async (op) => {
      await op.locator('textarea.body-param__text').fill('{ "name": "from-swagger-ui" }');
    });
    await created.locator('.response-col_status', { hasText: '201' }).waitFor();
    expect(await created.innerText()).toMatch(/tak_[0-9A-Za-z]{49}/);
    expect(await tenants.read('demo')).toContain('from-swagger-ui');
    expect(violations).toEqual([]);
  });

  it('signs in again with the read scope only, and sees a create refused with 403 insufficient_scope', async () => {
    const dialog = await openDialog();
    const code = dialog.locator('.auth-container', { hasText: 'authorizationCode with PKCE' });
    await code.locator('button', { hasText: 'Logout' }).click();
    await signIn(code, [READ]);
    await code.getByText('Authorized').waitFor();
    await dialog.locator('.close-modal').click();

    const refused = await execute('create', async (op) => {
      await op.locator('textarea.body-param__text').fill('{ "name": "read-only-attempt" }');
    });
    await refused.locator('.response-col_status', { hasText: '403' }).waitFor();
    expect(await refused.innerText()).toContain('insufficient_scope');
    expect(await tenants.read('demo')).not.toContain('read-only-attempt');
  });

  it('offers the implicit flow too, which this provider refuses, as RFC 9700 advises', async () => {
    const dialog = await openDialog();
    const implicit = dialog.locator('.auth-container', { hasText: 'Flow: implicit' });
    const logout = implicit.locator('button', { hasText: 'Logout' });
    if (await logout.isVisible()) await logout.click();
    await implicit.locator('button.authorize').click();
    // The provider redirects back with an OAuth error, which Swagger UI shows as an auth error.
    await implicit.getByText(/unsupported_response_type/).waitFor();
    await dialog.locator('.close-modal').click();
  });
});

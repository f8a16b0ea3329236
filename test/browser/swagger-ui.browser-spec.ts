import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ServerProcess } from '../support/server-process';
import { openBrowser } from './chromium';
import { handKey, TenantsFixture } from '../support/tenants';

const SCREENSHOT = join(__dirname, '..', '..', 'docs', 'swagger-authorize.png');

jest.setTimeout(90_000);

describe('Swagger UI in a real browser', () => {
  let tenants: TenantsFixture;
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  const admin = handKey('browser-admin', ['*']);
  const violations: string[] = [];

  beforeAll(async () => {
    tenants = await TenantsFixture.create();
    await tenants.addTenant('demo', `apiKeys:\n${admin.yaml}`);
    server = await ServerProcess.start({
      TENANTS_DIR: tenants.root,
      OAUTH2_AUTHORIZATION_URL: 'http://localhost:8080/realms/tenants/protocol/openid-connect/auth',
      SWAGGER_OAUTH2_CLIENT_ID: 'swagger-ui',
    });
    ({ browser, page } = await openBrowser(violations, 15_000));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await tenants?.remove();
  });

  it('offers the implicit flow with both scopes and the API key, and lists keys with a real key', async () => {
    await page.goto(`${server.url}/docs`);
    await page.locator('.auth-wrapper .authorize').click();
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.waitFor();

    const oauth = dialog.locator('.auth-container', { hasText: 'oauth2' });
    await expectText(oauth, 'Flow: implicit');
    await expectText(oauth, 'tenant.apiKey:read');
    await expectText(oauth, 'tenant.apiKey:write');
    expect(await oauth.locator('input[data-name="clientId"]').inputValue()).toBe('swagger-ui');

    const apiKey = dialog.locator('.auth-container', { hasText: 'X-API-Key' });
    const keyInput = apiKey.locator('input[type="text"], input[type="password"]').first();
    await keyInput.waitFor();
    // The dialog scrolls within a fixed height; let it grow so the screenshot shows all of it.
    await page.addStyleTag({
      content: '.swagger-ui .modal-ux-content { max-height: none !important; }',
    });
    await dialog.screenshot({ path: SCREENSHOT });

    await keyInput.fill(admin.token);
    await apiKey.locator('button[type="submit"]').click();
    await apiKey.locator('button', { hasText: 'Logout' }).waitFor();
    await dialog.locator('.close-modal').click();

    const list = page.locator('#operations-ApiKeys-ApiKeysController_list');
    await list.locator('.opblock-summary').click();
    await list.getByRole('button', { name: 'Try it out' }).click();
    await list.locator('input[placeholder="tenantId"]').fill('demo');
    await list.getByRole('button', { name: 'Execute' }).click();

    const live = list.locator('.live-responses-table');
    await live.locator('.response-col_status', { hasText: '200' }).waitFor();
    await expectText(live, 'browser-admin');
    expect(violations).toEqual([]);
  });

  it('loads the OAuth2 redirect page without a content-security-policy violation', async () => {
    await page.goto(`${server.url}/docs/oauth2-redirect.html`);
    await page.waitForLoadState('load');
    expect(violations).toEqual([]);
  });
});

async function expectText(locator: ReturnType<Page['locator']>, text: string): Promise<void> {
  expect(await locator.innerText()).toContain(text);
}

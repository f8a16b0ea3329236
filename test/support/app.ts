import type { INestApplication } from '@nestjs/common';
import type { App } from 'supertest/types';
import { createApp } from '../../src/app.setup';

/** The real application, as main.ts builds it, over the given environment. */
export async function startApp(
  env: Record<string, string | undefined>,
): Promise<INestApplication<App>> {
  const saved = { ...process.env };
  Object.assign(process.env, { LOG_LEVEL: 'silent' }, env);
  for (const [name, value] of Object.entries(env))
    if (value === undefined) delete process.env[name];
  try {
    const app = await createApp();
    await app.init();
    return app as INestApplication<App>;
  } finally {
    process.env = saved;
  }
}

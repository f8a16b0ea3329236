import 'reflect-metadata';
import type { ConfigType } from '@nestjs/config';
import { Logger } from '@nestjs/common';
import { createApp } from './app.setup';
import { appConfig } from './config/app.config';
import { assertValidConfiguration } from './config/config.module';
import { ConfigError } from './config/environment';

async function bootstrap(): Promise<void> {
  try {
    assertValidConfiguration();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`tenant-api-keys: invalid configuration: ${error.message}\n`);
    process.exit(1);
  }
  const app = await createApp();
  const { host, port, tenantsDir } = app.get<ConfigType<typeof appConfig>>(appConfig.KEY);
  await app.listen(port, host);
  new Logger('Bootstrap').log(`serving ${tenantsDir} on ${await app.getUrl()}`);
}

void bootstrap();

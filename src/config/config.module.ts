import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { appConfig } from './app.config';
import { authConfig } from './auth.config';
import { leaksConfig } from './leaks.config';
import { webhooksConfig } from './webhooks.config';
import { storageConfig } from './storage.config';

/** Every configuration namespace; `assertValidConfiguration` runs them all before the app starts. */
export const CONFIG_NAMESPACES = [
  appConfig,
  authConfig,
  storageConfig,
  leaksConfig,
  webhooksConfig,
];

/** Reads each namespace once, so a bad variable stops start-up with its one-line ConfigError. */
export function assertValidConfiguration(): void {
  for (const load of CONFIG_NAMESPACES) load();
}

@Module({
  imports: [ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: CONFIG_NAMESPACES })],
})
export class AppConfigModule {}

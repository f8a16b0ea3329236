import { registerAs } from '@nestjs/config';
import { Webhook } from 'standardwebhooks';
import { ConfigError, Environment } from './environment';

/** Where key events go (Standard Webhooks), if anywhere. */
export const webhooksConfig = registerAs('webhooks', () => {
  const env = new Environment(process.env);
  const url = env.url('WEBHOOK_URL');
  const secret = env.optional('WEBHOOK_SECRET');
  if (url && !secret) {
    throw new ConfigError('WEBHOOK_SECRET is required with WEBHOOK_URL (whsec_ and base64)');
  }
  if (secret) {
    try {
      new Webhook(secret);
    } catch {
      throw new ConfigError('WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ and base64');
    }
  }
  return { url, secret };
});

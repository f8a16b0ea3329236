import { registerAs } from '@nestjs/config';
import { Environment } from './environment';

/** GitHub's public keys for secret scanning alerts (the partner program's documented URL). */
export const GITHUB_SECRET_SCANNING_KEYS_URL =
  'https://api.github.com/meta/public_keys/secret_scanning';

export const LEAKED_KEY_ACTIONS = ['disable', 'report'] as const;

/** What happens when a secret scanner reports one of our tokens in public. */
export const leaksConfig = registerAs('leaks', () => {
  const env = new Environment(process.env);
  return {
    /** Where the keys that sign GitHub's reports are published. */
    signingKeysUrl: env.url('SECRET_SCANNING_KEYS_URL') ?? GITHUB_SECRET_SCANNING_KEYS_URL,
    /** `disable` the key (the default), or only `report` it (leakedAt, the audit line). */
    action: env.oneOf('LEAKED_KEY_ACTION', 'disable', LEAKED_KEY_ACTIONS),
  };
});

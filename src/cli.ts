import 'reflect-metadata';
import { type DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { ApiKeysService } from './api-keys/api-keys.service';
import { AuditModule } from './audit/audit.module';
import { AuditService } from './audit/audit.service';
import { CreateApiKeyDto } from './api-keys/dto/create-api-key.dto';
import { hintOf } from './api-keys/key-lifecycle';
import { ValidationProblemException } from './common/validation.pipe';
import { type LeakedToken, LeakResponse } from './leaks/leak-response.service';
import { reportedTokens } from './leaks/secret-scanning.dto';
import { TenantFileInvalidError } from './storage/storage.errors';
import { OPERATOR } from './auth/principal';
import { applyFile, editInEditor } from './cli/hand-edits';
import { MetricsModule } from './common/metrics';
import { ClockModule } from './common/clock';
import { StorageModule } from './storage/storage.module';
import { AppConfigModule } from './config/config.module';
import { editorCommand } from './config/editor';
import { storageConfig } from './config/storage.config';

const USAGE = `usage: npm run keys -- <command>

  create <tenant> <name> [--permissions <p1,p2|'*'>] [--disabled] [--expires <instant>]
         [--owner <id>] [--rate-limit <limit>/<seconds>] [--credits <n>]
         [--refill <amount>/<seconds>] [--allowed-ips <ip,cidr,...>] [--meta <json>]
                         creates a key and prints its token, once
  list <tenant>          lists the tenant's keys
  delete <tenant> <name> deletes a key
  check <tenant>         checks the tenant's security.yml: line, column and reason
                         of what is wrong (exit 1 if it is invalid)
  edit <tenant>          edits security.yml safely: $VISUAL or $EDITOR on a copy,
                         validated on save, installed under the lock (like visudo)
  apply <tenant> <file>  validates <file> (e.g. from Git), then installs it under the lock
  audit verify <tenant>  checks the audit trail's hash chain (exit 1 if broken)
  tenant create <tenant> makes the tenant exist (a folder, or a row with postgres)
  import <tenant> <file> loads a security.yml's keys into the tenant (created when
                         missing); all or nothing, nothing if a name is taken
  export <tenant>        prints the tenant's keys as a security.yml, credits as
                         they stand now
  leaked <token|file> [--url <url>] [--source <scanner>]
                         a token found in public (or a file of them: one per line,
                         or a JSON array of { token, url?, source? }): its key, in
                         any tenant, is handled as LEAKED_KEY_ACTION says

STORAGE (yaml or postgres) and TENANTS_DIR or DATABASE_URL come from the environment.`;

/** The CLI needs the keys, their storage and the configuration, not the HTTP server. */
@Module({})
class CliModule {
  static register(): DynamicModule {
    return {
      module: CliModule,
      imports: [
        AppConfigModule,
        ClockModule,
        MetricsModule,
        StorageModule.forBackend(storageConfig().backend),
        ApiKeysModule,
        AuditModule,
      ],
      providers: [LeakResponse],
    };
  }
}

class UsageError extends Error {}

/**
 * The tokens `keys leaked` was given: one, or a file of them (a JSON array of `{ token, url?,
 * source? }`, as scanners report them, or one token per line).
 */
async function leakedTokensOf(argument: string, options: CliOptions): Promise<LeakedToken[]> {
  const text = await readFile(argument, 'utf8').catch(() => undefined);
  const found = { url: options.url, source: options.source ?? 'cli' };
  if (text === undefined) return [{ token: argument, ...found }];
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) {
      return reportedTokens(parsed).map((report) => ({
        ...report,
        url: report.url ?? found.url,
        source: report.source ?? found.source,
      }));
    }
  } catch (error) {
    if (error instanceof ValidationProblemException) throw new UsageError(error.message);
  }
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((token) => ({ token, ...found }));
}

/** The operator at the shell, recorded as such in the audit trail. */
const OPERATOR_CALLER = { principal: OPERATOR, requestId: `cli-${randomUUID()}` };

/** `<a>/<b>` as two whole numbers (`100/60`), for `--rate-limit` and `--refill`. */
function pairOf(option: string, value: string): [number, number] {
  const match = /^(\d+)\/(\d+)$/.exec(value);
  if (!match) throw new UsageError(`--${option} takes <number>/<seconds>, e.g. 100/60`);
  return [Number(match[1]), Number(match[2])];
}

/** The policy fields `keys create` sets from its options. */
function policiesOf(options: CliOptions): Record<string, unknown> {
  const policies: Record<string, unknown> = {};
  if (options.owner !== undefined) policies.owner = options.owner;
  if (options['rate-limit'] !== undefined) {
    const [limit, periodSeconds] = pairOf('rate-limit', options['rate-limit']);
    policies.rateLimit = { limit, periodSeconds };
  }
  if (options.refill !== undefined && options.credits === undefined) {
    throw new UsageError('--refill needs --credits');
  }
  if (options.credits !== undefined) {
    if (!/^\d+$/.test(options.credits)) throw new UsageError('--credits takes a whole number');
    const [amount, intervalSeconds] =
      options.refill === undefined ? [] : pairOf('refill', options.refill);
    policies.credits = {
      remaining: Number(options.credits),
      ...(amount !== undefined && { refill: { amount, intervalSeconds } }),
    };
  }
  if (options['allowed-ips'] !== undefined) {
    policies.allowedIps = options['allowed-ips'].split(/[\s,]+/).filter(Boolean);
  }
  if (options.meta !== undefined) {
    try {
      policies.meta = JSON.parse(options.meta);
    } catch {
      throw new UsageError('--meta takes a JSON object, e.g. \'{"plan":"pro"}\'');
    }
  }
  return policies;
}

async function createKey(service: ApiKeysService, args: string[], options: CliOptions) {
  const [tenant, name] = args;
  if (!tenant || !name) throw new UsageError('create needs a tenant and a name');
  const request = plainToInstance(CreateApiKeyDto, {
    name,
    enabled: !options.disabled,
    permissions: (options.permissions ?? '').split(/[\s,]+/).filter(Boolean),
    expiresAt: options.expires,
    ...policiesOf(options),
  });
  const errors = await validate(request);
  if (errors.length > 0) {
    throw new UsageError(errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; '));
  }
  const {
    view: { key },
    token,
  } = await service.create(tenant, request, OPERATOR_CALLER);
  process.stdout.write(
    `created API key "${key.name}" in tenant "${tenant}" with permissions [${key.permissions.join(', ')}]\n` +
      `token (shown once, store it now):\n${token}\n`,
  );
}

interface CliOptions {
  permissions?: string;
  disabled?: boolean;
  expires?: string;
  owner?: string;
  'rate-limit'?: string;
  credits?: string;
  refill?: string;
  'allowed-ips'?: string;
  meta?: string;
  url?: string;
  source?: string;
}

async function run(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      permissions: { type: 'string', short: 'p' },
      disabled: { type: 'boolean' },
      expires: { type: 'string' },
      owner: { type: 'string' },
      'rate-limit': { type: 'string' },
      credits: { type: 'string' },
      refill: { type: 'string' },
      'allowed-ips': { type: 'string' },
      meta: { type: 'string' },
      url: { type: 'string' },
      source: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...args] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const app = await NestFactory.createApplicationContext(CliModule.register(), {
    logger: ['error'],
  });
  try {
    const service = app.get(ApiKeysService);
    switch (command) {
      case 'create':
        await createKey(service, args, values);
        break;
      case 'list': {
        if (!args[0]) throw new UsageError('list needs a tenant');
        for (const { key, lastUsedAt } of await service.list(args[0])) {
          const state = key.enabled ? 'enabled ' : 'disabled';
          const expiry = key.expiresAt ? `expires ${key.expiresAt}` : 'no expiry';
          const used = lastUsedAt ? `last used ${lastUsedAt}` : 'never used';
          process.stdout.write(
            `${key.name}\t${state}\t${expiry}\t${used}\t${key.permissions.join(' ')}\n`,
          );
        }
        break;
      }
      case 'delete':
        if (!args[0] || !args[1]) throw new UsageError('delete needs a tenant and a name');
        await service.delete(args[0], args[1], OPERATOR_CALLER);
        process.stdout.write(`deleted API key "${args[1]}" from tenant "${args[0]}"\n`);
        break;
      case 'tenant':
        if (args[0] !== 'create' || !args[1]) throw new UsageError('tenant needs: create <tenant>');
        await service.createTenant(args[1]);
        process.stdout.write(`created tenant "${args[1]}"\n`);
        break;
      case 'import': {
        if (!args[0] || !args[1]) throw new UsageError('import needs a tenant and a file');
        const count = await service.importKeys(
          args[0],
          await readFile(args[1], 'utf8'),
          OPERATOR_CALLER,
        );
        process.stdout.write(`imported ${count} keys into tenant "${args[0]}"\n`);
        break;
      }
      case 'export':
        if (!args[0]) throw new UsageError('export needs a tenant');
        process.stdout.write(await service.exportKeys(args[0]));
        break;
      case 'apply':
        if (!args[0] || !args[1]) throw new UsageError('apply needs a tenant and a file');
        process.stdout.write(`${await applyFile(service, args[0], args[1], OPERATOR_CALLER)}\n`);
        break;
      case 'edit': {
        if (!args[0]) throw new UsageError('edit needs a tenant');
        const edited = await editInEditor(service, args[0], OPERATOR_CALLER, editorCommand());
        process.stdout.write(`${edited}\n`);
        break;
      }
      case 'leaked': {
        if (!args[0]) throw new UsageError('leaked needs a token or a file of tokens');
        const reports = await leakedTokensOf(args[0], values);
        const verdicts = await app.get(LeakResponse).respond(reports, OPERATOR_CALLER);
        for (const [i, verdict] of verdicts.entries()) {
          const which = `${hintOf(reports[i].token)} (sha256 ${verdict.tokenHash.slice(0, 12)}…)`;
          if (verdict.keys.length === 0) {
            process.stdout.write(`${which}: not a token of any key (false positive)\n`);
          }
          for (const key of verdict.keys) {
            const state = key.enabled ? 'enabled' : 'disabled';
            const what = key.changed ? 'handled now' : 'already handled';
            process.stdout.write(`${which}: ${key.tenantId}/${key.name}, ${what}, ${state}\n`);
          }
        }
        break;
      }
      case 'check': {
        if (!args[0]) throw new UsageError('check needs a tenant');
        try {
          const keys = await service.list(args[0]);
          process.stdout.write(`${args[0]}/security.yml is valid: ${keys.length} keys\n`);
        } catch (error) {
          if (!(error instanceof TenantFileInvalidError)) throw error;
          process.stdout.write(`${args[0]}/security.yml is INVALID: ${error.problem}\n`);
          process.exitCode = 1;
        }
        break;
      }
      case 'audit': {
        if (args[0] !== 'verify' || !args[1]) throw new UsageError('audit needs: verify <tenant>');
        const verdict = await app.get(AuditService).verify(args[1]);
        if (verdict.intact) {
          process.stdout.write(
            `audit log of "${args[1]}": ${verdict.entries} entries, chain intact\n`,
          );
        } else {
          process.stdout.write(
            `audit log of "${args[1]}" is BROKEN at line ${verdict.line}: ${verdict.problem}\n`,
          );
          process.exitCode = 1;
        }
        break;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } finally {
    await app.close();
  }
}

run(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`keys: ${message}\n${error instanceof UsageError ? `\n${USAGE}\n` : ''}`);
  process.exitCode = 1;
});

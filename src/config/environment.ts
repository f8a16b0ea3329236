import { statSync } from 'node:fs';
import { resolve } from 'node:path';

/** A configuration variable that is missing or malformed; its message is one line naming it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Typed, validated reads of environment variables. Every failure names the variable. */
export class Environment {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** The raw value, with surrounding blanks removed; blank counts as unset. */
  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  string(name: string, fallback: string): string {
    return this.optional(name) ?? fallback;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    }
    return Number(raw);
  }

  boolean(name: string): boolean {
    const raw = this.optional(name)?.toLowerCase();
    if (raw === undefined) return false;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    throw new ConfigError(`${name} must be true or false (got "${raw}")`);
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
    }
    return raw as T;
  }

  url(name: string): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigError(`${name} must be an absolute http(s) URL (got "${raw}")`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError(`${name} must be an absolute http(s) URL (got "${raw}")`);
    }
    return raw;
  }

  /** An existing directory, returned as an absolute path. */
  directory(name: string, fallback: string): string {
    const path = resolve(this.string(name, fallback));
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      throw new ConfigError(`${name} must name an existing directory (${path} does not exist)`);
    }
    if (!isDirectory) throw new ConfigError(`${name} must name a directory (${path} is not one)`);
    return path;
  }
}

import {
  ForbiddenException,
  HttpException,
  HttpStatus,
  UnauthorizedException,
} from '@nestjs/common';

/** An HTTP exception that carries response headers; ProblemDetailsFilter sends them. */
export interface WithHeaders {
  readonly headers: Readonly<Record<string, string>>;
}

/** Why a credential was refused, in a form a program can act on: the problem body's `code`. */
export const PROBLEM_CODES = [
  'NOT_FOUND',
  'DISABLED',
  'EXPIRED',
  'IP_NOT_ALLOWED',
  'INSUFFICIENT_PERMISSIONS',
  'RATE_LIMITED',
  'USAGE_EXCEEDED',
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/** The `code` an HTTP exception carries for its problem body, if any. */
export function codeOf(exception: HttpException): ProblemCode | undefined {
  return (exception as { problemCode?: ProblemCode }).problemCode;
}

export function hasHeaders(exception: unknown): exception is HttpException & WithHeaders {
  return (
    exception instanceof HttpException &&
    typeof (exception as Partial<WithHeaders>).headers === 'object'
  );
}

/** 401 with the `WWW-Authenticate` challenges a client can answer. */
export class AuthenticationRequiredException extends UnauthorizedException implements WithHeaders {
  readonly headers: Record<string, string>;

  constructor(
    detail: string,
    challenges: readonly string[],
    readonly problemCode?: ProblemCode,
  ) {
    super(detail);
    this.headers = { 'WWW-Authenticate': challenges.join(', ') };
  }
}

/** 403 for a caller without a required scope; bearers are told which (RFC 6750 §3.1). */
export class InsufficientScopeException extends ForbiddenException implements WithHeaders {
  readonly headers: Record<string, string>;
  readonly problemCode = 'INSUFFICIENT_PERMISSIONS';

  constructor(
    missing: readonly string[],
    toBearer: boolean,
    detail = `this operation requires the scope ${missing.join(' ')}`,
  ) {
    super(detail);
    this.headers = toBearer
      ? { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${missing.join(' ')}"` }
      : {};
  }
}

/** 429 for a client address past its failed-authentication limit. */
export class TooManyFailuresException extends HttpException implements WithHeaders {
  readonly headers: Record<string, string>;

  constructor(retryAfterSeconds: number) {
    super(
      `too many failed authentications from this address; retry in ${retryAfterSeconds} s`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
    this.headers = { 'Retry-After': String(retryAfterSeconds) };
  }
}

/** Any other refusal a program can act on: a status, its `code`, and the headers it carries. */
export class ProblemException extends HttpException implements WithHeaders {
  constructor(
    status: HttpStatus,
    detail: string,
    readonly problemCode: ProblemCode,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail, status);
  }
}

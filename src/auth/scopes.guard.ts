import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { InsufficientScopeException } from '../common/http-problems';
import { hasScope } from './scope-matching';
import { Public, Scopes } from './scopes.decorator';

/** Lets a request through when its principal holds every scope the route requires. */
@Injectable()
export class ScopesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride(Public, targets)) return true;
    const required = this.reflector.getAllAndOverride(Scopes, targets);
    const principal = context.switchToHttp().getRequest<Request>().principal;
    // Fail closed: a route that forgot RequireScopes is reachable by no one.
    if (!required || !principal) throw new ForbiddenException('this route declares no scope');
    const missing = required.filter((scope) => !hasScope(principal.scopes, scope));
    if (missing.length > 0) {
      throw new InsufficientScopeException(missing, principal.method === 'bearer');
    }
    return true;
  }
}

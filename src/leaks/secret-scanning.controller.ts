import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import { AuthFailureLimiter } from '../auth/auth-failure-limiter';
import type { Caller } from '../auth/principal';
import { Public } from '../auth/scopes.decorator';
import { AuthenticationRequiredException } from '../common/http-problems';
import { UnreadableBody } from '../common/json-body';
import { ProblemDto } from '../common/problem.dto';
import { GithubSigningKeys } from './github-signing-keys';
import { LeakResponse } from './leak-response.service';
import {
  GithubLeakReportDto,
  GithubLeakVerdictDto,
  reportedTokens,
  toGithubVerdict,
} from './secret-scanning.dto';

const problem = (description: string) => ({ description, type: ProblemDto });
/** The challenge of a 401 here: a report signed by a key GitHub publishes. */
const SIGNATURE_CHALLENGE = 'Signature realm="github-secret-scanning"';

/** A bad or missing signature: nothing was done. Counted as a failed authentication. */
class BadSignatureError extends Error {}

/**
 * GitHub's secret scanning partner endpoint: GitHub POSTs the tokens of our format it finds in
 * public, signed with one of its published keys; each is handled as LEAKED_KEY_ACTION says.
 */
@ApiTags('SecretScanning')
@Controller('secret-scanning')
export class SecretScanningController {
  constructor(
    private readonly keys: GithubSigningKeys,
    private readonly leaks: LeakResponse,
    private readonly failures: AuthFailureLimiter,
  ) {}

  @Post('github')
  @HttpCode(200)
  @Public()
  @ApiOperation({
    summary: 'Receive leaked tokens from GitHub secret scanning',
    description:
      "GitHub's secret scanning partner endpoint. The body is GitHub's array of matches, signed with ECDSA (SHA-256) by the key named in Github-Public-Key-Identifier, from those published at SECRET_SCANNING_KEYS_URL. Each token is looked up by its hash in every tenant; the key it belongs to is disabled (LEAKED_KEY_ACTION=disable, the default; a token a rotation replaced loses its grace instead) or only marked (report), and recorded with leakedAt and a `leak` audit line with the report's url and source. The same report again changes nothing more. A bad or missing signature: 401, nothing done.",
  })
  @ApiHeader({
    name: 'Github-Public-Key-Identifier',
    required: true,
    description: 'Which published key signed the body.',
  })
  @ApiHeader({
    name: 'Github-Public-Key-Signature',
    required: true,
    description: 'Base64 of the DER ECDSA signature of the body.',
  })
  @ApiBody({ type: [GithubLeakReportDto] })
  @ApiOkResponse({
    description:
      'One verdict per match, in its order: true_positive for a token of one of our keys.',
    type: [GithubLeakVerdictDto],
  })
  @ApiBadRequestResponse(problem('The body is not an array of matches with a token each.'))
  @ApiUnauthorizedResponse(problem('No signature, or one that does not verify: nothing was done.'))
  @ApiTooManyRequestsResponse(
    problem('Too many bad signatures from this address; see Retry-After.'),
  )
  @ApiServiceUnavailableResponse(
    problem('The signing keys, or the key store, cannot be reached; see Retry-After.'),
  )
  async github(@Req() request: Request): Promise<GithubLeakVerdictDto[]> {
    const client = request.ip ?? 'unknown';
    try {
      await this.failures.check(
        client,
        () => this.verifySignature(request),
        (error) => error instanceof BadSignatureError,
      );
    } catch (error) {
      if (!(error instanceof BadSignatureError)) throw error;
      throw new AuthenticationRequiredException(error.message, [SIGNATURE_CHALLENGE]);
    }
    if (request.body instanceof UnreadableBody) throw request.body.error;
    const caller: Caller = {
      principal: { method: 'scanner', subject: 'github', scopes: [], tenants: ['*'] },
      requestId: typeof request.id === 'string' ? request.id : '',
    };
    const verdicts = await this.leaks.respond(reportedTokens(request.body), caller);
    return verdicts.map(toGithubVerdict);
  }

  private async verifySignature(request: Request): Promise<void> {
    const identifier = request.headers['github-public-key-identifier'];
    const signature = request.headers['github-public-key-signature'];
    if (typeof identifier !== 'string' || typeof signature !== 'string' || !request.rawBody) {
      throw new BadSignatureError(
        'a signed report is required: Github-Public-Key-Identifier, Github-Public-Key-Signature and a JSON body',
      );
    }
    if (!(await this.keys.verifies(identifier, signature, request.rawBody))) {
      throw new BadSignatureError('the report is not signed by a key GitHub publishes');
    }
  }
}

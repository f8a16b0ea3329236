import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { GithubSigningKeys } from './github-signing-keys';
import { LeakResponse } from './leak-response.service';
import { SecretScanningController } from './secret-scanning.controller';

/** Leaked tokens revoked by themselves: GitHub's secret scanning endpoint and `keys leaked`. */
@Module({
  imports: [ApiKeysModule],
  controllers: [SecretScanningController],
  providers: [GithubSigningKeys, LeakResponse],
  exports: [LeakResponse],
})
export class LeaksModule {}

/**
 * `botflow pay <charge-id>`: settles a charge on the sandbox gateway over its HTTP API (paid by
 * default, or expired/failed), which then posts its signed webhook to botflow like a real gateway.
 */
import { BotflowError } from '../../errors.ts';
import type { CliIo } from '../io.ts';

/** Settles one sandbox charge. */
export async function runPay(
  io: CliIo,
  chargeId: string | undefined,
  options: { gateway: string; status: string; apiKey: string },
): Promise<number> {
  if (chargeId === undefined || !/^[A-Za-z0-9_-]{1,100}$/.test(chargeId))
    throw new BotflowError('BAD_REQUEST', 'pay needs a charge id: botflow pay <charge-id> --gateway URL');
  const action = { paid: 'pay', expired: 'expire', failed: 'fail' }[options.status];
  if (action === undefined) throw new BotflowError('BAD_REQUEST', '--status must be paid, expired or failed');
  if (!URL.canParse(options.gateway))
    throw new BotflowError('BAD_REQUEST', '--gateway (or SANDBOX_GATEWAY_URL) must be the sandbox base URL');
  let response: Response;
  try {
    response = await fetch(`${options.gateway.replace(/\/+$/, '')}/v1/charges/${chargeId}/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.apiKey}` },
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    throw new BotflowError('UPSTREAM_FAILED', 'the sandbox gateway did not answer');
  }
  if (response.status === 404) throw new BotflowError('NOT_FOUND', `no charge ${chargeId}`);
  if (response.status === 409) throw new BotflowError('CONFLICT', `charge ${chargeId} is not pending`);
  if (!response.ok) throw new BotflowError('UPSTREAM_REJECTED', `the sandbox answered ${response.status}`);
  io.stdout.write(`charge ${chargeId}: ${options.status}\n`);
  return 0;
}

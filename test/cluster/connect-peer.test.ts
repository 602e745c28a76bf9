import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { connectPeer } from '../../src/cluster/connect-peer.ts';
import type { RoutedInput } from '../../src/cluster/messages.ts';
import { servePeerInputs } from '../../src/cluster/serve-peer-inputs.ts';
import { BotflowError, toBotflowError } from '../../src/errors.ts';

const input = (text: string): RoutedInput => ({ botId: 'b', userId: '1', event: { type: 'text', text } });
const toWire = (error: unknown) => {
  const coded = toBotflowError(error);
  return { code: coded.code, message: coded.code === 'INTERNAL' ? 'internal error' : coded.message };
};

describe('the direct channel between cluster workers', () => {
  it('carries inputs to the owner and its answers back, in order, with coded errors', async () => {
    const seen: string[] = [];
    const server = await servePeerInputs({
      toWire,
      async run(routed) {
        const text = (routed.event as { text: string }).text;
        seen.push(text);
        if (text === 'moved') throw new BotflowError('STALE_OWNER', 'not mine');
        if (text === 'bug') throw new Error('secret detail');
        return { echo: text };
      },
    });
    assert.equal(statSync(server.path).mode & 0o777, 0o600, 'only this user may connect');
    const link = connectPeer(server.path, 5000);
    try {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => link.send(input(`m${i}`))));
      assert.deepEqual(
        answers,
        Array.from({ length: 100 }, (_, i) => ({ echo: `m${i}` })),
      );
      assert.deepEqual(
        seen,
        Array.from({ length: 100 }, (_, i) => `m${i}`),
        'run in the order sent',
      );
      await assert.rejects(link.send(input('moved')), { code: 'STALE_OWNER', retryable: true });
      await assert.rejects(link.send(input('bug')), { code: 'INTERNAL', message: 'internal error' });
      assert.equal(link.open, true);
    } finally {
      link.close();
      await server.close();
    }
  });

  it('fails the waiting inputs with a retryable STALE_OWNER when the owner goes away, or never answers', async () => {
    const never = new Promise<never>(() => {});
    const server = await servePeerInputs({ toWire, run: () => never });
    const link = connectPeer(server.path, 5000);
    const waiting = assert.rejects(link.send(input('a')), { code: 'STALE_OWNER', retryable: true });
    await new Promise((r) => setTimeout(r, 50));
    await server.close();
    await waiting;
    assert.equal(link.open, false);
    await assert.rejects(link.send(input('b')), { code: 'STALE_OWNER' });

    const nobody = connectPeer(server.path, 5000);
    await assert.rejects(nobody.send(input('c')), { code: 'STALE_OWNER' }, 'nobody listens there any more');

    const slow = await servePeerInputs({ toWire, run: () => never });
    const impatient = connectPeer(slow.path, 100);
    try {
      await assert.rejects(impatient.send(input('d')), { code: 'STALE_OWNER', message: /in time/ });
    } finally {
      impatient.close();
      await slow.close();
    }
  });
});

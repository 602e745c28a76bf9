import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { advanceConversation } from '../../src/flow/advance-conversation.ts';
import { BotflowError } from '../../src/errors.ts';
import { createFlowCompiler } from '../../src/runtime/compile-pool.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));

describe('flow compiler pool', () => {
  const compiler = createFlowCompiler();
  after(() => compiler.close());

  it('compiles in a worker thread into a machine that runs, cached per version', async () => {
    const a = await compiler.compile('vip', 3, vip);
    const b = await compiler.compile('vip', 3, vip);
    assert.equal(a, b, 'same version, same compiled object');
    assert.equal(a.version, 3);
    const r = advanceConversation(a, null, { type: 'start' });
    assert.equal(r.currentStep, 'ask_email');
  });

  it('refuses an invalid flow with INVALID_FLOW and does not cache the failure', async () => {
    const bad = { ...vip, flow_start_step_id: 'nowhere' };
    await assert.rejects(compiler.compile('bad', 1, { ...bad, flow_steps: 'nope' }), (e: unknown) => {
      return e instanceof BotflowError && e.code === 'INVALID_FLOW' && Array.isArray(e.details);
    });
    const fixed = await compiler.compile('bad', 1, vip);
    assert.equal(fixed.flow.id, 'vip-funnel');
  });
});

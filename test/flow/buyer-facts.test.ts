import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advanceConversation, startConversation } from '../../src/flow/advance-conversation.ts';
import { compileFlow } from '../../src/flow/compile.ts';

const flow = {
  id: 'ask-contact',
  flow_start_step_id: 'email',
  flow_steps: [
    {
      id: 'email',
      type: 'input',
      config: { text: 'E-mail?' },
      conditions: [{ type: 'text_validation', validation: 'email', target_step: 'phone' }],
    },
    {
      id: 'phone',
      type: 'input',
      config: { text: 'Telefone?' },
      conditions: [{ type: 'text_validation', validation: 'phone', target_step: 'name' }],
    },
    { id: 'name', type: 'input', config: { text: 'Nome?' }, connections: { next: 'done' } },
    { id: 'done', type: 'end', config: { text: 'Ok' } },
  ],
};

describe('buyer facts in the conversation context', () => {
  const v1 = compileFlow(flow, { version: 1 });
  const run = (texts: string[]) => {
    let snapshot = advanceConversation(v1, startConversation(v1), {
      type: 'start',
      profile: { first_name: 'Ana' },
    }).snapshot;
    for (const text of texts) snapshot = advanceConversation(v1, snapshot, { type: 'text', text }).snapshot;
    return snapshot;
  };

  it('keeps validated e-mail and phone answers (trimmed) and the profile the runtime passes on /start', () => {
    const snapshot = run(['nope', ' ana@example.com ', '11 98765-4321', 'Ana Souza']);
    assert.deepEqual(snapshot.context.buyer, {
      first_name: 'Ana',
      email: 'ana@example.com',
      phone: '11 98765-4321',
    });
  });

  it('a /start keeps them, and so does a new flow version (carried) or a snapshot that no longer resolves', () => {
    const kept = { first_name: 'Ana', email: 'ana@example.com', phone: '11 98765-4321' };
    const snapshot = run(['ana@example.com', '11 98765-4321']);
    assert.deepEqual(advanceConversation(v1, snapshot, { type: 'start' }).snapshot.context.buyer, kept);
    const v2 = compileFlow({ ...flow, flow_start_step_id: 'phone' }, { version: 2 });
    assert.deepEqual(advanceConversation(v2, null, { type: 'start' }, kept).snapshot.context.buyer, kept);
    const gone = { ...snapshot, value: 'no-such-step' };
    const restarted = advanceConversation(v1, gone, { type: 'text', text: 'x' });
    assert.equal(restarted.restarted, true);
    assert.deepEqual(restarted.snapshot.context.buyer, kept);
  });
});

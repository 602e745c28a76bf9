/**
 * The pure core's speed: compile time for 10/100/500-step flows, and steps per second through the
 * path the runtime takes per event (JSON.parse of the stored snapshot -> advanceConversation ->
 * JSON.stringify of the new one) over the VIP funnel, beside raw XState `transition()` on a trivial
 * two-state machine measured in the same run. Prints one JSON object.
 */
import { readFileSync } from 'node:fs';
import { setup, transition } from 'xstate';
import { advanceConversation, type PersistedConversation } from '../src/flow/advance-conversation.ts';
import { compileFlow } from '../src/flow/compile.ts';
import type { FlowEvent } from '../src/flow/types.ts';
import { environment, quantile, round } from './lib/stats.ts';

/** A deterministic chain: message, question, buttons ... then a payment and access. */
function chainFlow(steps: number) {
  const flowSteps: unknown[] = [];
  for (let i = 0; i < steps - 2; i++) {
    const id = `s${i}`;
    const next = i === steps - 3 ? 'pay' : `s${i + 1}`;
    if (i % 3 === 0)
      flowSteps.push({ id, type: 'message', config: { text: `m${i}` }, connections: { next } });
    else if (i % 3 === 1) {
      flowSteps.push({
        id,
        type: 'input',
        config: { text: `q${i}` },
        conditions: [
          {
            type: 'text_validation',
            validation: 'email',
            target_step: next,
            max_attempts: 3,
            fallback_step: next,
          },
        ],
      });
    } else {
      flowSteps.push({
        id,
        type: 'buttons',
        config: { text: `b${i}`, custom_buttons: [{ text: 'A', main_button_index: 0 }, { text: 'B' }] },
        conditions: [
          { type: 'button_click', button_text: 'A', target_step: next },
          { type: 'button_click', button_text: 'B', target_step: next },
        ],
      });
    }
  }
  flowSteps.push({ id: 'pay', type: 'payment', config: {}, connections: { next: 'vip' } });
  flowSteps.push({ id: 'vip', type: 'access', config: { chat_id: -100 } });
  return {
    id: `chain${steps}`,
    flow_start_step_id: 's0',
    main_buttons: [{ text: 'VIP', price: 10 }],
    flow_steps: flowSteps,
  };
}

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const compile: Record<string, { median_ms: number; p95_ms: number; runs: number }> = {};
for (const size of [10, 100, 500]) {
  const flow = chainFlow(size);
  const runs = size === 500 ? 30 : 100;
  for (let i = 0; i < 5; i++) compileFlow(flow);
  const samples = Array.from({ length: runs }, () => time(() => compileFlow(flow)));
  compile[`steps_${size}`] = {
    median_ms: round(quantile(samples, 0.5)),
    p95_ms: round(quantile(samples, 0.95)),
    runs,
  };
}

const vip = compileFlow(
  JSON.parse(readFileSync(new URL('../machines/vip-funnel.flow.json', import.meta.url), 'utf8')),
);
const funnel: FlowEvent[] = [
  { type: 'start', payload: 'a1b2c3' },
  { type: 'text', text: 'not an email' },
  { type: 'text', text: 'ana@example.com' },
  { type: 'click', step: 'offers', index: 0 },
  { type: 'payment.created', order: 'pay:1', charge_id: 'ch_1', br_code: '000201...' },
  { type: 'payment.paid', order: 'pay:1', step: 'pay' },
];

function runFunnel(): number {
  let stored: string | null = null;
  for (const event of funnel) {
    const snapshot: PersistedConversation | null =
      stored === null ? null : (JSON.parse(stored) as PersistedConversation);
    stored = JSON.stringify(advanceConversation(vip, snapshot, event).snapshot);
  }
  return funnel.length;
}

const toggle = setup({}).createMachine({
  id: 'toggle',
  initial: 'off',
  states: { off: { on: { flip: 'on' } }, on: { on: { flip: 'off' } } },
});
function runBaseline(n: number): number {
  let s = toggle.resolveState({ value: 'off' });
  for (let i = 0; i < n; i++) s = transition(toggle, s, { type: 'flip' })[0];
  return n;
}

function perSecond(fn: () => number, seconds: number): number {
  let events = 0;
  const until = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const t0 = process.hrtime.bigint();
  while (process.hrtime.bigint() < until) events += fn();
  return events / (Number(process.hrtime.bigint() - t0) / 1e9);
}

perSecond(runFunnel, 1);
perSecond(() => runBaseline(6), 1);
const ours = perSecond(runFunnel, 3);
const baseline = perSecond(() => runBaseline(6), 3);

process.stdout.write(
  `${JSON.stringify({
    ...(await environment()),
    compile,
    events_per_second: {
      botflow_step_with_json_roundtrip: Math.round(ours),
      baseline_raw_xstate_transition_toggle: Math.round(baseline),
      ratio: round(ours / baseline, 3),
    },
    us_per_event: { botflow: round(1e6 / ours, 2), baseline: round(1e6 / baseline, 2) },
  })}\n`,
);

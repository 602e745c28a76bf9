import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { getShortestPaths } from 'xstate/graph';
import { advanceConversation, type PersistedConversation } from '../../src/flow/advance-conversation.ts';
import {
  type CompiledFlow,
  compileFlow,
  type JsonStateNode,
  type JsonTransition,
} from '../../src/flow/compile.ts';
import type { FlowEvent } from '../../src/flow/types.ts';
import { validateFlow } from '../../src/flow/validate.ts';
import { waitsForInput } from '../../src/flow/graph.ts';
import { validFlowArbitrary } from './arbitraries.ts';

const RESERVED = ['@idle', '@halted', '@disabled'];
const machinesDir = new URL('../../machines/', import.meta.url);
const examples = readdirSync(machinesDir)
  .filter((f) => f.endsWith('.flow.json'))
  .map((f) => JSON.parse(readFileSync(new URL(f, machinesDir), 'utf8')));

/** Checks the Stately JSON subset: transitions are arrays of objects, targets arrays of strings, actions and guards {type, params?}. */
function checkNode(node: JsonStateNode, declared: Set<string>, machineId: string, where: string): void {
  const checkTransition = (t: JsonTransition, at: string) => {
    assert.deepEqual(
      Object.keys(t).filter((k) => !['target', 'guard', 'actions', 'reenter', 'description'].includes(k)),
      [],
      at,
    );
    if (t.target !== undefined) {
      assert.ok(Array.isArray(t.target) && t.target.every((x) => typeof x === 'string'), at);
      for (const target of t.target) {
        if (target.startsWith('#')) {
          const key = target.slice(machineId.length + 2);
          assert.ok(target.startsWith(`#${machineId}.`) && declared.has(key), `${at}: ${target} resolves`);
        }
      }
    }
    for (const a of [...(t.actions ?? []), ...(t.guard ? [t.guard] : [])]) {
      assert.equal(typeof a.type, 'string', at);
      assert.deepEqual(
        Object.keys(a).filter((k) => k !== 'type' && k !== 'params'),
        [],
        at,
      );
    }
  };
  for (const [event, list] of Object.entries({ ...node.on, ...node.after })) {
    assert.ok(Array.isArray(list), `${where} ${event}`);
    list.forEach((t, i) => checkTransition(t, `${where}.${event}[${i}]`));
  }
  (node.always ?? []).forEach((t, i) => checkTransition(t, `${where}.always[${i}]`));
  for (const [key, child] of Object.entries(node.states ?? {}))
    checkNode(child, declared, machineId, `${where}.${key}`);
}

/** Events worth trying in a snapshot: inputs, clicks of every keyboard, payment outcomes, its timers. */
function sampleEvents(
  compiled: CompiledFlow,
  snapshot: { value: unknown; context: PersistedConversation['context'] },
): FlowEvent[] {
  const events: FlowEvent[] = [
    { type: 'start' },
    { type: 'text', text: 'ana@example.com' },
    { type: 'text', text: 'x' },
    { type: 'payment.check' },
  ];
  for (const step of compiled.flow.flow_steps) {
    if (step.type === 'buttons')
      step.config.custom_buttons.forEach((_, index) => events.push({ type: 'click', step: step.id, index }));
  }
  const charge = snapshot.context.charge;
  if (charge !== null) {
    events.push(
      { type: 'payment.created', order: charge.order, charge_id: 'c', br_code: 'b' },
      { type: 'payment.paid', order: charge.order, step: charge.step },
      { type: 'payment.expired', order: charge.order, step: charge.step },
      { type: 'payment.unpaid', order: charge.order, step: charge.step },
      { type: 'payment.create_failed', order: charge.order },
    );
  }
  const key = typeof snapshot.value === 'string' ? snapshot.value : Object.keys(snapshot.value as object)[0]!;
  const node = compiled.config.states?.[key];
  const stateIds = [key, ...Object.keys(node?.states ?? {}).map((c) => `${key}.${c}`)];
  for (const id of stateIds) {
    const n = id.includes('.') ? node?.states?.[id.split('.')[1]!] : node;
    for (const delay of Object.keys(n?.after ?? {}))
      events.push({ type: `xstate.after.${delay}.${compiled.flow.id}.${id}` });
  }
  return events;
}

function topKey(value: unknown): string {
  return typeof value === 'string' ? value : Object.keys(value as object)[0]!;
}

describe('compiler properties', () => {
  it("every generated flow is valid, compiles, and is plain JSON in Stately's subset whose targets resolve", () => {
    fc.assert(
      fc.property(validFlowArbitrary(), (flow) => {
        const result = validateFlow(flow);
        assert.deepEqual(result.errors, [], JSON.stringify(flow));
        const compiled = compileFlow(flow);
        assert.deepEqual(JSON.parse(JSON.stringify(compiled.config)), compiled.config);
        const keys = Object.keys(compiled.config.states ?? {});
        assert.deepEqual(
          keys.filter((k) => !RESERVED.includes(k)).sort(),
          flow.flow_steps.map((s: { id: string }) => s.id).sort(),
        );
        checkNode(compiled.config, new Set(keys), compiled.config.id, 'root');
      }),
      { numRuns: 150 },
    );
  });

  it('xstate/graph paths visit only declared states and never end in error (generated and example flows)', () => {
    const check = (flow: unknown, mustVisitAll = false) => {
      const compiled = compileFlow(flow);
      const declared = new Set(Object.keys(compiled.config.states ?? {}));
      const options = {
        events: (s: { value: unknown; context: unknown }) => sampleEvents(compiled, s as never),
        serializeState: (s: { value: unknown; context: unknown }) =>
          JSON.stringify([s.value, (s.context as PersistedConversation['context']).charge?.status ?? null]),
        limit: 5000,
      };
      const paths = getShortestPaths(compiled.machine, options as never);
      assert.ok(paths.length > 0);
      const visited = new Set(
        paths.flatMap((p) => [topKey(p.state.value), ...p.steps.map((s) => topKey(s.state.value))]),
      );
      if (mustVisitAll) {
        // Steps that run without waiting are passed through within one event; every other step is a resting state.
        for (const step of compiled.flow.flow_steps) {
          const rests =
            waitsForInput(step) ||
            (step.delay_seconds ?? 0) > 0 ||
            step.type === 'end' ||
            step.type === 'access';
          if (rests) assert.ok(visited.has(step.id), `a path reaches ${step.id}`);
        }
      }
      for (const path of paths) {
        for (const step of path.steps) {
          assert.ok(declared.has(topKey(step.state.value)), `${topKey(step.state.value)} is declared`);
          assert.notEqual(step.state.status, 'error');
        }
      }
    };
    for (const flow of examples) check(flow, true);
    fc.assert(
      fc.property(validFlowArbitrary(12), (flow) => check(flow)),
      { numRuns: 25 },
    );
  });

  it('random events never throw, never run more than 50 steps, and a JSON round trip of the snapshot changes nothing', () => {
    fc.assert(
      fc.property(
        validFlowArbitrary(20),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        (flow, picks) => {
          const compiled = compileFlow(flow);
          let a: PersistedConversation | null = null;
          let b: PersistedConversation | null = null;
          for (const pick of picks) {
            const events = sampleEvents(
              compiled,
              a === null ? { value: '@idle', context: { charge: null } as never } : a,
            );
            const event = events[pick % events.length]!;
            const ra = advanceConversation(compiled, a, event);
            const rb = advanceConversation(
              compiled,
              b === null ? null : JSON.parse(JSON.stringify(b)),
              event,
            );
            assert.deepEqual(rb.effects, ra.effects);
            assert.deepEqual(rb.snapshot, ra.snapshot);
            assert.ok(ra.effects.filter((e) => e.type === 'send').length <= 50);
            a = ra.snapshot;
            b = rb.snapshot;
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

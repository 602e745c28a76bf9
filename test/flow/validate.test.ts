import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { findCycles } from '../../src/flow/flow-graph.ts';
import { validateFlowJson } from '../../src/flow/parse-flow-json.ts';
import { type FlowProblem, validateFlow } from '../../src/flow/validate.ts';

const vip = JSON.parse(readFileSync(new URL('../../machines/vip-funnel.flow.json', import.meta.url), 'utf8'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixtures are edited freely
type AnyFlow = any;

/** A small valid flow that each case breaks in one place (and its neighbour keeps valid). */
function base(): AnyFlow {
  return {
    id: 'base',
    flow_start_step_id: 'hello',
    main_buttons: [{ text: 'VIP', price: 10 }],
    flow_steps: [
      { id: 'hello', type: 'message', config: { text: 'Hi' }, connections: { next: 'menu' } },
      {
        id: 'menu',
        type: 'buttons',
        config: { text: 'Pick', custom_buttons: [{ text: 'VIP', main_button_index: 0 }] },
        conditions: [{ type: 'button_click', button_text: 'VIP', target_step: 'pay' }],
      },
      { id: 'pay', type: 'payment', config: {}, connections: { next: 'vip' } },
      { id: 'vip', type: 'access', config: { chat_id: -100 } },
    ],
  };
}

interface Case {
  code: string;
  step_id?: string;
  path: string;
  broken(f: AnyFlow): void;
  neighbour(f: AnyFlow): void;
}

const cases: Case[] = [
  {
    code: 'schema',
    step_id: 'hello',
    path: '/flow_steps/0/config/colour',
    broken: (f) => (f.flow_steps[0].config.colour = 'red'),
    neighbour: (f) => (f.flow_steps[0].config.parse_mode = 'HTML'),
  },
  {
    code: 'duplicate_step_id',
    step_id: 'vip',
    path: '/flow_steps/4/id',
    broken: (f) => f.flow_steps.push({ id: 'vip', type: 'end', config: {} }),
    neighbour: (f) => f.flow_steps.push({ id: 'vip2', type: 'end', config: {} }),
  },
  {
    code: 'missing_start_step',
    path: '/flow_start_step_id',
    broken: (f) => (f.flow_start_step_id = 'helo'),
    neighbour: (f) => (f.flow_start_step_id = 'menu'),
  },
  {
    code: 'dangling_target',
    step_id: 'hello',
    path: '/flow_steps/0/connections/next',
    broken: (f) => (f.flow_steps[0].connections.next = 'nowhere'),
    neighbour: (f) => (f.flow_steps[0].connections.next = 'pay'),
  },
  {
    code: 'invalid_condition',
    step_id: 'menu',
    path: '/flow_steps/1/conditions/0/button_text',
    broken: (f) => delete f.flow_steps[1].conditions[0].button_text,
    neighbour: (f) => (f.flow_steps[1].conditions[0].button_text = ' vip '),
  },
  {
    code: 'invalid_condition',
    step_id: 'menu',
    path: '/flow_steps/1/conditions/0/max_attempts',
    broken: (f) => (f.flow_steps[1].conditions[0].max_attempts = 101),
    neighbour: (f) => (f.flow_steps[1].conditions[0].max_attempts = 100),
  },
  {
    code: 'unknown_button',
    step_id: 'menu',
    path: '/flow_steps/1/conditions/0/button_text',
    broken: (f) => (f.flow_steps[1].conditions[0].button_text = 'VIP Plus'),
    neighbour: (f) => (f.flow_steps[1].conditions[0].button_text = 'vip'),
  },
  {
    code: 'bad_offer_index',
    step_id: 'menu',
    path: '/flow_steps/1/config/custom_buttons/0/main_button_index',
    broken: (f) => (f.flow_steps[1].config.custom_buttons[0].main_button_index = 1),
    neighbour: (f) => f.main_buttons.push({ text: 'Plus', price: 20 }),
  },
  {
    code: 'payment_without_outcome',
    step_id: 'pay',
    path: '/flow_steps/2',
    broken: (f) => delete f.flow_steps[2].connections,
    neighbour: (f) => (f.flow_steps[2].connections = { pending: 'vip' }),
  },
  {
    code: 'no_price',
    step_id: 'pay',
    path: '/flow_steps/2/config',
    broken: (f) => {
      delete f.main_buttons;
      delete f.flow_steps[1].config.custom_buttons[0].main_button_index;
    },
    neighbour: (f) => {
      delete f.main_buttons;
      delete f.flow_steps[1].config.custom_buttons[0].main_button_index;
      f.flow_steps[2].config.amount = 9.9;
    },
  },
  {
    code: 'terminal_has_exits',
    step_id: 'vip',
    path: '/flow_steps/3/connections',
    broken: (f) => (f.flow_steps[3].connections = { next: 'hello' }),
    neighbour: (f) => (f.flow_steps[3].config.access_days = 30),
  },
  {
    code: 'dead_end',
    step_id: 'hello',
    path: '/flow_steps/0',
    broken: (f) => delete f.flow_steps[0].connections,
    neighbour: (f) => {
      delete f.flow_steps[0].connections;
      f.flow_steps[0].conditions = [{ type: 'time_elapsed', minutes: 1, target_step: 'menu' }];
    },
  },
  {
    code: 'eventless_cycle',
    step_id: 'a',
    path: '/flow_steps/4/connections/next',
    broken: (f) =>
      f.flow_steps.push(
        { id: 'a', type: 'message', config: { text: 'a' }, connections: { next: 'b' } },
        { id: 'b', type: 'message', config: { text: 'b' }, connections: { next: 'a' } },
      ),
    neighbour: (f) =>
      f.flow_steps.push(
        { id: 'a', type: 'message', config: { text: 'a' }, connections: { next: 'b' } },
        { id: 'b', type: 'message', config: { text: 'b' }, connections: { next: 'a' }, delay_seconds: 60 },
      ),
  },
  {
    code: 'not_applicable',
    step_id: 'hello',
    path: '/flow_steps/0/connections/pending',
    broken: (f) => (f.flow_steps[0].connections.pending = 'menu'),
    neighbour: (f) => (f.flow_steps[2].connections.pending = 'menu'),
  },
  {
    code: 'not_applicable',
    step_id: 'hello',
    path: '/flow_steps/0/conditions/0',
    broken: (f) =>
      (f.flow_steps[0].conditions = [{ type: 'payment_status', status: 'paid', target_step: 'vip' }]),
    neighbour: (f) => {
      f.flow_steps[2].connections = { next: 'vip', pending: 'wait' };
      f.flow_steps.push({
        id: 'wait',
        type: 'message',
        config: { text: 'waiting' },
        conditions: [{ type: 'payment_status', status: 'paid', target_step: 'vip' }],
      });
    },
  },
];

const only = (problems: FlowProblem[]) =>
  problems.map((p) => ({ code: p.code, step_id: p.step_id, path: p.path }));

describe('validateFlow: every code has a failing fixture and a passing neighbour', () => {
  it('the base flow and the example machines are valid', () => {
    assert.deepEqual(validateFlow(base()).errors, []);
    assert.equal(validateFlow(vip).valid, true);
  });
  for (const c of cases) {
    it(`${c.code} at ${c.path}`, () => {
      const broken = base();
      c.broken(broken);
      const result = validateFlow(broken);
      assert.equal(result.valid, false);
      assert.deepEqual(only(result.errors), [{ code: c.code, step_id: c.step_id, path: c.path }]);
      assert.equal(typeof result.errors[0]!.message, 'string');
      const neighbour = base();
      c.neighbour(neighbour);
      assert.deepEqual(validateFlow(neighbour).errors, [], 'the neighbour is valid');
    });
  }

  it('reports every problem at once, in path order', () => {
    const f = base();
    f.flow_start_step_id = 'nope';
    f.flow_steps[0].connections.next = 'gone';
    f.flow_steps[3].bogus = 1;
    const codes = validateFlow(f).errors.map((e) => e.code);
    assert.deepEqual(codes, ['missing_start_step', 'dangling_target', 'schema']);
  });

  it("invalid_condition covers each type's missing field", () => {
    const f = base();
    f.flow_steps[0] = {
      id: 'hello',
      type: 'input',
      config: { text: 'Hi' },
      connections: { next: 'menu' },
      conditions: [
        { type: 'text_validation', validation: 'contains', target_step: 'menu' },
        { type: 'text_validation', validation: 'zipcode', target_step: 'menu' },
        { type: 'time_elapsed', minutes: 0.5, target_step: 'menu' },
        { type: 'time_elapsed', target_step: 'menu' },
      ],
    };
    f.flow_steps[2].conditions = [{ type: 'payment_status', status: 'refunded', target_step: 'vip' }];
    const got = validateFlow(f).errors.map((e) => `${e.code} ${e.path}`);
    assert.deepEqual(got, [
      'invalid_condition /flow_steps/0/conditions/0/value',
      'invalid_condition /flow_steps/0/conditions/1/validation',
      'invalid_condition /flow_steps/0/conditions/2/minutes',
      'invalid_condition /flow_steps/0/conditions/3/minutes',
      'invalid_condition /flow_steps/2/conditions/0/status',
    ]);
  });

  it('button_click on a step that is not buttons is not_applicable', () => {
    const f = base();
    f.flow_steps[0].conditions = [{ type: 'button_click', button_text: 'x', target_step: 'menu' }];
    assert.deepEqual(only(validateFlow(f).errors), [
      { code: 'not_applicable', step_id: 'hello', path: '/flow_steps/0/conditions/0' },
    ]);
  });

  it('warns about unreachable steps and unhandled buttons without failing', () => {
    const f = base();
    f.flow_steps.push({ id: 'orphan', type: 'end', config: {} });
    f.flow_steps[1].config.custom_buttons.push(
      { text: 'Maybe' },
      { text: 'Site', url: 'https://example.com' },
    );
    const r = validateFlow(f);
    assert.equal(r.valid, true);
    assert.deepEqual(only(r.warnings), [
      { code: 'unhandled_button', step_id: 'menu', path: '/flow_steps/1/config/custom_buttons/1' },
      { code: 'unreachable_step', step_id: 'orphan', path: '/flow_steps/4' },
    ]);
  });

  it('a self-loop without waiting is an eventless cycle; a loop through a question is legal', () => {
    const f = base();
    f.flow_steps[0].connections.next = 'hello';
    assert.equal(validateFlow(f).errors[0]?.code, 'eventless_cycle');
    const g = base();
    g.flow_steps.push(
      {
        id: 'ask',
        type: 'input',
        config: { text: 'mail?' },
        conditions: [{ type: 'text_validation', validation: 'email', target_step: 'vip' }],
        connections: { next: 'again' },
      },
      { id: 'again', type: 'message', config: { text: 'bad e-mail' }, connections: { next: 'ask' } },
    );
    assert.deepEqual(validateFlow(g).errors, []);
  });

  it('escapes JSON pointer segments of unknown keys', () => {
    const f = base();
    f['a/b~c'] = 1;
    assert.deepEqual(only(validateFlow(f).errors), [
      { code: 'schema', step_id: undefined, path: '/a~1b~0c' },
    ]);
  });
});

describe('flows of any size and depth', () => {
  /** A chain of `n` message steps that never wait: the longest path any graph walk can take. */
  const chain = (n: number) => ({
    id: 'big',
    flow_start_step_id: 's0',
    flow_steps: Array.from({ length: n }, (_, i) =>
      i === n - 1
        ? { id: `s${i}`, type: 'end', config: {} }
        : { id: `s${i}`, type: 'message', config: { text: 'x' }, connections: { next: `s${i + 1}` } },
    ),
  });

  for (const n of [501, 2_000, 10_000, 100_000]) {
    it(`${n} steps: the steps-limit error alone, from the flow and from its JSON`, () => {
      for (const r of [validateFlow(chain(n)), validateFlowJson(JSON.stringify(chain(n)))]) {
        assert.equal(r.valid, false);
        assert.deepEqual(r.errors, [
          {
            code: 'schema',
            path: '/flow_steps',
            message: `a flow has at most 500 steps; this one has ${n}`,
          },
        ]);
      }
    });
  }

  it('500 steps in one chain are valid', () => {
    assert.deepEqual(validateFlow(chain(500)).errors, []);
  });

  it('100,000 nested arrays or objects anywhere: one clear schema error, never a stack overflow', () => {
    const arrays = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const objects = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const flowWith = (where: string) =>
      `{"id":"f","flow_start_step_id":"a","flow_steps":[{"id":"a","type":"end","config":${where}}]}`;
    for (const text of [
      flowWith(objects(100_000)),
      flowWith(`{"text":${arrays(100_000)}}`),
      `{"id":"f","x":${arrays(100_000)},"flow_start_step_id":"a","flow_steps":[]}`,
    ]) {
      const r = validateFlowJson(text);
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]!.code, 'schema');
      assert.match(r.errors[0]!.message, /nests deeper than 32 levels/);
      assert.ok(r.errors[0]!.path.split('/').length <= 34, 'the path stops where the nesting goes too deep');
    }
    assert.deepEqual(validateFlowJson(arrays(100_000)).errors, [
      { code: 'schema', path: '', message: 'a flow must be a JSON object' },
    ]);
  });
});

describe('findCycles', () => {
  it('finds a loop of 100,000 steps without recursion, and none in a chain as long', () => {
    const n = 100_000;
    const ids = Array.from({ length: n }, (_, i) => `s${i}`);
    const loop = new Map(ids.map((id, i) => [id, [ids[(i + 1) % n]!]]));
    const cycles = findCycles(ids, loop);
    assert.equal(cycles.length, 1);
    assert.equal(cycles[0]!.length, n);
    assert.equal(cycles[0]![0], 's0');
    const line = new Map(ids.map((id, i) => [id, i + 1 < n ? [ids[i + 1]!] : []]));
    assert.deepEqual(findCycles(ids, line), []);
  });

  it('reports each loop once, in discovery order, self-loops included', () => {
    const edges = new Map([
      ['a', ['b']],
      ['b', ['c', 'a']],
      ['c', ['c']],
      ['d', ['e']],
      ['e', ['d', 'a']],
    ]);
    assert.deepEqual(findCycles(['a', 'b', 'c', 'd', 'e'], edges), [['c'], ['a', 'b'], ['d', 'e']]);
  });
});

describe('validateFlowJson', () => {
  it('a file that is not JSON is one schema error with line and column', () => {
    const r = validateFlowJson('{\n  "id": "x",\n  oops\n}');
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.code, 'schema');
    assert.match(r.errors[0]!.message, /line 3, column 3/);
    assert.match(validateFlowJson('{"id": ').errors[0]!.message, /line 1, column 8/);
    assert.equal(validateFlowJson('').errors[0]!.code, 'schema');
  });
});

const KNOWN = new Set([
  'schema',
  'duplicate_step_id',
  'missing_start_step',
  'dangling_target',
  'invalid_condition',
  'unknown_button',
  'bad_offer_index',
  'payment_without_outcome',
  'no_price',
  'terminal_has_exits',
  'dead_end',
  'eventless_cycle',
  'not_applicable',
]);

function wellFormed(r: ReturnType<typeof validateFlow>): void {
  assert.equal(typeof r.valid, 'boolean');
  assert.equal(r.valid, r.errors.length === 0);
  for (const p of r.errors) {
    assert.ok(KNOWN.has(p.code), p.code);
    assert.ok(p.path === '' || p.path.startsWith('/'));
    assert.equal(typeof p.message, 'string');
  }
  for (const p of r.warnings) assert.ok(p.code === 'unreachable_step' || p.code === 'unhandled_button');
}

/** Applies one random edit somewhere in a JSON value. */
function mutate(value: unknown, path: number[], replacement: unknown, mode: number): unknown {
  if (path.length === 0 || typeof value !== 'object' || value === null)
    return mode === 0 ? replacement : value;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  if (entries.length === 0) return value;
  const [key] = entries[path[0]! % entries.length]!;
  const copy: AnyFlow = Array.isArray(value) ? [...value] : { ...value };
  if (path.length === 1 && mode === 1) {
    if (Array.isArray(copy)) copy.splice(Number(key), 1);
    else delete copy[key];
  } else if (path.length === 1 && mode === 2 && Array.isArray(copy)) {
    copy.push(copy[Number(key)]);
  } else {
    copy[key] = path.length === 1 ? replacement : mutate(copy[key], path.slice(1), replacement, mode);
  }
  return copy;
}

describe('validateFlow properties', () => {
  it('never throws on any value', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => wellFormed(validateFlow(v))),
      { numRuns: 500 },
    );
  });
  it('never throws on mutations of a valid flow, and reports them with known codes', () => {
    const ids = fc.constantFrom('welcome', 'offers', 'pay', 'access', 'nowhere', '', 'a b');
    const replacement = fc.oneof(fc.anything(), ids);
    fc.assert(
      fc.property(
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        replacement,
        fc.integer({ min: 0, max: 2 }),
        (path, r, mode) => {
          wellFormed(validateFlow(mutate(vip, path, r, mode)));
        },
      ),
      { numRuns: 1000 },
    );
  });
  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => wellFormed(validateFlowJson(s))),
      { numRuns: 300 },
    );
  });
});

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const src = join(import.meta.dirname, '..', 'src');
const IO =
  /from '(node:(fs|net|http|https|child_process|cluster|dgram|worker_threads)|pg|ioredis|grammy|koa|@koa\/router|@mikro-orm\/[^']+|@electric-sql\/[^']+|piscina|pino|prom-client)(\/[^']*)?'/;

/**
 * The layers, innermost first: a node may import its own layer's nodes or inner layers' ones, never
 * an outer layer's. A node is a folder of src/ or a file at src/ (root files not named here are `root`).
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'observability'],
  ['flow'],
  ['runtime'],
  ['telegram', 'payments', 'tracking'],
  ['db', 'stores', 'bot', 'http', 'jobs', 'sim'],
  ['root'],
  ['cluster', 'broker', 'demo'],
  ['cli', 'cli.ts'],
];

/** Files of tracking that do I/O (the Meta client and its sender); every other tracking file is pure. */
const TRACKING_IO = ['tracking/meta-client.ts', 'tracking/send-conversions.ts'];

/** Every .ts file under `dir`, as paths relative to src/. */
function listSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listSources(path);
    return entry.name.endsWith('.ts') ? [relative(src, path)] : [];
  });
}

/** The node a file of src/ belongs to: its top folder, or itself when it sits at src/. */
function nodeOf(file: string): string {
  const [top, ...rest] = file.split('/');
  return rest.length > 0 ? top! : file;
}

/** The layer index of a node (root files not named in LAYERS share `root`); -1 when unplaced. */
function layerOf(node: string): number {
  const named = LAYERS.findIndex((layer) => layer.includes(node));
  if (named >= 0 || !node.endsWith('.ts')) return named;
  return LAYERS.findIndex((layer) => layer.includes('root'));
}

/** The relative import specifiers of a source text (static imports, re-exports, dynamic imports). */
function readSpecifiers(text: string): string[] {
  const found = text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)'(\.{1,2}\/[^']+)'/g);
  return [...found].map((m) => m[1]!);
}

/** The specifiers a source text imports values from (`import type` and `export type` erase at run time). */
function readValueSpecifiers(text: string): string[] {
  return readSpecifiers(text.replace(/\b(?:import|export)\s+type\s[^;]*?\bfrom\s*'[^']+'/g, ''));
}

/** The import graph of src/ between nodes: each arrow with the file imports that make it. */
function readImportGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of listSources(src)) {
    const from = nodeOf(file);
    for (const specifier of readSpecifiers(readFileSync(join(src, file), 'utf8'))) {
      const target = relative(src, resolve(src, dirname(file), specifier));
      const to = nodeOf(target);
      if (to === from) continue;
      const arrows = graph.get(from) ?? new Map<string, string[]>();
      graph.set(from, arrows);
      arrows.set(to, [...(arrows.get(to) ?? []), `${file} -> ${target}`]);
    }
  }
  return graph;
}

/** The cycles of a graph, one path per strongly connected group found by depth-first search. */
function findCycles(graph: Map<string, Map<string, string[]>>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]): void => {
    state.set(node, 'open');
    for (const next of graph.get(node)?.keys() ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), node, next]);
      else if (state.get(next) === undefined) visit(next, [...path, node]);
    }
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (state.get(node) === undefined) visit(node, []);
  return cycles.map((cycle) => [...new Set(cycle.slice(0, -1)), cycle.at(-1)!]);
}

describe('architecture', () => {
  const graph = readImportGraph();

  it('every folder and file of src/ has a layer', () => {
    const nodes = new Set(listSources(src).map(nodeOf));
    const unplaced = [...nodes].filter((node) => layerOf(node) < 0);
    assert.deepEqual(
      unplaced,
      [],
      `place these in LAYERS of test/architecture.test.ts: ${unplaced.join(', ')}`,
    );
  });

  it('imports point inward: no node imports a node of an outer layer', () => {
    const upward: string[] = [];
    for (const [from, arrows] of graph) {
      for (const [to, imports] of arrows) {
        if (layerOf(to) > layerOf(from)) upward.push(`${from} -> ${to} (${imports.join(', ')})`);
      }
    }
    assert.deepEqual(upward, [], `upward imports:\n  ${upward.join('\n  ')}`);
  });

  it('the nodes of src/ form no cycle', () => {
    const cycles = findCycles(graph).map((cycle) => cycle.join(' -> '));
    assert.deepEqual(cycles, [], `import cycles:\n  ${cycles.join('\n  ')}`);
  });

  for (const dir of ['flow', 'telegram', 'tracking']) {
    it(`src/${dir} is pure: no I/O library, and values only from the pure core (types from inner layers)`, () => {
      for (const file of listSources(join(src, dir)).filter((f) => !TRACKING_IO.includes(f))) {
        const text = readFileSync(join(src, file), 'utf8');
        assert.doesNotMatch(text, IO, file);
        assert.doesNotMatch(text, /\bfetch\(/, `${file} does no network I/O`);
        for (const specifier of readValueSpecifiers(text).filter((s) => s.startsWith('../'))) {
          assert.match(specifier, /^\.\.\/(errors|flow\/[^/]+)\.ts$/, `${file} imports ${specifier}`);
        }
      }
    });
  }

  it('the runtime and the store commit records by registered kind, naming no domain', () => {
    const files = [
      'runtime/ports.ts',
      'runtime/conversation-host.ts',
      'runtime/group-commit.ts',
      'db/write-commit-batch.ts',
      'db/conversation-store.ts',
    ];
    for (const file of files) {
      const text = readFileSync(join(src, file), 'utf8');
      assert.doesNotMatch(
        text,
        /bindTracking|paymentStatus|'conversion'|createCharge|\bpayments\b|bot_users|conversion_events/,
        file,
      );
    }
  });
});

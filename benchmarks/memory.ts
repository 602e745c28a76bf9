/**
 * Memory per conversation: heap (after `gc()`) per conversation botflow's runtime holds in memory, at
 * BENCH_CONVERSATIONS conversations stopped mid-flow in the VIP funnel (asked for their e-mail, one
 * wrong answer given), and bytes per stored conversation row in Postgres; beside one plain XState v5
 * `createActor(machine).start()` per conversation of the same compiled machine, driven by the same
 * events to the same state, in the same run. Prints one JSON object.
 */
import { readFileSync } from 'node:fs';
import { type AnyActorRef, createActor } from 'xstate';
import { bootstrap } from '../src/bootstrap.ts';
import { compileFlow } from '../src/flow/compile.ts';
import { runConcurrently } from './lib/http-load.ts';
import { environment, round } from './lib/stats.ts';
import { createThrowawayDatabase } from './lib/throwaway-database.ts';

const CONVERSATIONS = Number(process.env['BENCH_CONVERSATIONS'] ?? 10_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 200);
const WRONG_EMAIL = 'not an e-mail';
const log = (line: string) => process.stderr.write(`memory: ${line}\n`);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc (benchmarks/run.ts does)');
/** Heap in use after full collections (twice: finalizers and weak references settle). */
function settledHeap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

const host = await environment();
const definition = JSON.parse(
  readFileSync(new URL('../machines/vip-funnel.flow.json', import.meta.url), 'utf8'),
);
const database = await createThrowawayDatabase();
let botflow: Record<string, unknown>;
try {
  const app = await bootstrap({
    env: { DATABASE_URL: database.url, LOG_LEVEL: 'silent' },
    config: { telegramApiRoot: 'http://127.0.0.1:9', metaGraphUrl: 'http://127.0.0.1:9' },
    http: false,
    timerIntervalMs: 0,
    jobsIntervalMs: 0,
    // Messages are committed to the outbox and marked done without a Bot API: only the runtime is measured.
    effectHandlers: { send: async () => null, notice: async () => null, error: async () => null },
  });
  try {
    await app.addBot({ id: 'mem', token: '7300000004:bench', username: 'bench_mem_bot', setWebhook: false });
    await app.publishFlow('mem', definition);
    const user = (i: number) => String(1_000_000 + i);

    log(`${CONVERSATIONS} conversations: /start, then passivate`);
    await runConcurrently(CONVERSATIONS, CONCURRENCY, async (i) => {
      await app.inject('mem', user(i), { type: 'start' });
    });
    await app.effects.idle();
    app.host.passivateIdle(-1);
    const before = settledHeap();
    const emptyActors = app.host.activeActors;

    log('the same conversations back in memory with one wrong e-mail each');
    let last: Awaited<ReturnType<typeof app.inject>> | undefined;
    await runConcurrently(CONVERSATIONS, CONCURRENCY, async (i) => {
      last = await app.inject('mem', user(i), { type: 'text', text: WRONG_EMAIL });
    });
    await app.effects.idle();
    const after = settledHeap();
    const active = app.host.activeActors;

    const sql = app.db.orm.em.getConnection();
    const [row] = await sql.execute<{ avg: string; n: string; total: string }[]>(
      `select avg(pg_column_size(c.*))::text as avg, count(*)::text as n,
              pg_total_relation_size('conversations')::text as total from conversations c`,
    );
    botflow = {
      conversations_in_memory: active - emptyActors,
      current_step: last?.currentStep ?? null,
      heap_bytes_per_conversation: Math.round((after - before) / Math.max(1, active - emptyActors)),
      bytes_per_stored_row: Math.round(Number(row!.avg)),
      conversations_table_bytes_per_row_with_indexes: Math.round(Number(row!.total) / Number(row!.n)),
    };
  } finally {
    await app.close();
  }
} finally {
  await database.drop();
}

// Baseline: one started XState actor per conversation, same machine, same events, kept alive.
const compiled = compileFlow(definition);
log(`baseline: ${CONVERSATIONS} XState actors`);
const actors: AnyActorRef[] = [];
const before = settledHeap();
for (let i = 0; i < CONVERSATIONS; i++) {
  const actor = createActor(compiled.machine).start();
  actor.send({ type: 'start' });
  actor.send({ type: 'text', text: WRONG_EMAIL });
  actors.push(actor);
}
const after = settledHeap();
const sample = actors[0]!.getSnapshot() as { value: unknown; context: { attempts: number } };
const xstatePerActor = Math.round((after - before) / CONVERSATIONS);
const persistedBytes = Buffer.byteLength(JSON.stringify(actors[0]!.getPersistedSnapshot()));
for (const actor of actors) actor.stop();

process.stdout.write(
  `${JSON.stringify({
    ...host,
    conversations: CONVERSATIONS,
    botflow,
    baseline_xstate_actor: {
      heap_bytes_per_actor: xstatePerActor,
      state: sample.value,
      attempts: sample.context.attempts,
      persisted_snapshot_json_bytes: persistedBytes,
    },
    ratio_botflow_over_xstate_heap: round(
      (botflow['heap_bytes_per_conversation'] as number) / xstatePerActor,
      3,
    ),
    note: "botflow keeps each in-memory conversation as its persisted snapshot plus a mailbox; XState's actor keeps the live machine snapshot and actor system",
  })}\n`,
);

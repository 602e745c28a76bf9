import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bootstrap } from '../../src/bootstrap.ts';
import { type PrimaryHandle, startPrimary } from '../../src/cluster/start-primary.ts';
import type { DispatchResult } from '../../src/runtime/conversation-host.ts';
import { freePort } from '../../src/sim/free-port.ts';
import { askForever } from '../support/flows.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';
import { createFreshVhost, type FreshVhost } from '../broker/fresh-vhost.ts';

const REDIS = process.env['REDIS_TEST_URL'] ?? 'redis://127.0.0.1:6379';
const rowVersion = (r: unknown) => Number((r as DispatchResult).effects[0]!.key.split(':')[2]);

describe('cluster workers in broker mode (what `botflow start` runs with BOTFLOW_BROKER_URL)', () => {
  let db: FreshDatabase;
  let vhost: FreshVhost;
  let primary: PrimaryHandle;
  let port: number;

  before(async () => {
    [db, vhost, port] = await Promise.all([createFreshDatabase(), createFreshVhost(), freePort()]);
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: REDIS,
      BOTFLOW_REDIS_PREFIX: `bf-test-brw-${process.pid}`,
      LOG_LEVEL: 'silent',
      TELEGRAM_API_ROOT: 'http://127.0.0.1:9',
    };
    const setup = await bootstrap({ env, http: false, timerIntervalMs: 0, jobsIntervalMs: 0 });
    await setup.addBot({ id: 'b', username: 'broker_worker_bot', token: '1:x' });
    await setup.publishFlow('b', askForever);
    await setup.close();
    primary = await startPrimary({
      workers: 2,
      env: { ...env, PORT: String(port), BOTFLOW_BROKER_URL: vhost.url(), BOTFLOW_BROKER_PARTITIONS: '8' },
      restartBackoff: { initialMs: 100, maxMs: 1000 },
    });
    await primary.settled();
  });
  after(async () => {
    await primary.stop();
    await vhost.drop();
    await db.drop();
  });

  it('both workers take inputs for one conversation: each committed once, each sender in order', async () => {
    await primary.injectVia(0, { botId: 'b', userId: '77', event: { type: 'start' }, inputKey: 'w:start' });
    const send = (slot: number, i: number) =>
      primary.injectVia(slot, {
        botId: 'b',
        userId: '77',
        event: { type: 'text', text: `guess ${i}` },
        inputKey: `w:${slot}:${i}`,
      });
    const [a, b] = await Promise.all(
      [0, 1].map((slot) => Promise.all(Array.from({ length: 30 }, (_, i) => send(slot, i)))),
    );
    const va = a!.map(rowVersion);
    const vb = b!.map(rowVersion);
    assert.deepEqual(
      [...va, ...vb].sort((x, y) => x - y),
      Array.from({ length: 60 }, (_, i) => i + 2),
    );
    assert.deepEqual(
      va,
      [...va].sort((x, y) => x - y),
    );
    assert.deepEqual(
      vb,
      [...vb].sort((x, y) => x - y),
    );
  });

  it('/metrics on the shared port sums both workers', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } });
    assert.equal(res.status, 200);
    const line = (await res.text()).split('\n').find((l) => l.startsWith('botflow_transitions_total '));
    assert.ok(Number(line?.split(' ')[1]) >= 61, line);
  });
});

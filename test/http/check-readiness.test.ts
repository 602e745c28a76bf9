import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DatabaseHandle, openDatabase } from '../../src/db/open-database.ts';
import { createSql } from '../../src/db/sql-client.ts';
import { createReadinessCheck } from '../../src/http/check-readiness.ts';
import { createFreshDatabase, type FreshDatabase } from '../db/fresh-database.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

describe('readiness (real Postgres behind a proxy the test can cut)', () => {
  let fresh: FreshDatabase;
  let proxy: TcpProxy;
  let db: DatabaseHandle;
  let shuttingDown = false;
  let notReady: ReturnType<typeof createReadinessCheck>;
  before(async () => {
    fresh = await createFreshDatabase();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(fresh.url).port || 5432) });
    const url = new URL(fresh.url);
    url.host = `127.0.0.1:${proxy.port}`;
    db = await openDatabase({ url: url.toString(), dataDir: '/nonexistent' });
    const sql = createSql(db.orm);
    notReady = createReadinessCheck({ shuttingDown: () => shuttingDown, ping: () => sql('select 1') });
  });
  after(async () => {
    await db.close();
    await proxy.close();
    await fresh.drop();
  });

  it('is ready while the database answers', async () => {
    assert.equal(await notReady(), null);
  });

  it('is not ready, STORE_UNAVAILABLE, while the database is cut off; ready again once it answers', async () => {
    proxy.cut();
    const reason = await notReady();
    assert.equal(reason?.code, 'STORE_UNAVAILABLE');
    assert.equal(reason?.retryable, true);
    proxy.restore();
    assert.equal(await notReady(), null);
  });

  it('is not ready while shutting down, whatever the database says', async () => {
    shuttingDown = true;
    assert.equal((await notReady())?.code, 'SHUTTING_DOWN');
    shuttingDown = false;
  });
});

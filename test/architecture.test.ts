import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const src = join(import.meta.dirname, '..', 'src');
const IO =
  /from '(node:(fs|net|http|https|child_process|cluster|dgram|worker_threads)|pg|ioredis|grammy|koa|@koa\/router|@mikro-orm\/[^']+|@electric-sql\/[^']+|piscina|pino|prom-client)(\/[^']*)?'/;

describe('architecture', () => {
  const PURE_TRACKING = [
    'click.ts',
    'resolve-tracking.ts',
    'conversion-event.ts',
    'hash-for-meta.ts',
    'pick-user-data.ts',
  ];
  for (const dir of ['flow', 'telegram', 'tracking']) {
    it(`src/${dir} is pure: it imports no I/O library and nothing outside the pure core`, () => {
      const files = readdirSync(join(src, dir)).filter((f) => f.endsWith('.ts'));
      for (const file of dir === 'tracking' ? files.filter((f) => PURE_TRACKING.includes(f)) : files) {
        const text = readFileSync(join(src, dir, file), 'utf8');
        assert.doesNotMatch(text, IO, `${dir}/${file}`);
        assert.doesNotMatch(text, /\bfetch\(/, `${dir}/${file} does no network I/O`);
        for (const m of text.matchAll(/from '(\.\.\/[^']+)'/g)) {
          assert.match(m[1]!, /^\.\.\/(errors|flow\/[^/]+)\.ts$/, `${dir}/${file} imports ${m[1]}`);
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

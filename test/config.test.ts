import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { BotflowError } from '../src/errors.ts';

function configError(env: Record<string, string>): BotflowError {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof BotflowError);
    assert.equal(error.code, 'CONFIG_INVALID');
    return error;
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('loadConfig', () => {
  it('applies defaults in embedded mode (one worker, admin API off)', () => {
    const config = loadConfig({});
    assert.deepEqual(config, {
      port: 3000,
      databaseUrl: undefined,
      redisUrl: undefined,
      dataDir: './.botflow',
      adminToken: undefined,
      workers: 1,
      logLevel: 'info',
      publicUrl: undefined,
      telegramApiRoot: 'https://api.telegram.org',
      metaGraphUrl: 'https://graph.facebook.com',
      trustProxy: false,
      trackingTtlDays: 30,
      retentionDays: 14,
      secretKey: undefined,
      redisPrefix: 'bf',
      embedded: true,
      brokerUrl: undefined,
      brokerPartitions: 64,
    });
  });

  it('forces one worker in embedded mode even when BOTFLOW_WORKERS is set', () => {
    assert.equal(loadConfig({ BOTFLOW_WORKERS: '8' }).workers, 1);
  });

  it('reads every variable in production mode', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/botflow',
      REDIS_URL: 'redis://cache:6379',
      BOTFLOW_DATA_DIR: '/var/lib/botflow',
      BOTFLOW_ADMIN_TOKEN: 'a-long-admin-token-123',
      BOTFLOW_WORKERS: '4',
      LOG_LEVEL: 'debug',
      BOTFLOW_PUBLIC_URL: 'https://bots.example.com/',
      TELEGRAM_API_ROOT: 'http://127.0.0.1:8081/',
      META_GRAPH_URL: 'https://graph.example.com',
      BOTFLOW_TRUST_PROXY: 'true',
      BOTFLOW_TRACKING_TTL_DAYS: '7',
      BOTFLOW_RETENTION_DAYS: '30',
      BOTFLOW_SECRET_KEY: 'ab'.repeat(32),
      BOTFLOW_REDIS_PREFIX: 'shop-2',
      BOTFLOW_BROKER_URL: 'amqp://bf:pw@mq:5672/botflow',
      BOTFLOW_BROKER_PARTITIONS: '16',
    });
    assert.deepEqual(config, {
      port: 8080,
      databaseUrl: 'postgres://u:p@db:5432/botflow',
      redisUrl: 'redis://cache:6379',
      dataDir: '/var/lib/botflow',
      adminToken: 'a-long-admin-token-123',
      workers: 4,
      logLevel: 'debug',
      publicUrl: 'https://bots.example.com',
      telegramApiRoot: 'http://127.0.0.1:8081',
      metaGraphUrl: 'https://graph.example.com',
      trustProxy: true,
      trackingTtlDays: 7,
      retentionDays: 30,
      secretKey: 'ab'.repeat(32),
      redisPrefix: 'shop-2',
      embedded: false,
      brokerUrl: 'amqp://bf:pw@mq:5672/botflow',
      brokerPartitions: 16,
    });
  });

  it('defaults workers to the available parallelism when Redis is configured', () => {
    assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).workers, availableParallelism());
  });

  it('treats blank values as unset', () => {
    assert.equal(loadConfig({ PORT: '  ', BOTFLOW_ADMIN_TOKEN: '' }).port, 3000);
    assert.equal(loadConfig({ BOTFLOW_ADMIN_TOKEN: '' }).adminToken, undefined);
  });

  it('refuses broker mode without the shared Postgres and Redis, naming what is missing', () => {
    const url = 'amqp://guest:hunter2@mq:5672/botflow';
    const envs: Record<string, string>[] = [
      { BOTFLOW_BROKER_URL: url },
      { BOTFLOW_BROKER_URL: url, REDIS_URL: 'redis://cache:6379' },
      { BOTFLOW_BROKER_URL: url, DATABASE_URL: 'postgres://db/botflow' },
    ];
    for (const env of envs) {
      const error = configError(env);
      assert.match(error.message, /BOTFLOW_BROKER_URL needs DATABASE_URL and REDIS_URL/);
      assert.ok(!error.message.includes('hunter2'));
    }
  });

  const bad: Array<[string, string, RegExp]> = [
    ['PORT', 'eighty', /PORT must be an integer port/],
    ['PORT', '70000', /PORT must be/],
    ['PORT', '3000.5', /PORT must be/],
    ['DATABASE_URL', 'mysql://root:hunter2@db/x', /DATABASE_URL must be a postgres:\/\//],
    ['DATABASE_URL', 'not a url with s3cret', /DATABASE_URL must be/],
    ['REDIS_URL', 'http://:hunter2@cache', /REDIS_URL must be a redis:\/\//],
    ['BOTFLOW_ADMIN_TOKEN', 'short', /BOTFLOW_ADMIN_TOKEN must be a token of at least 16/],
    ['BOTFLOW_ADMIN_TOKEN', 'has spaces inside it ok', /BOTFLOW_ADMIN_TOKEN must be/],
    ['BOTFLOW_WORKERS', '0', /BOTFLOW_WORKERS must be an integer from 1/],
    ['BOTFLOW_WORKERS', 'many', /BOTFLOW_WORKERS must be/],
    ['LOG_LEVEL', 'verbose', /LOG_LEVEL must be one of fatal, error/],
    ['BOTFLOW_PUBLIC_URL', 'ftp://example.com', /BOTFLOW_PUBLIC_URL must be an http/],
    ['BOTFLOW_SECRET_KEY', 'c2hvcnQta2V5LXNlY3JldA==', /BOTFLOW_SECRET_KEY must be 32 bytes/],
    ['BOTFLOW_SECRET_KEY', 'zz'.repeat(32), /BOTFLOW_SECRET_KEY must be 32 bytes/],
    ['BOTFLOW_REDIS_PREFIX', 'has:colon', /BOTFLOW_REDIS_PREFIX must be up to 32/],
    ['BOTFLOW_BROKER_URL', 'http://guest:hunter2@mq', /BOTFLOW_BROKER_URL must be an amqp:\/\//],
    ['BOTFLOW_BROKER_PARTITIONS', '2048', /BOTFLOW_BROKER_PARTITIONS must be an integer from 1 to 1024/],
    ['BOTFLOW_RETENTION_DAYS', 'seven', /BOTFLOW_RETENTION_DAYS must be days from 8/],
  ];
  for (const [name, value, message] of bad) {
    it(`rejects ${name}=${JSON.stringify(value)} naming the variable, without echoing the value`, () => {
      const env: Record<string, string> = { REDIS_URL: 'redis://127.0.0.1:6379', [name]: value };
      const error = configError(env);
      assert.match(error.message, message);
      assert.ok(!error.message.includes(value), 'the value is not echoed');
      assert.ok(!JSON.stringify(error.toJSON()).includes(value), 'nor in the JSON form');
      assert.deepEqual(error.details, { variable: name });
    });
  }
});

/**
 * A throwaway RabbitMQ vhost on RABBITMQ_TEST_URL's server for one benchmark run (made with
 * rabbitmqctl, guest allowed on it), deleted afterwards.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BASE = new URL(process.env['RABBITMQ_TEST_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672');

/** A created vhost: its amqp:// URL and how to delete it. */
export interface ThrowawayVhost {
  url: string;
  drop(): Promise<void>;
}

/** Creates a vhost `botflow_bench_<random>`. */
export async function createThrowawayVhost(): Promise<ThrowawayVhost> {
  const name = `botflow_bench_${randomBytes(4).toString('hex')}`;
  await run('rabbitmqctl', ['-q', 'add_vhost', name]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', name, BASE.username || 'guest', '.*', '.*', '.*']);
  const url = new URL(BASE);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run('rabbitmqctl', ['-q', 'delete_vhost', name]).then(() => {}) };
}

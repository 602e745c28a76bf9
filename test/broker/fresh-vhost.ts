/**
 * Test helper: a fresh RabbitMQ vhost `botflow_test_<random>` (made with rabbitmqctl, guest allowed
 * on it), deleted at the end, so each broker test runs isolated on the shared RabbitMQ.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BASE = new URL(process.env['RABBITMQ_TEST_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672');

/** A created vhost: its amqp:// URL (through `port` when given: a proxy) and a function that deletes it. */
export interface FreshVhost {
  name: string;
  url(port?: number): string;
  drop(): Promise<void>;
}

/** Creates an empty vhost with a random name. */
export async function createFreshVhost(): Promise<FreshVhost> {
  const name = `botflow_test_${randomBytes(6).toString('hex')}`;
  await run('rabbitmqctl', ['-q', 'add_vhost', name]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', name, BASE.username || 'guest', '.*', '.*', '.*']);
  return {
    name,
    url(port) {
      const url = new URL(BASE);
      if (port !== undefined) url.port = String(port);
      url.pathname = `/${encodeURIComponent(name)}`;
      return url.toString();
    },
    drop: () => run('rabbitmqctl', ['-q', 'delete_vhost', name]).then(() => {}),
  };
}

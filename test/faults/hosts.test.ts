/**
 * The hosts scenario at CI size: 3 botflow hosts in broker mode, each in its own network namespace
 * (CI runs as root), a few dozen buyers round-robin over them, one host killed with SIGKILL. The run
 * must print its JSON object with the measured counters and exit 0: no acknowledged update lost, no
 * duplicate charge, grant or Purchase, nothing stuck, every shard served again within 5 s.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { runSuite } from './run-suite.ts';
import { createTestHosts, NETNS_PREFIX, sweepStaleNamespaces } from '../support/test-hosts.ts';

/** Runs `npm run faults -- hosts` with `args`. */
const runHosts = (args: string[], timeoutMs: number) => runSuite(['hosts', ...args], timeoutMs);

const namespaces = () =>
  execFileSync('ip', ['netns', 'list'])
    .toString('utf8')
    .split('\n')
    .filter((l) => l.startsWith(NETNS_PREFIX));

test('test hosts are namespaces with their own address, swept when their run is gone', () => {
  const hosts = createTestHosts(2);
  try {
    if (hosts.isolation === 'processes') {
      assert.ok(hosts.refused !== null && hosts.refused !== '', 'a refusal says why');
      return;
    }
    const [a, b] = hosts.hosts;
    assert.notEqual(a!.address, b!.address);
    assert.match(a!.address, /^10\.\d+\.\d+\.\d+$/);
    // Inside, the host sees its own veth address, not the root namespace's.
    const inside = execFileSync(a!.command(['ip', '-4', 'addr']).file, a!.command(['ip', '-4', 'addr']).args);
    assert.match(inside.toString('utf8'), new RegExp(`inet ${a!.address.replaceAll('.', '\\.')}/30`));
    assert.doesNotMatch(inside.toString('utf8'), new RegExp(`inet ${b!.address.replaceAll('.', '\\.')}/`));
    // A namespace of a dead run is swept (the pid is above Linux's largest, so never alive).
    const stale = `${NETNS_PREFIX}4194999-0`;
    execFileSync('ip', ['netns', 'add', stale]);
    assert.deepEqual(sweepStaleNamespaces(), [stale]);
    assert.ok(!namespaces().some((l) => l.startsWith(stale)));
    // Our own run's namespaces are not stale.
    assert.equal(namespaces().filter((l) => l.startsWith(`${NETNS_PREFIX}${process.pid}-`)).length, 2);
  } finally {
    hosts.close();
  }
  assert.equal(namespaces().filter((l) => l.startsWith(`${NETNS_PREFIX}${process.pid}-`)).length, 0);
});

const COUNTERS = [
  'acknowledged',
  'acknowledged_not_committed',
  'duplicate_charges',
  'duplicate_grants',
  'duplicate_purchases',
  'stuck_effects',
  'killed_host_shards',
  'moved_shards',
] as const;

test(
  '3 hosts, one killed mid-run: nothing lost or doubled, its shards served again within 5 s',
  { timeout: 200_000 },
  async () => {
    const run = await runHosts(
      ['--buyers', '24', '--load-users', '0', '--stuck-seconds', '5', '--workers', '1'],
      180_000,
    );
    const report = JSON.parse(run.stdout.trim()) as Record<string, unknown>;
    const label = JSON.stringify(report);
    for (const counter of COUNTERS) {
      const value = report[counter];
      assert.ok(Number.isInteger(value) && (value as number) >= 0, `no counter ${counter}: ${label}`);
    }
    assert.equal(report['hosts'], 3);
    assert.equal(report['isolation'], 'netns', label);
    assert.ok((report['acknowledged'] as number) > 24, `the buyers' updates were acknowledged: ${label}`);
    // Every host took webhooks from the front door.
    assert.ok(
      (report['requests_by_host'] as number[]).every((n) => n > 0),
      label,
    );
    assert.ok((report['killed_host_shards'] as number) > 0, label);
    assert.equal(report['moved_shards'], report['killed_host_shards'], label);
    assert.equal(report['every_shard_served'], true, label);
    const failover = report['failover_seconds'];
    assert.ok(typeof failover === 'number' && failover >= 0 && failover <= 5, label);
    for (const zero of [
      'acknowledged_not_committed',
      'duplicate_charges',
      'duplicate_grants',
      'duplicate_purchases',
      'stuck_effects',
    ])
      assert.equal(report[zero], 0, `${zero}: ${label}`);
    assert.deepEqual(report['failures'], [], label);
    assert.equal(run.code, 0, run.stderr.slice(-2000));
    // The run left no namespace behind.
    assert.ok(!namespaces().some((l) => l.startsWith(`${NETNS_PREFIX}${run.pid}-`)), 'namespaces removed');
  },
);

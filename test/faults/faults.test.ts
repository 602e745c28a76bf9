/**
 * The fault suite at CI size: 12 buyers per fault, 4 s cuts, 5 s stuck window, on a real 2-worker
 * cluster. Every fault must print its JSON line with the guarantees' counters and the suite must exit
 * 0 (no loss, duplicate, stuck effect, or forged input accepted or answered 5xx).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAULTS } from './run-fault.ts';
import { runSuite } from './run-suite.ts';

const COUNTERS = [
  'buyers',
  'acknowledged',
  'acknowledged_not_committed',
  'duplicate_charges',
  'duplicate_grants',
  'duplicate_purchases',
  'duplicate_sends',
  'resends_after_crash',
  'stuck_effects',
] as const;

/**
 * The lines of the suite's stderr that say where it was and what threw: its own progress lines and
 * the first line of any uncaught error (whose object dump can fill the tail).
 */
function headlines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((line) => /^\[faults |^\S*Error\b|^Uncaught|^node:/.test(line))
    .slice(-15)
    .join('\n');
}

test('--help prints the usage and exits 0; a bad option exits 2', async () => {
  const help = await runSuite(['--help'], 30_000);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--buyers N/);
  const bad = await runSuite(['--only', 'nosuchfault'], 30_000);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--only takes faults among/);
});

test('every fault at CI size keeps every guarantee', { timeout: 400_000 }, async () => {
  const run = await runSuite(['--buyers', '12', '--cut-seconds', '4', '--stuck-seconds', '5'], 380_000);
  const reports = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(
    reports.map((r) => r['fault']),
    [...FAULTS],
    `every fault reports (exit code ${run.code}); the suite's progress and errors:\n${headlines(run.stderr)}\nits stderr ends:\n${run.stderr.slice(-3000)}`,
  );
  for (const report of reports) {
    const label = `${String(report['fault'])}: ${JSON.stringify(report)}`;
    for (const counter of COUNTERS) {
      const value = report[counter];
      assert.ok(Number.isInteger(value) && (value as number) >= 0, `${label} has no counter ${counter}`);
    }
    assert.equal(report['buyers'], 12, label);
    assert.ok((report['acknowledged'] as number) > 12, `${label}: the buyers' updates were acknowledged`);
    const recovery = report['recovery_seconds'];
    assert.ok(typeof recovery === 'number' && recovery >= 0, `${label}: recovery_seconds`);
    assert.deepEqual(report['failures'], [], label);
    assert.equal(report['ok'], true, label);
  }
  assert.equal(run.code, 0, run.stderr.slice(-2000));
});

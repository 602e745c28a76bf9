import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BotflowError } from '../../src/errors.ts';
import { centsToReais, reaisToCents } from '../../src/payments/reais.ts';

describe('centavos ↔ reais', () => {
  it('prints centavos as the exact decimal and reads it back', () => {
    for (const [cents, text] of [
      [0, '0'],
      [1, '0.01'],
      [10, '0.1'],
      [1990, '19.9'],
      [100, '1'],
      [4999, '49.99'],
      [123456789, '1234567.89'],
      [999999999999, '9999999999.99'],
    ] as const) {
      assert.equal(JSON.stringify(centsToReais(cents)), text);
      assert.equal(reaisToCents(centsToReais(cents)), cents);
      assert.equal(reaisToCents(JSON.parse(text)), cents, 'through JSON as a gateway would send it');
    }
    // Every amount up to R$ 100,00 round-trips.
    for (let cents = 0; cents <= 10_000; cents++) assert.equal(reaisToCents(centsToReais(cents)), cents);
  });

  it('reads decimal strings and refuses anything that is not a whole number of centavos', () => {
    assert.equal(reaisToCents('19.90'), 1990);
    assert.equal(reaisToCents('7'), 700);
    assert.equal(reaisToCents(19.9), 1990);
    for (const bad of [0.1 + 0.2, 19.999, -1, Number.NaN, Infinity, 1e21, '1,50', '', '1.', 'abc', null, {}])
      assert.equal(reaisToCents(bad), null, String(bad));
  });

  it('refuses centavos that are not a non-negative integer', () => {
    for (const bad of [1.5, -1, Number.NaN, 2 ** 60])
      assert.throws(
        () => centsToReais(bad),
        (e) => e instanceof BotflowError && e.code === 'BAD_REQUEST',
      );
  });
});

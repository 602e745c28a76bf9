import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBrazilianPhone, isCpf, isEmail, matchesTextValidation } from '../../src/flow/text-validation.ts';

/** Computes CPF check digits independently of the code under test (mod-11 rule from Receita Federal). */
function withCheckDigits(nine: string): string {
  const digits = nine.split('').map(Number);
  for (const weightStart of [10, 11]) {
    const sum = digits.reduce((acc, d, i) => acc + d * (weightStart - i), 0);
    const r = sum % 11;
    digits.push(r < 2 ? 0 : 11 - r);
  }
  return digits.join('');
}

describe('text validations', () => {
  it('e-mail', () => {
    for (const ok of ['ana@example.com', '  ana.silva+vip@mail.com.br ', 'X_Y@sub.domain.io'])
      assert.ok(isEmail(ok), ok);
    for (const bad of [
      'ana',
      'ana@',
      '@example.com',
      'ana@example',
      'ana @example.com',
      'a@b.c',
      'ana@@x.com',
      'ana..b@x.com',
    ]) {
      assert.equal(isEmail(bad), false, bad);
    }
  });

  it('Brazilian phone, with or without +55, with or without punctuation', () => {
    for (const ok of [
      '+55 11 91234-5678',
      '5511912345678',
      '(11) 91234-5678',
      '11912345678',
      '011 91234-5678',
      '+55 (21) 3456-7890',
      '2134567890',
    ]) {
      assert.ok(isBrazilianPhone(ok), ok);
    }
    for (const bad of [
      '+1 415 555 0100',
      '1234',
      '(10) 91234-5678',
      '(01) 91234-5678',
      '11 81234-5678',
      '11 8123-4567',
      'abc',
      '+55 11 91234-56789',
      '',
    ]) {
      assert.equal(isBrazilianPhone(bad), false, bad);
    }
  });

  it('CPF with check digits', () => {
    for (const nine of ['529982247', '111444777', '123456789', '000000001']) {
      const cpf = withCheckDigits(nine);
      assert.ok(isCpf(cpf), cpf);
      assert.ok(isCpf(`${cpf.slice(0, 3)}.${cpf.slice(3, 6)}.${cpf.slice(6, 9)}-${cpf.slice(9)}`));
      const wrong = `${cpf.slice(0, 10)}${(Number(cpf[10]) + 1) % 10}`;
      assert.equal(isCpf(wrong), false, wrong);
    }
    assert.equal(isCpf('529.982.247-25'), true);
    for (const bad of ['111.111.111-11', '00000000000', '5299822472', '529-982-247.25', 'abcdefghijk'])
      assert.equal(isCpf(bad), false, bad);
  });

  it('contains and equals are case-insensitive after trimming; any needs something', () => {
    assert.ok(matchesTextValidation('equals', ' Sim ', '  sIM '));
    assert.ok(matchesTextValidation('equals', 'AÇÃO', 'ação'));
    assert.equal(matchesTextValidation('equals', 'sim', 'sim!'), false);
    assert.ok(matchesTextValidation('contains', 'quero', 'Eu QUERO o vip'));
    assert.equal(matchesTextValidation('contains', 'quero', 'não'), false);
    assert.equal(matchesTextValidation('contains', undefined, 'x'), false);
    assert.ok(matchesTextValidation('any', undefined, ' x '));
    assert.equal(matchesTextValidation('any', undefined, '   '), false);
    assert.ok(matchesTextValidation('email', undefined, ' a@b.co '));
  });
});

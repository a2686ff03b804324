import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { NullableString, StringEnum } from './schema-kinds';

describe('StringEnum', () => {
  const colour = StringEnum(['red', 'green'], { description: 'a colour' });

  it('is the plain JSON Schema enum', () => {
    expect(JSON.parse(JSON.stringify(colour))).toEqual({ description: 'a colour', type: 'string', enum: ['red', 'green'] });
  });

  it.each([
    ['red', true],
    ['green', true],
    ['RED', false],
    ['blue', false],
    [null, false],
    [1, false],
  ])('checks %j as %s with Value and TypeCompiler', (value, valid) => {
    expect(Value.Check(colour, value)).toBe(valid);
    expect(TypeCompiler.Compile(Type.Object({ colour })).Check({ colour: value })).toBe(valid);
  });
});

describe('NullableString', () => {
  const text = NullableString();

  it('is the plain JSON Schema type pair', () => {
    expect(JSON.parse(JSON.stringify(text))).toEqual({ type: ['string', 'null'] });
  });

  it.each([
    ['', true],
    ['x', true],
    [null, true],
    [undefined, false],
    [0, false],
    [{}, false],
  ])('checks %j as %s', (value, valid) => {
    expect(Value.Check(text, value)).toBe(valid);
    expect(TypeCompiler.Compile(text).Check(value)).toBe(valid);
  });
});

import { describe, expect, it } from 'vitest';
import { AtrousError } from '../../dist/index.js';
import { fromWireError, toWireError } from '../../dist/pool/error-transfer.js';

// What crosses the worker boundary is the structured clone of toWireError's result.
const cross = (error: Error) => fromWireError(structuredClone(toWireError(error)));

describe('errors across the worker boundary', () => {
  it('rebuilds an AtrousError with its code, message and cause chain', () => {
    const root = new TypeError('root');
    const back = cross(new AtrousError('INVALID_MODEL', 'outer', { cause: new AtrousError('UNSUPPORTED', 'inner', { cause: root }) }));
    expect(back).toBeInstanceOf(AtrousError);
    expect((back as AtrousError).code).toBe('INVALID_MODEL');
    expect(back.message).toBe('outer');
    const inner = back.cause as AtrousError;
    expect(inner).toBeInstanceOf(AtrousError);
    expect([inner.code, inner.message]).toEqual(['UNSUPPORTED', 'inner']);
    expect(inner.cause).toBeInstanceOf(Error);
    expect([(inner.cause as Error).name, (inner.cause as Error).message]).toEqual(['TypeError', 'root']);
  });

  it('keeps a plain error plain, a non-error cause as text, and stops on a cause that loops', () => {
    const plain = cross(new RangeError('out of range', { cause: { index: 3 } }));
    expect(plain).not.toBeInstanceOf(AtrousError);
    expect([plain.name, plain.message, plain.cause]).toEqual(['RangeError', 'out of range', '{"index":3}']);
    const loop = new Error('a');
    (loop as { cause?: unknown }).cause = loop;
    let depth = 0;
    for (let e: unknown = cross(loop); e instanceof Error; e = e.cause) depth++;
    expect(depth).toBeLessThan(12);
  });
});

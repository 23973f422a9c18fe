import { uuid7 } from '../../src/db/uuid7';
import { isUuid } from '../../src/pagination';

describe('uuid7', () => {
  it('makes valid version-7 uuids that sort in the order they were made, within one millisecond too', () => {
    const ids = Array.from({ length: 10_000 }, () => uuid7(1_780_000_000_000));
    expect(ids.every(isUuid)).toBe(true);
    expect(ids.every((id) => id[14] === '7' && '89ab'.includes(id[19]))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('carries the time: a later millisecond sorts after, and its first 48 bits are that millisecond', () => {
    const at = Date.now() + 10_000;
    const a = uuid7(at);
    const b = uuid7(at + 1);
    expect(a < b).toBe(true);
    expect(parseInt(b.replace(/-/g, '').slice(0, 12), 16)).toBe(at + 1);
  });
});

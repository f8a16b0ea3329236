import { LayeredMap } from './layered-map';

describe('LayeredMap', () => {
  it('reads through the changes to the base, and a deletion hides a base entry', () => {
    const base = LayeredMap.of([
      ['a', 1],
      ['b', 2],
    ]);
    const next = base.with([
      ['b', null],
      ['c', 3],
      ['a', 10],
    ]);
    expect([next.get('a'), next.get('b'), next.get('c'), next.has('b')]).toEqual([
      10,
      undefined,
      3,
      false,
    ]);
    // The map it was derived from is unchanged.
    expect([base.get('a'), base.get('b'), base.get('c')]).toEqual([1, 2, undefined]);
  });

  it('gives the same answers after the changes are folded into a new base', () => {
    let map = LayeredMap.of<string, number>([], 4);
    const expected = new Map<string, number>();
    for (let i = 0; i < 50; i++) {
      const key = `k${i % 7}`;
      if (i % 5 === 0) {
        map = map.with([[key, null]]);
        expected.delete(key);
      } else {
        map = map.with([[key, i]]);
        expected.set(key, i);
      }
      for (let k = 0; k < 7; k++) expect(map.get(`k${k}`)).toBe(expected.get(`k${k}`));
    }
  });
});

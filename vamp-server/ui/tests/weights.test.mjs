// The weight sliders' arithmetic (src/weights.ts, compiled here with Vite's esbuild): moving one route keeps
// the total at exactly 100 and shares the rest among the others in proportion.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { transformWithEsbuild } from 'vite';

const source = readFileSync(new URL('../src/weights.ts', import.meta.url), 'utf8');
const { code } = await transformWithEsbuild(source, 'weights.ts', { format: 'esm', loader: 'ts' });
const { rebalance, even, percent } = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);

const sum = (ws) => ws.reduce((a, b) => a + b, 0);

test('with two routes the other one takes the rest', () => {
  assert.deepEqual(rebalance([50, 50], 0, 90), [90, 10]);
  assert.deepEqual(rebalance([90, 10], 1, 100), [0, 100]);
});

test('the rest is shared in proportion and the total stays 100', () => {
  assert.deepEqual(rebalance([50, 30, 20], 0, 60), [60, 24, 16]);
  assert.deepEqual(rebalance([100, 0, 0], 0, 40), [40, 30, 30]);
  for (let v = 0; v <= 100; v += 7) {
    const w = rebalance([33, 33, 34, 0], 2, v);
    assert.equal(sum(w), 100, JSON.stringify(w));
    assert.equal(w[2], v);
  }
});

test('values are clamped and rounded', () => {
  assert.deepEqual(rebalance([50, 50], 0, 140), [100, 0]);
  assert.deepEqual(rebalance([50, 50], 0, -3), [0, 100]);
  assert.deepEqual(rebalance([50, 50], 0, 33.6), [34, 66]);
  assert.deepEqual(rebalance([100], 0, 20), [100]);
});

test('an even split adds up to 100', () => {
  assert.deepEqual(even(3), [34, 33, 33]);
  assert.deepEqual(even(2), [50, 50]);
  assert.equal(sum(even(7)), 100);
  assert.equal(percent('90%'), 90);
  assert.equal(percent(undefined), 0);
});

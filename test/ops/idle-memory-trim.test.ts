import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdleMemoryTrim, openLowMemoryCollector, TrimPolicy, youngGeneration, type TrimResult, type YoungGenerationSample } from '../../src/ops/idle-memory-trim.js';

const MB = 1024 * 1024;
const policy = () => new TrimPolicy({ grownBytes: 8 * MB, quietChecks: 3, quietBytesPerCheck: 1 * MB, minShareOfOld: 0.2 });
const sample = (used: number, capacity = 32 * MB, oldUsed = 50 * MB): YoungGenerationSample => ({ capacity, used: used * MB, oldUsed });

test('trims a grown young generation after three quiet checks, and not again until it is quiet anew', () => {
  const trim = policy();
  assert.equal(trim.check(sample(10)), false); // the first check has nothing to compare with
  assert.equal(trim.check(sample(10.1)), false);
  assert.equal(trim.check(sample(10.2)), false);
  assert.equal(trim.check(sample(10.3)), true);
  trim.trimmed();
  assert.equal(trim.check(sample(0.1)), false);
  assert.equal(trim.check(sample(0.2)), false);
});

test('a check with a scavenge or 1 MB of allocation since the last one is not quiet', () => {
  const trim = policy();
  trim.check(sample(10));
  trim.check(sample(10.1));
  trim.check(sample(10.2));
  assert.equal(trim.check(sample(2)), false); // used fell: a scavenge ran, the server allocates
  trim.check(sample(2.1));
  trim.check(sample(2.2));
  assert.equal(trim.check(sample(3.5)), false); // 1.3 MB in one check
  trim.check(sample(3.6));
  trim.check(sample(3.7));
  assert.equal(trim.check(sample(3.8)), true);
});

test('no trim of a young generation that has not grown, or that is small beside the old generation', () => {
  const small = policy();
  for (let i = 0; i < 5; i++) assert.equal(small.check(sample(1, 4 * MB)), false);
  const bigOld = policy();
  for (let i = 0; i < 5; i++) assert.equal(bigOld.check(sample(1, 32 * MB, 500 * MB)), false);
});

test('a low-memory collection gives back the young generation the process grew', async () => {
  const collect = await openLowMemoryCollector();
  assert.ok(collect, 'this Node has an inspector');
  // Objects that survive scavenges make V8 grow the young generation.
  let kept: object[] = [];
  const start = youngGeneration().capacity;
  for (let i = 0; i < 400_000 && youngGeneration().capacity <= start; i++) kept.push({ i, list: [i, i + 1] });
  const grown = youngGeneration().capacity;
  assert.ok(grown > start, `young generation grew (${start} -> ${grown})`);
  kept = [];
  await collect();
  assert.ok(youngGeneration().capacity < grown, `young generation shrank from ${grown} to ${youngGeneration().capacity}`);
  assert.equal(kept.length, 0);
});

test('the trim runs the collection when the policy says so, and reports it', async () => {
  let collections = 0;
  const trims: TrimResult[] = [];
  const samples = [sample(10), sample(10), sample(10), sample(10)];
  const trim = new IdleMemoryTrim(
    async () => {
      collections++;
    },
    (result) => trims.push(result),
    (error) => assert.fail(String(error)),
    policy(),
    () => samples.shift() ?? sample(10),
    3_600_000,
  );
  try {
    for (let i = 0; i < 3; i++) await trim.tick();
    assert.equal(collections, 0);
    await trim.tick();
    assert.equal(collections, 1);
    assert.equal(trims.length, 1);
    await trim.tick();
    assert.equal(collections, 1, 'counting quiet checks starts again after a trim');
  } finally {
    trim.stop();
  }
});

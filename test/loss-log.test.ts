// Loss log: CSV/JSONL lines, running means per epoch, resume after an interruption (lines past the
// checkpoint step and a cut-off last line dropped), and validation naming the line or field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LossLog, LossLogError, readLossLog, type LossRecord } from '../src/train/loss-log.js';
import { scratchDir } from './helpers.js';

const COMPONENTS = ['rpn_cls', 'rpn_reg', 'cls', 'reg', 'total'];

function tmp(name: string): string {
  return path.join(scratchDir('losslog-'), name);
}

/** Step s (1-based) of a run with 4 steps per epoch and made-up, exactly representable losses. */
function record(step: number): LossRecord {
  const l = [1 / step, 0.5 / step, 0.25, step * 0.125, 0];
  l[4] = l[0]! + l[1]! + l[2]! + l[3]!;
  return { step, epoch: Math.floor((step - 1) / 4), lr: 0.02 * (step < 3 ? step / 3 : 1), losses: Object.fromEntries(COMPONENTS.map((c, i) => [c, l[i]!])) };
}

async function writeSteps(log: LossLog, from: number, to: number): Promise<void> {
  for (let s = from; s <= to; s++) await log.append(record(s));
}

for (const ext of ['csv', 'jsonl'] as const) {
  test(`${ext}: lines read back exactly, running means per epoch`, async () => {
    const file = tmp(`loss.${ext}`);
    const log = await LossLog.open(file, { components: COMPONENTS });
    await writeSteps(log, 1, 10);
    assert.deepEqual(log.runningMeans(), { epoch: 2, count: 2, means: { rpn_cls: (1 / 9 + 1 / 10) / 2, rpn_reg: (0.5 / 9 + 0.5 / 10) / 2, cls: 0.25, reg: (9 + 10) * 0.125 / 2, total: (record(9).losses.total! + record(10).losses.total!) / 2 } });
    const e0 = log.epochMeans()[0]!;
    assert.equal(e0.count, 4);
    assert.equal(e0.means.reg, (0.125 + 0.25 + 0.375 + 0.5) / 4);
    assert.deepEqual(log.epochMeans().map((e) => e.epoch), [0, 1, 2]);
    await log.close();
    const back = await readLossLog(file);
    assert.deepEqual(back.components, COMPONENTS);
    assert.deepEqual(back.records, Array.from({ length: 10 }, (_, i) => record(i + 1)));
    assert.equal(back.droppedPartialLine, false);
    const text = readFileSync(file, 'utf8');
    if (ext === 'csv') assert.ok(text.startsWith('step,epoch,lr,rpn_cls,rpn_reg,cls,reg,total\n1,0,0.006666666666666666,1,0.5,0.25,0.125,1.875\n'), text.slice(0, 120));
    else assert.equal(text.split('\n')[0], '{"step":1,"epoch":0,"lr":0.006666666666666666,"rpn_cls":1,"rpn_reg":0.5,"cls":0.25,"reg":0.125,"total":1.875}');
  });

  test(`${ext}: resume drops lines past the checkpoint step and a cut-off last line`, async () => {
    const file = tmp(`loss.${ext}`);
    const log = await LossLog.open(file, { components: COMPONENTS });
    await writeSteps(log, 1, 9);
    await log.close();
    appendFileSync(file, ext === 'csv' ? '10,2,0.02,0.1,0.0' : '{"step":10,"epoch":2,"lr":0.0'); // killed mid-write
    assert.equal((await readLossLog(file)).droppedPartialLine, true);

    // The checkpoint was saved after step 6: steps 7..9 will be redone.
    const resumed = await LossLog.open(file, { components: COMPONENTS, resumeFromStep: 6 });
    assert.equal(resumed.lastRecord?.step, 6);
    assert.deepEqual(resumed.runningMeans(), { epoch: 1, count: 2, means: { rpn_cls: (1 / 5 + 1 / 6) / 2, rpn_reg: (0.5 / 5 + 0.5 / 6) / 2, cls: 0.25, reg: (5 + 6) * 0.125 / 2, total: (record(5).losses.total! + record(6).losses.total!) / 2 } });
    await writeSteps(resumed, 7, 12);
    await resumed.close();

    const uninterrupted = tmp(`ref.${ext}`);
    const ref = await LossLog.open(uninterrupted, { components: COMPONENTS });
    await writeSteps(ref, 1, 12);
    await ref.close();
    assert.equal(readFileSync(file, 'utf8'), readFileSync(uninterrupted, 'utf8'));
    assert.deepEqual(readdirSync(path.dirname(file)), [`loss.${ext}`]);
  });
}

test('resume with no log file starts one; open without resume replaces an old log', async () => {
  const file = tmp('loss.csv');
  const a = await LossLog.open(file, { components: ['total'], resumeFromStep: 5 });
  await a.append({ step: 6, epoch: 0, losses: { total: 1 } });
  await a.close();
  assert.equal(readFileSync(file, 'utf8'), 'step,epoch,lr,total\n6,0,,1\n');
  const b = await LossLog.open(file, { components: ['total'] });
  await b.close();
  assert.equal(readFileSync(file, 'utf8'), 'step,epoch,lr,total\n');
});

test('appends not awaited one by one still land in order; NaN losses are kept', async () => {
  const file = tmp('loss.jsonl');
  const log = await LossLog.open(file, { components: ['total'] });
  await Promise.all([1, 2, 3, 4, 5].map((s) => log.append({ step: s, epoch: 0, lr: 0.1, losses: { total: s === 3 ? NaN : s } })));
  await log.close();
  const back = await readLossLog(file);
  assert.deepEqual(back.records.map((r) => r.step), [1, 2, 3, 4, 5]);
  assert.ok(Number.isNaN(back.records[2]!.losses.total));
  assert.match(readFileSync(file, 'utf8'), /"total":null/);
});

test('bad records and lines are refused naming the field or line', async () => {
  const file = tmp('loss.csv');
  const log = await LossLog.open(file, { components: ['cls', 'total'] });
  await log.append({ step: 3, epoch: 1, losses: { cls: 1, total: 2 } });
  await assert.rejects(log.append({ step: 3, epoch: 1, losses: { cls: 1, total: 2 } }), /step 3 epoch 1 does not follow the last logged step 3 epoch 1/);
  await assert.rejects(log.append({ step: 4, epoch: 0, losses: { cls: 1, total: 2 } }), /does not follow/);
  await assert.rejects(log.append({ step: 4, epoch: 1, losses: { cls: 1, reg: 2 } }), /step 4: losses lack total and have unknown reg/);
  await assert.rejects(log.append({ step: 4.5, epoch: 1, losses: { cls: 1, total: 2 } }), /step must be a positive integer/);
  await log.close();
  assert.equal((await readLossLog(file)).records.length, 1);

  await assert.rejects(LossLog.open(tmp('loss.txt'), { components: ['total'] }), /unknown loss log format/);
  await assert.rejects(LossLog.open(tmp('loss.csv'), { components: ['a,b'] }), /component name "a,b"/);
  await assert.rejects(LossLog.open(file, { components: ['total'], resumeFromStep: 3 }), (err: Error) => err instanceof LossLogError && /line 1: components cls,total differ from the expected total/.test(err.message));

  writeFileSync(file, 'step,epoch,lr,total\n1,0,0.1,0.5\n2,0,0.1,abc\n3,0,0.1,0.5\n');
  await assert.rejects(readLossLog(file), /loss\.csv: line 3 total "abc" is not a number/);
  writeFileSync(file, 'step,epoch,lr,total\n2,0,0.1,0.5\n1,0,0.1,0.5\n');
  await assert.rejects(readLossLog(file), /line 3: step 1 epoch 0 does not follow step 2 epoch 0/);
});

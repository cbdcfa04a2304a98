// `hpa-detect merge` over a folder mixing good and bad sets: the good ones merge (to their
// goldens), each bad one is reported with its reason, exit code 1; resume skips valid outputs and
// redoes a corrupt one; --size, --max-pixels and usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync, readdirSync, truncateSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import sharp from 'sharp';
import { fixturesDir, repoRoot, scratchDir } from './helpers.js';
import { discoverChannelSets } from '../src/hpa/channels.js';
import { mergeFolder, type MergeFolderSummary } from '../src/hpa/merge-folder.js';
import { TEMP_PREFIX } from '../src/util/atomic.js';

const setsDir = path.join(fixturesDir, 'merge', 'sets');
const goldenDir = path.join(fixturesDir, 'merge', 'golden');
const bin = path.join(repoRoot, 'bin', 'hpa-detect.js');
const CH = ['red', 'green', 'blue', 'yellow'];

function copySet(from: string, to: string, dir: string): void {
  for (const c of CH) copyFileSync(path.join(setsDir, `${from}_${c}.png`), path.join(dir, `${to}_${c}.png`));
}

/** good: kaggle, field; bad: truncated PNG, empty file, missing channel, size mismatch. */
async function mixedFolder(): Promise<string> {
  const dir = scratchDir('hpa-merge-in-');
  copySet('kaggle', 'good1', dir);
  copySet('field', 'good2', dir);
  copySet('kaggle2', 'truncated', dir);
  truncateSync(path.join(dir, 'truncated_green.png'), 600);
  copySet('kaggle2', 'empty', dir);
  writeFileSync(path.join(dir, 'empty_yellow.png'), '');
  copySet('kaggle2', 'missing', dir);
  await import('node:fs/promises').then((fs) => fs.rm(path.join(dir, 'missing_blue.png')));
  copySet('kaggle2', 'mismatch', dir);
  await sharp(path.join(setsDir, 'kaggle2_blue.png')).resize(32, 32).toFile(path.join(dir, 'mismatch_blue.PNG'));
  await import('node:fs/promises').then((fs) => fs.rm(path.join(dir, 'mismatch_blue.png')));
  writeFileSync(path.join(dir, 'notes.txt'), 'not a channel file');
  return dir;
}

function runCli(args: string[]) {
  return spawnSync(process.execPath, [bin, 'merge', ...args], { encoding: 'utf8' });
}

async function rgbOf(file: string): Promise<Buffer> {
  return (await sharp(file).raw().toBuffer({ resolveWithObject: true })).data;
}

test('discovery reports the missing channel and takes any extension case', async () => {
  const dir = await mixedFolder();
  const scan = await discoverChannelSets(dir);
  assert.deepEqual(scan.sets.map((s) => s.id), ['empty', 'good1', 'good2', 'mismatch', 'truncated']);
  assert.equal(scan.incomplete.length, 1);
  assert.equal(scan.incomplete[0]!.id, 'missing');
  assert.deepEqual(scan.incomplete[0]!.missing, ['blue']);
  assert.match(scan.incomplete[0]!.reason, /missing blue/);
});

test('a mixed folder: good sets merge, each bad one is reported with its reason, exit 1', async () => {
  const dir = await mixedFolder();
  const out = scratchDir('hpa-merge-out-');
  const r = runCli([dir, out, '--json']);
  assert.equal(r.status, 1, r.stderr);
  const summary = JSON.parse(r.stdout) as MergeFolderSummary;
  assert.equal(summary.total, 6);
  assert.equal(summary.merged, 2);
  assert.equal(summary.failed, 4);
  const byId = Object.fromEntries(summary.failures.map((f) => [f.id, f]));
  assert.equal(byId.truncated?.kind, 'corrupt-file');
  assert.match(byId.truncated!.reason, /truncated_green\.png/);
  assert.equal(byId.empty?.kind, 'empty-file');
  assert.match(byId.empty!.reason, /empty_yellow\.png/);
  assert.equal(byId.missing?.kind, 'missing-channel');
  assert.equal(byId.mismatch?.kind, 'size-mismatch');
  assert.match(byId.mismatch!.reason, /mismatch_blue\.PNG 32x32/);
  // the summary file says the same
  const onDisk = JSON.parse(readFileSync(path.join(out, 'merge-summary.json'), 'utf8')) as MergeFolderSummary;
  assert.deepEqual(onDisk.failures, summary.failures);
  // outputs: exactly the good ones, equal to the independent goldens
  assert.deepEqual(readdirSync(out).sort(), ['good1.png', 'good2.png', 'merge-summary.json']);
  assert.ok((await rgbOf(path.join(out, 'good1.png'))).equals(await rgbOf(path.join(goldenDir, 'kaggle_sum.png'))));
  assert.ok((await rgbOf(path.join(out, 'good2.png'))).equals(await rgbOf(path.join(goldenDir, 'field_sum.png'))));
  assert.match(r.stderr, /4 of 6 sets failed/);
});

test('resume: valid outputs are skipped, a corrupt output and stale temp files are redone', async () => {
  const dir = scratchDir('hpa-merge-in-');
  copySet('kaggle', 'a', dir);
  copySet('field', 'b', dir);
  const out = scratchDir('hpa-merge-out-');
  const first = await mergeFolder(dir, out, { progress: false, mode: 'average' });
  assert.deepEqual([first.merged, first.skipped, first.failed], [2, 0, 0]);

  const again = await mergeFolder(dir, out, { progress: false, mode: 'average' });
  assert.deepEqual([again.merged, again.skipped], [0, 2]);

  const png = path.join(out, 'a.png');
  truncateSync(png, 200); // as a crash in a non-atomic writer would leave it
  writeFileSync(path.join(out, `${TEMP_PREFIX}dead-b.png`), 'partial');
  const third = await mergeFolder(dir, out, { progress: false, mode: 'average' });
  assert.deepEqual([third.merged, third.skipped], [1, 1]);
  assert.ok((await rgbOf(png)).equals(await rgbOf(path.join(goldenDir, 'kaggle_average.png'))));
  assert.ok(!existsSync(path.join(out, `${TEMP_PREFIX}dead-b.png`)));

  // an output of the wrong size (here: --size changed) is redone too
  const resized = await mergeFolder(dir, out, { progress: false, size: 32 });
  assert.deepEqual([resized.merged, resized.skipped], [2, 0]);
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.width, meta.height], [32, 32]);
});

test('--max-pixels fails every set over the limit with its reason', async () => {
  const dir = scratchDir('hpa-merge-in-');
  copySet('kaggle', 'a', dir);
  const out = scratchDir('hpa-merge-out-');
  const r = runCli([dir, out, '--max-pixels', '1000']);
  assert.equal(r.status, 1);
  const summary = JSON.parse(readFileSync(path.join(out, 'merge-summary.json'), 'utf8')) as MergeFolderSummary;
  assert.equal(summary.failures[0]?.kind, 'pixel-limit');
  assert.match(summary.failures[0]!.reason, /4096 pixels is over the limit of 1000/);
});

test('usage errors exit 2: bad --size, missing input folder, unknown mode', () => {
  const out = scratchDir('hpa-merge-out-');
  assert.equal(runCli([setsDir, out, '--size', '0']).status, 2);
  const missing = runCli([path.join(out, 'nope'), out]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope/);
  assert.equal(runCli([setsDir, out, '--mode', 'max']).status, 2);
  const ok = runCli([setsDir, out, '--size', '16']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /merged 6/);
});

test('a kill mid-run leaves only complete PNGs (plus temp files the next run removes)', async () => {
  const dir = scratchDir('hpa-merge-in-');
  // noise compresses slowly: each 768² set takes long enough to be killed while writing
  const noise = () => sharp(randomBytes(768 * 768), { raw: { width: 768, height: 768, channels: 1 } }).png({ compressionLevel: 0 });
  for (let s = 0; s < 6; s++) for (const c of CH) await noise().toFile(path.join(dir, `n${s}_${c}.png`));
  const out = scratchDir('hpa-merge-out-');
  const child = spawn(process.execPath, [bin, 'merge', dir, out, '--concurrency', '2'], { stdio: 'ignore' });
  const exited = new Promise((r) => child.on('exit', r));
  // kill it the moment a PNG is being written (a temp file exists): the worst moment
  let caughtMidWrite = false;
  const deadline = Date.now() + 20_000;
  while (!caughtMidWrite && child.exitCode === null && Date.now() < deadline) {
    caughtMidWrite = readdirSync(out).some((n) => n.startsWith(TEMP_PREFIX));
    if (!caughtMidWrite) await new Promise((r) => setTimeout(r, 2));
  }
  child.kill('SIGKILL');
  await exited;
  assert.ok(caughtMidWrite, 'the run was killed while a PNG was being written');
  for (const name of readdirSync(out)) {
    if (name.startsWith(TEMP_PREFIX)) continue;
    const { info } = await sharp(path.join(out, name)).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [768, 768], name);
  }
  const rest = await mergeFolder(dir, out, { progress: false });
  assert.equal(rest.failed, 0);
  assert.equal(rest.merged + rest.skipped, 6);
  assert.deepEqual(readdirSync(out).filter((n) => n.startsWith(TEMP_PREFIX)), []);
});

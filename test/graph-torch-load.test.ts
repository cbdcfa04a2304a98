/**
 * Loading an ONNX file exported by torch (Debian's torch 1.13, opset 17): initializers by their
 * state_dict names, the same outputs when re-serialized by us, and gradients of the loaded graph
 * equal to torch autograd's. Needs /usr/bin/python3 with torch (skipped locally, fails under CI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hasPythonModules, need, systemPython } from './helpers.js';
import { loadModel, readInitializers } from '../src/graph/load.js';
import { buildGradient } from '../src/graph/autodiff.js';
import { runGraph } from '../src/graph/ort.js';
import { tensor } from '../src/graph/values.js';

const SCRIPT = String.raw`
import io, json, base64, torch
torch.manual_seed(0)
m = torch.nn.Sequential(
    torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
    torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 4, 3, stride=2, padding=1),
    torch.nn.Upsample(scale_factor=2, mode='nearest'), torch.nn.Flatten(), torch.nn.Linear(64, 3)).eval()
with torch.no_grad():
    m[1].running_mean.uniform_(-0.5, 0.5); m[1].running_var.uniform_(0.5, 1.5)
x = torch.randn(2, 3, 8, 8)
f = io.BytesIO()
torch.onnx.export(m, x, f, opset_version=17, input_names=['x'], output_names=['y'], do_constant_folding=False,
                  training=torch.onnx.TrainingMode.PRESERVE)
r = torch.randn(2, 3)
y = m(x)
(y * r).sum().backward()
trainable = ['0.weight', '0.bias', '1.weight', '1.bias', '4.weight', '7.weight', '7.bias']
print(json.dumps({
  'onnx': base64.b64encode(f.getvalue()).decode(),
  'x': x.reshape(-1).tolist(), 'r': r.reshape(-1).tolist(), 'y': y.detach().reshape(-1).tolist(),
  'state': {k: v.reshape(-1).tolist() for k, v in m.state_dict().items() if v.dtype == torch.float32},
  'grads': {k: dict(m.named_parameters())[k].grad.reshape(-1).tolist() for k in trainable},
}))
`;

interface Ref {
  onnx: string;
  x: number[];
  r: number[];
  y: number[];
  state: Record<string, number[]>;
  grads: Record<string, number[]>;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

test('a torch-exported model loads with its state_dict names, runs, and differentiates like torch', async (t) => {
  if (!need(t, hasPythonModules(['torch']), `${systemPython} with torch (apt-get install python3-torch)`)) return;
  const p = spawnSync(systemPython, ['-c', SCRIPT], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(p.status, 0, p.stderr);
  const ref = JSON.parse(p.stdout) as Ref;
  const bytes = new Uint8Array(Buffer.from(ref.onnx, 'base64'));

  const inits = readInitializers(bytes);
  for (const [name, values] of Object.entries(ref.state)) {
    const got = inits.get(name);
    assert.ok(got, `initializer ${name} present`);
    assert.deepEqual(Array.from(got.data as Float32Array), Array.from(Float32Array.from(values)), name);
  }

  const g = loadModel(bytes);
  assert.deepEqual(g.value('y').shape, [2, 3]);
  const x = tensor(Float32Array.from(ref.x), [2, 3, 8, 8]);
  const y = (await runGraph(g, { x }))['y']!;
  assert.ok(maxRel(y.data as Float32Array, ref.y) < 1e-5, 'forward output');

  const loss = g.op('ReduceSum', [g.op('Mul', ['y', g.constant(tensor(Float32Array.from(ref.r), [2, 3]))])], { keepdims: 0 });
  const names = Object.keys(ref.grads);
  const grads = buildGradient(g, { loss, params: names });
  for (const n of names) g.output(grads.get(n)!, `grad.${n}`);
  const out = await runGraph(g, { x });
  for (const n of names) {
    const e = maxRel(out[`grad.${n}`]!.data as Float32Array, ref.grads[n]!);
    assert.ok(e <= 1e-4, `grad.${n}: relative error ${e}`);
  }
});

/** Test/benchmark fixture for predict: a weights file of seeded random weights, as a torchvision export or as our checkpoint. */
import { buildSegment1, buildSegment2 } from '../src/models/faster-rcnn.js';
import { type ConfigOverrides, fasterRcnnConfig } from '../src/models/presets.js';
import { RandomWeights, type ParamRequest, type WeightSource } from '../src/models/weights.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import type { HostTensor } from '../src/io/tensor.js';
import { CHECKPOINT_FORMAT } from '../src/train/checkpoint.js';

/**
 * Write the parameters `preset` + `overrides` asks for, drawn from RandomWeights(seed). With
 * `stored`: names under `param/` and the model config in `__metadata__` as the Trainer stores it
 * (`model: { preset, config }`); otherwise torchvision's names and no metadata.
 */
export async function writeRandomModel(file: string, preset: string, overrides: ConfigOverrides, seed: number, o: { stored?: boolean } = {}): Promise<void> {
  const config = fasterRcnnConfig(preset, overrides);
  const random = new RandomWeights(seed);
  const tensors = new Map<string, HostTensor>();
  const recorder: WeightSource = {
    get(req: ParamRequest) {
      const t = random.get(req);
      tensors.set(`${o.stored ? 'param/' : ''}${req.name}`, { dtype: 'F32', shape: [...t.dims], data: t.data as Float32Array });
      return t;
    },
  };
  buildSegment1(config, recorder);
  buildSegment2(config, recorder);
  const metadata = o.stored ? { format: CHECKPOINT_FORMAT, checkpoint: JSON.stringify({ model: { preset, config: overrides } }) } : undefined;
  await writeSafetensors(file, tensors, metadata);
}

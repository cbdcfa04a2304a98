/** `hpa-detect info`: versions of the pieces underneath and the ONNX Runtime backends present. */
import type { CommandModule } from 'yargs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { native, packageRoot } from '../../native.js';

const require = createRequire(import.meta.url);

export interface InfoReport {
  hpaDetect: string;
  node: string;
  nativeAddon: string;
  sharp: string;
  onnxruntimeNode: string;
  onnxruntimeBackends: { name: string; bundled: boolean }[];
}

export async function collectInfo(): Promise<InfoReport> {
  const pkg = require(path.join(packageRoot, 'package.json')) as { version: string };
  const sharp = (await import('sharp')).default;
  const ort = require('onnxruntime-node') as {
    listSupportedBackends?: () => { name: string; bundled: boolean }[];
  };
  const ortPkg = require('onnxruntime-node/package.json') as { version: string };
  return {
    hpaDetect: pkg.version,
    node: process.version,
    nativeAddon: native.version,
    sharp: sharp.versions.sharp ?? 'unknown',
    onnxruntimeNode: ortPkg.version,
    onnxruntimeBackends: ort.listSupportedBackends?.() ?? [],
  };
}

export const infoCommand: CommandModule<object, { json: boolean }> = {
  command: 'info',
  describe: 'Print versions and the ONNX Runtime execution providers available',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' }),
  handler: async (argv) => {
    const info = await collectInfo();
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
      return;
    }
    const backends = info.onnxruntimeBackends
      .map((b) => `${b.name}${b.bundled ? '' : ' (needs provider libraries)'}`)
      .join(', ');
    process.stdout.write(
      [
        `hpa-detect       ${info.hpaDetect}`,
        `node             ${info.node}`,
        `native addon     ${info.nativeAddon}`,
        `sharp            ${info.sharp}`,
        `onnxruntime-node ${info.onnxruntimeNode}`,
        `ORT backends     ${backends}`,
      ].join('\n') + '\n',
    );
  },
};

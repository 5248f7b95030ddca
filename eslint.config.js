import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The library's layers, lowest first: a file may import its own layer and any layer below it,
 * never one above (DEVELOPERS.md: backend → nn → adapters → io → models/data/train →
 * recipes/jobs/server/store → cli). Layers on one row are siblings and do not import each other.
 * Within the two middle tiers the order the code already has is fixed too: data sits below models,
 * models below train; store and recipes below jobs and server.
 */
const LAYERS = [
  // Every layer throws, logs and draws random numbers: these leaf files import nothing from the library.
  [['base', 'src/{errors,rng,logger}.ts']],
  [['backend', 'src/backend/**']],
  [['nn', 'src/nn/**']],
  [['adapters', 'src/adapters/**']],
  [['io', 'src/io/**']],
  [['data', 'src/data/**']],
  [['models', 'src/models/**']],
  [['train', 'src/train/**']],
  [
    ['recipes', 'src/recipes/**'],
    ['store', 'src/store/**'],
  ],
  // The package entries `adapterkit` and `adapterkit/node`: they re-export the library layers only.
  [['entry', 'src/{index,node}.ts']],
  [
    ['jobs', 'src/jobs/**'],
    ['server', 'src/server/**'],
  ],
  [['cli', 'src/cli/**']],
];

// Layers are file categories (file patterns match the whole path from the repository root).
const files = LAYERS.flat().map(([category, pattern]) => ({ category, pattern }));

/** Each layer may import itself and every layer on a lower row. */
const layerPolicies = LAYERS.flatMap((row, i) => {
  const below = LAYERS.slice(0, i)
    .flat()
    .map(([type]) => type);
  return row.map(([layer]) => ({
    from: { file: { categories: layer } },
    allow: { to: { file: { categories: [layer, ...below] } } },
  }));
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'runs/', 'coverage/', 'native/build/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The CLI launcher is plain JavaScript that Node runs (scripts declare their globals in a comment).
    files: ['bin/**/*.js'],
    languageOptions: { globals: globals.node },
  },
  {
    // Imports point downward only.
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/files': files,
      'boundaries/include': ['src/**/*.ts'],
      // Resolves the `.js` specifiers of ESM TypeScript to their `.ts` files.
      'import/resolver': { typescript: { project: './tsconfig.json' } },
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          message:
            '{{from.file.categories}} must not import {{to.file.categories}}: imports point downward only (see eslint.config.js LAYERS)',
          policies: [
            // Packages and Node built-ins are not layers; which entry may reach Node is tested in test/package.
            { allow: { to: { module: { origin: ['external', 'core'] } } } },
            ...layerPolicies,
          ],
        },
      ],
      // Every file under src/ belongs to a layer: a new top-level folder must be placed in LAYERS.
      'boundaries/no-unknown-files': 'error',
      'boundaries/no-unknown-dependencies': 'error',
    },
  },
);

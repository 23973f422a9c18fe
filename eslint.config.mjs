// Lint (typescript-eslint) and the import boundaries of DESIGN.md:
// - resolvers/ and workers/ are edges: they talk to services, never to the database or the event bus;
// - src/ is the core: it imports neither resolvers/ nor workers/ (only the composition root, src/app.ts, does);
// - cli/ is a program of its own that talks to a gateway through the public API: it imports client/, never the server.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const edgeBoundary = {
  patterns: [
    { group: ['**/src/db', '**/src/db/**'], message: 'Edges (resolvers/, workers/) do not touch the database: call a service in src/.' },
    {
      group: ['**/src/events/bus', '**/src/events/bus.*'],
      message: 'Edges (resolvers/, workers/) do not touch the event bus: use the live service (src/live).',
    },
  ],
};
const coreBoundary = {
  patterns: [
    {
      group: ['**/resolvers', '**/resolvers/**', '**/workers', '**/workers/**'],
      message: 'src/ does not import resolvers/ or workers/: the composition root (src/app.ts) wires them in.',
    },
  ],
};
const cliBoundary = {
  patterns: [
    {
      group: ['**/src', '**/src/**', '**/resolvers', '**/resolvers/**', '**/workers', '**/workers/**'],
      message: 'cli/ talks to the gateway only through the public API: import client/, not the server.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', '.jobwire/', 'client/generated/', 'web/graphiql/**/*.js', 'migrations/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        require: 'readonly',
        module: 'writable',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-empty-object-type': 'off',
    },
  },
  { files: ['resolvers/**/*.ts', 'workers/**/*.ts'], rules: { 'no-restricted-imports': ['error', edgeBoundary] } },
  { files: ['cli/**/*.ts', 'cli/**/*.js'], rules: { 'no-restricted-imports': ['error', cliBoundary] } },
  { files: ['src/**/*.ts'], ignores: ['src/app.ts'], rules: { 'no-restricted-imports': ['error', coreBoundary] } },
);

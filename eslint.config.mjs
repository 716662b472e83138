import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.local/**', 'bin/**', 'jest.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The domain imports no infrastructure (DEVELOPERS.md, STYLE.md).
    files: ['src/aggregates/**', 'src/commands/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            'pg',
            'ioredis',
            'kafkajs',
            'stripe',
            'express',
            '@clickhouse/client',
            '@kurrent/kurrentdb-client',
          ],
          patterns: [
            '**/infra/**',
            '**/gateway/**',
            '**/projections/**',
            '**/eventstore/postgres*',
            '**/eventstore/kurrent*',
          ],
        },
      ],
    },
  },
);

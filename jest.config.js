/** Two projects, one layout: test/unit (nothing running; in-memory adapters) and test/integration
 * (the real services that infra/local/stack.sh starts); contract suites in test/contract run in both. */
const transform = { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
module.exports = {
  // Integration tests wait on real services (Kafka group joins take seconds).
  testTimeout: 60000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/contract/**/*.memory.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/contract/**/*.real.test.ts'],
      setupFiles: ['<rootDir>/test/support/load-env.ts'],
    },
  ],
};

/** Two projects: unit tests need nothing running; integration tests talk to the real
 * services that infra/local/stack.sh starts. */
const transform = { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] };
module.exports = {
  // Integration tests wait on real services (Kafka group joins take seconds).
  testTimeout: 60000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: [
        '<rootDir>/src/**/*.test.ts',
        '<rootDir>/test/unit/**/*.test.ts',
        '<rootDir>/test/contract/**/*.memory.test.ts',
      ],
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

// Jest: the editor's unit tests (src/**/*.test.ts[x]) in jsdom, compiled by
// SWC as @grafana/create-plugin's template does.
module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/src'],
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  transform: {
    '^.+\\.(t|j)sx?$|^.+\\.mjs$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript', tsx: true }, transform: { react: { runtime: 'classic' } } } }],
  },
  // @grafana/ui and @grafana/data load many ES-module-only packages (d3,
  // marked, @react-hookz, …): SWC compiles node_modules too (fast, cached).
  transformIgnorePatterns: [],
  moduleNameMapper: { '\\.(css|scss|sass)$': 'identity-obj-proxy' },
  setupFilesAfterEnv: ['<rootDir>/jest-setup.js'],
};

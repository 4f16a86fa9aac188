import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', '.lab/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error',
        { selector: "CallExpression[callee.object.name='it'][callee.property.name=/^(only|skip)$/]", message: 'no focused or skipped tests' },
        { selector: "CallExpression[callee.object.name='describe'][callee.property.name=/^(only|skip)$/]", message: 'no focused or skipped tests' },
        { selector: "CallExpression[callee.object.name='test'][callee.property.name=/^(only|skip)$/]", message: 'no focused or skipped tests' }],
    },
  },
  // Layer rules (docs/architecture.md). Each block lists what its files may not import.
  ...layerRules(),
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config/load.ts', 'src/cli/**', 'src/sim/**'],
    rules: { 'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'only config/load reads process.env' }] },
  },
);

/**
 * no-restricted-imports per layer: only src/openstack speaks HTTP to the cloud (through the one bounded transport,
 * src/shared/http-exchange; src/fencing uses it for Redfish BMCs and src/notifier for webhook gateways), only src/pipeline
 * imports bullmq, the detector never imports the pipeline or the evacuator, and src/sim is imported only by the
 * demo (src/app/demo.ts) and the CLI. Only the Nova adapter (src/compute/nova) and the composition root (src/app,
 * the CLI's context builder) import NovaApi outside src/openstack, and only they import an adapter (src/compute/nova,
 * src/compute/cloudpods; src/app/cloud-adapter.ts picks one by `[cloud] type`): everything else
 * speaks the compute-backend port (src/compute/types.ts). A file matching several blocks gets the union of their
 * patterns, so each block below carries every rule that applies to its files.
 */
function layerRules() {
  const axios = { group: ['axios', 'axios/*', '**/shared/http-exchange.js'], message: 'only src/openstack speaks HTTP to the cloud' };
  const bullmq = { group: ['bullmq', 'bullmq/*'], message: 'only src/pipeline imports bullmq' };
  const sim = { group: ['**/sim/*', '../sim', './sim'], message: 'src/sim is imported only by the demo and the CLI' };
  const pipeline = { group: ['**/pipeline/*', '**/evacuator/*'], message: 'the detector never imports the pipeline or the evacuator' };
  const novaApi = {
    group: ['**/openstack/index.js', '**/openstack/types.js', '**/openstack/nova.js'], importNames: ['NovaApi', 'NovaClient'],
    message: 'outside src/openstack only the Nova adapter (src/compute/nova) and the composition root import NovaApi; use the compute-backend port (src/compute/types.ts)',
  };
  const adapter = { group: ['**/compute/nova/*', '**/compute/nova', '**/compute/cloudpods/*', '**/compute/cloudpods'], message: 'only the composition root (src/app, src/cli/context.ts) picks the compute adapter; use the port' };
  const block = (files, ignores, patterns) => ({ files, ignores, rules: { 'no-restricted-imports': ['error', { patterns }] } });
  // The composition root's leader-only wrapper of the Nova client (the adapter is built around it).
  const wrapsNova = ['src/leadership/leader-only.ts'];
  return [
    block(['src/**/*.ts'], ['src/openstack/**', 'src/pipeline/**', 'src/sim/**', 'src/cli/**', 'src/app/**', 'src/compute/nova/**', 'src/compute/cloudpods/**', 'src/detector/**', 'src/notifier/**', 'src/fencing/**', 'src/shared/**', ...wrapsNova],
      [axios, bullmq, sim, novaApi, adapter]),
    block(['src/app/**/*.ts'], ['src/app/demo.ts'], [axios, bullmq, sim]),
    block(wrapsNova, [], [axios, bullmq, sim, adapter]),
    block(['src/compute/nova/**/*.ts'], [], [axios, bullmq, sim]),
    // The Cloudpods adapter speaks the region through src/openstack/cloudpods.ts, never Nova.
    block(['src/compute/cloudpods/**/*.ts'], [], [axios, bullmq, sim, novaApi]),
    // Webhook channels speak HTTP to notification gateways, Redfish to BMCs: not to the cloud.
    block(['src/notifier/**/*.ts', 'src/fencing/**/*.ts'], [], [bullmq, sim, novaApi, adapter]),
    block(['src/shared/**/*.ts'], [], [bullmq, sim, novaApi, adapter]),
    block(['src/detector/**/*.ts'], [], [axios, bullmq, sim, pipeline, novaApi, adapter]),
    block(['src/openstack/**/*.ts'], [], [bullmq, sim]),
    block(['src/pipeline/**/*.ts'], [], [axios, sim, novaApi, adapter]),
    block(['src/cli/**/*.ts'], ['src/cli/context.ts'], [axios, bullmq, novaApi, adapter]),
    block(['src/cli/context.ts', 'src/app/demo.ts'], [], [axios, bullmq]),
    block(['src/sim/**/*.ts'], [], [bullmq]),
  ];
}

/**
 * Which layer may import which (docs/architecture.md): `npm run lint:deps`,
 * part of `npm test`. A violation prints the rule's name and the import.
 *
 *   bin → src/cli → src/node → src/engine → src/vm, src/oci, src/store
 *   src/ui → src/engine (the page and its worker)
 *   src/sw → src/ui/port-protocol.ts (the service worker)
 *
 * The compiler enforces the same from its side (each layer's tsconfig
 * references only the layers below it); this check also covers imports the
 * compiler lets through (a type-only import of a layer above, a file the
 * configs do not list) and cycles, and says which rule broke.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'engine-not-to-node-cli-ui',
      comment: 'The engine runs in a Web Worker and in Node alike: it may not import the Node host (src/node), the CLI or the page (src/ui).',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/(node|cli|ui)/' },
    },
    {
      name: 'vm-oci-store-not-to-engine-node-cli-ui',
      comment: 'src/vm, src/oci and src/store are below the engine: they may not import it or anything above it.',
      severity: 'error',
      from: { path: '^src/(vm|oci|store)/' },
      to: { path: '^src/(engine|node|cli|ui)/' },
    },
    {
      name: 'store-not-to-vm-engine',
      comment: 'The stores keep bytes and records; they know nothing of the guest (src/vm) or the engine.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/(vm|engine)/' },
    },
    {
      name: 'node-not-to-ui',
      comment: 'The Node host (src/node) may not import the page (src/ui).',
      severity: 'error',
      from: { path: '^src/node/' },
      to: { path: '^src/ui/' },
    },
    {
      name: 'ui-not-to-node-cli',
      comment: 'The page and its workers (src/ui) run in a browser: they may not import the Node host (src/node) or the CLI.',
      severity: 'error',
      from: { path: '^src/ui/' },
      to: { path: '^src/(node|cli)/' },
    },
    {
      name: 'sw-only-to-port-protocol',
      comment: 'The service worker (src/sw) runs apart from the page and the engine: of the rest of src it may import only the port protocol it shares with them.',
      severity: 'error',
      from: { path: '^src/sw/' },
      to: { path: '^src/', pathNot: ['^src/sw/', '^src/ui/port-protocol\\.ts$'] },
    },
    {
      name: 'src-not-to-tests-bench',
      comment: 'What ships (src/) may not import tests or benchmarks (a shared test suite belongs under tests/).',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(tests|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'No module may import itself through others, type-only imports included: a cycle makes two modules one.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // The layers' own sources, and the service worker (it shares src/ui/port-protocol.ts).
    includeOnly: '^(src|tests|bench|bin)/',
    // `import type` counts: a type-only import of a layer above is still the wrong direction.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs', '.json', '.d.ts'],
      conditionNames: ['import', 'module', 'default', 'types'],
    },
  },
};

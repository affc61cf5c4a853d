/**
 * Switchboard's architecture, checked by `make arch` (part of `make test`).
 *
 * A "unit" is one of: controller/api, controller/runtime, controller/<kind>, the root files of
 * controller/, connectors/<provider>, the root files of connectors/, test/<folder>, webhooks, crds,
 * bench, bin, hack. A unit's index.ts is its public face (docs/DESIGN "Code layout"): other units
 * import it and nothing else, so a folder can change its insides without breaking its neighbours.
 *
 * TypeScript 7 has no JavaScript API, so dependency-cruiser reads the sources with swc
 * (@swc/core, a dev dependency) instead of the TypeScript compiler.
 */

// Every unit, as the group $1 the rules below refer to. Folder units first; the root files of
// controller/ and connectors/ are matched by the rules that name them.
const FOLDER_UNIT = '^(controller/[^/]+|connectors/[^/]+|test/[^/]+|webhooks|crds|bench|bin|hack)/'
const ROOT_FILES = '^(controller|connectors)/[^/]+$'
// The public face of each unit: the index.ts of a folder unit, or of controller/ and connectors/.
// test/sandbox/<provider>/index.ts is the face of one provider's sandbox.
const PUBLIC_FACE =
  '^(controller/[^/]+|connectors/[^/]+|test/sandbox/[^/]+|test/[^/]+|webhooks|crds|bench|bin|hack|controller|connectors)/index\\.ts$'
// Project code (anything the rules are about; npm packages and node built-ins are not).
const PROJECT = '^(controller|connectors|test|webhooks|crds|bench|bin|hack)/'
const TEST_FILE = '\\.test\\.ts$'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'A cycle makes two modules one: neither can be loaded, tested or changed alone, and the ' +
        'order in which Node evaluates them decides what is still undefined at import time.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-reaching-into-internals',
      comment:
        "A unit may use another only through that unit's index.ts, its public face: what is " +
        'behind it can then be moved or rewritten without touching the units that use it. ' +
        "Connectors' provider folders have their own rule (connectors-through-shared-layers), " +
        'tests theirs (no-reaching-into-internals-from-tests).',
      severity: 'error',
      from: { path: FOLDER_UNIT, pathNot: ['^connectors/', TEST_FILE] },
      to: { path: PROJECT, pathNot: ['^$1/', PUBLIC_FACE] },
    },
    {
      name: 'no-reaching-into-internals-from-tests',
      comment:
        'A test (*.test.ts) may use the internals of the unit it sits in, any helper in test/ ' +
        '(the sandbox, the control plane, the shipping checks) and the dev scripts in hack/ it ' +
        "tests (they have no index.ts); other units' code only through their index.ts, so a " +
        "test does not pin another folder's insides.",
      severity: 'error',
      from: { path: `${FOLDER_UNIT}.*${TEST_FILE}`, pathNot: '^connectors/' },
      to: { path: PROJECT, pathNot: ['^$1/', PUBLIC_FACE, '^test/', '^hack/'] },
    },
    {
      name: 'no-reaching-into-internals-from-root-files',
      comment:
        'The root files of controller/ (the manager) and connectors/ (the registry and the ' +
        'shared errors, log, delivery and credentials helpers) use the other units through ' +
        'their index.ts too, as any unit does (tests among them may use the helpers in test/; ' +
        'production code may not, see production-not-on-test-code).',
      severity: 'error',
      from: { path: ROOT_FILES },
      to: { path: PROJECT, pathNot: ['^$1/[^/]+$', PUBLIC_FACE, '^test/'] },
    },
    {
      name: 'connectors-through-shared-layers',
      comment:
        'A provider folder in connectors/ is built on the shared layers of connectors/: the ' +
        'HTTP layer (connectors/http), the casino toolkit (connectors/casino) and the root ' +
        'files (errors, log, delivery, credentials), so it may use their modules directly. ' +
        "Another provider's folder, and every unit outside connectors/, only through its " +
        "index.ts. Tests may use test/'s helpers (production code may not, see " +
        'production-not-on-test-code).',
      severity: 'error',
      from: { path: '^(connectors/[^/]+)/' },
      to: {
        path: PROJECT,
        pathNot: ['^$1/', PUBLIC_FACE, '^connectors/(http|casino)/', '^connectors/[^/]+$', '^test/'],
      },
    },
    {
      name: 'api-is-the-contract',
      comment:
        'controller/api holds the zod schemas of every kind and the webhook contract that both ' +
        'the controller and the webhooks server depend on; it depends on nothing but zod and ' +
        'node built-ins, so either side can use it without pulling in the other.',
      severity: 'error',
      from: { path: '^controller/api/' },
      to: { pathNot: ['^controller/api/', '(^|/)node_modules/zod/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'production-not-on-test-code',
      comment:
        'What ships in the image (controller, connectors, webhooks, crds, bin) never loads the ' +
        'tests, the sandbox, the benchmarks or the dev scripts: they are not in the image, and ' +
        'fakes must not be reachable from a running operator. Unit tests (*.test.ts) sit ' +
        'beside the code and may use the helpers in test/.',
      severity: 'error',
      from: { path: '^(controller|connectors|webhooks|crds|bin)/', pathNot: TEST_FILE },
      to: { path: '^(test|bench|hack)/' },
    },
    {
      name: 'unit-tests-not-on-bench-or-hack',
      comment:
        "Unit tests beside production code may use test/'s helpers, but not the benchmarks or " +
        'the dev scripts, which are tools, not test fixtures.',
      severity: 'error',
      from: { path: `^(controller|connectors|webhooks|crds|bin)/.*${TEST_FILE}` },
      to: { path: '^(bench|hack)/' },
    },
    {
      name: 'controller-not-on-webhooks',
      comment:
        'The controller and the webhooks server are two processes that meet only in ' +
        'controller/api (the contract) and the Kubernetes API: the controller never loads the ' +
        'webhooks server.',
      severity: 'error',
      from: { path: '^controller/' },
      to: { path: '^webhooks/' },
    },
    {
      name: 'webhooks-only-on-api-and-runtime',
      comment:
        'The webhooks server uses of the controller only the contract (controller/api) and the ' +
        'shared Kubernetes plumbing (controller/runtime), never a reconciler or the manager.',
      severity: 'error',
      from: { path: '^webhooks/' },
      to: { path: '^controller/', pathNot: '^controller/(api|runtime)/index\\.ts$' },
    },
    {
      name: 'connectors-only-on-api',
      comment:
        'Connectors are provider clients the reconcilers and the webhooks server both use; they ' +
        'know the kinds (controller/api) and nothing else of either side.',
      severity: 'error',
      from: { path: '^connectors/' },
      to: { path: '^(controller|webhooks)/', pathNot: '^controller/api/index\\.ts$' },
    },
    {
      name: 'imports-resolve',
      comment:
        'Every import resolves to a file or a package; one that does not is a typo or a stale ' +
        'path, and the rules above cannot see where it points.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
}

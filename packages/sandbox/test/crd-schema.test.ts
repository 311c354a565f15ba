import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { renderKubevirtCrds } from '../src/crds/generate.js';
import { KUBEVIRT_CRDS_PATH, loadKubevirtCrds } from '../src/crds/install.js';
import { parseDefinitions, schemaFor } from '../src/crds/openapi-types.js';

const BUNDLE = `
interface V1Thing {
    /**
     * APIVersion defines the versioned schema.
     * @type {string}
     * @memberof V1Thing
     */
    apiVersion?: string;
    /**
     *
     * @type {K8sIoApimachineryPkgApisMetaV1ObjectMeta}
     * @memberof V1Thing
     */
    metadata?: K8sIoApimachineryPkgApisMetaV1ObjectMeta;
    /**
     *
     * @type {V1ThingSpec}
     * @memberof V1Thing
     */
    spec: V1ThingSpec;
}
interface V1ThingSpec {
    /**
     * Number of cores.
     * @type {number}
     * @memberof V1ThingSpec
     */
    cores?: number;
    /**
     * Quantity is a fixed-point representation of a number. It provides convenient marshaling.
     * @type {string}
     * @memberof V1ThingSpec
     */
    guest?: string;
    /**
     *
     * @type {Array<V1ThingCondition>}
     * @memberof V1ThingSpec
     */
    conditions?: Array<V1ThingCondition>;
    /**
     *
     * @type {V1ThingSpecModeEnum}
     * @memberof V1ThingSpec
     */
    mode: V1ThingSpecModeEnum;
    /**
     * Labels.
     * @type {{ [key: string]: string; }}
     * @memberof V1ThingSpec
     */
    labels?: {
        [key: string]: string;
    };
    /**
     *
     * @type {K8sIoApimachineryPkgApisMetaV1ObjectMeta}
     * @memberof V1ThingSpec
     */
    templateMeta?: K8sIoApimachineryPkgApisMetaV1ObjectMeta;
    /**
     *
     * @type {V1ThingSpec}
     * @memberof V1ThingSpec
     */
    nested?: V1ThingSpec;
}
declare const V1ThingSpecModeEnum: {
    readonly Fast: "Fast";
    readonly Slow: "Slow";
};
interface V1ThingCondition {
    /**
     *
     * @type {string}
     * @memberof V1ThingCondition
     */
    status: string;
    /**
     *
     * @type {string}
     * @memberof V1ThingCondition
     */
    type: string;
}
interface K8sIoApimachineryPkgApisMetaV1ObjectMeta {
    /**
     *
     * @type {string}
     * @memberof K8sIoApimachineryPkgApisMetaV1ObjectMeta
     */
    name?: string;
}
`;

describe('KubeVirt CRD schemas from the OpenAPI bundle', () => {
  const schema = schemaFor(parseDefinitions(BUNDLE), 'V1Thing');
  const spec = schema.properties?.spec;
  const field = (name: string) => spec?.properties?.[name];

  test('required fields, descriptions and root metadata', () => {
    assert.deepEqual(schema.required, ['spec']);
    assert.equal(schema.properties?.apiVersion?.description, 'APIVersion defines the versioned schema.');
    assert.deepEqual(schema.properties?.metadata, { type: 'object' });
    assert.deepEqual(spec?.required, ['mode']);
  });

  const cases: [string, object][] = [
    ['cores', { type: 'integer', description: 'Number of cores.' }],
    ['mode', { type: 'string', enum: ['Fast', 'Slow'] }],
    ['labels', { type: 'object', additionalProperties: { type: 'string' }, description: 'Labels.' }],
    ['templateMeta', { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }],
    ['nested', { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }],
  ];
  for (const [name, expected] of cases) {
    test(`maps ${name}`, () => assert.deepEqual(field(name), expected));
  }

  test('quantities accept integers and strings, with the Kubernetes quantity pattern', () => {
    const guest = field('guest');
    assert.deepEqual(guest?.anyOf, [{ type: 'integer' }, { type: 'string' }]);
    assert.equal(guest?.['x-kubernetes-int-or-string'], true);
    assert.ok(guest?.pattern?.startsWith('^(\\+|-)?'));
  });

  test('condition types get back the lastProbeTime / lastTransitionTime the bundle drops', () => {
    const condition = field('conditions')?.items;
    assert.deepEqual(Object.keys(condition?.properties ?? {}), [
      'lastProbeTime',
      'lastTransitionTime',
      'status',
      'type',
    ]);
    assert.deepEqual(condition?.properties?.lastTransitionTime, {
      type: 'string',
      format: 'date-time',
      nullable: true,
    });
  });

  test('an unknown type fails loudly with where it was seen', () => {
    const broken = BUNDLE.replace('cores?: number;', 'cores?: Mystery;');
    assert.throws(
      () => schemaFor(parseDefinitions(broken), 'V1Thing'),
      /cannot map type "Mystery" \(seen under V1Thing > V1ThingSpec\)/,
    );
  });

  test('the committed CRDs are exactly what the generator produces', () => {
    assert.equal(readFileSync(KUBEVIRT_CRDS_PATH, 'utf8'), renderKubevirtCrds());
  });

  test('the committed CRDs describe VM, VMI and migrations with the names virt-operator registers', () => {
    const crds = loadKubevirtCrds();
    assert.deepEqual(
      crds.map((crd) => crd.metadata.name),
      [
        'virtualmachines.kubevirt.io',
        'virtualmachineinstances.kubevirt.io',
        'virtualmachineinstancemigrations.kubevirt.io',
      ],
    );
    type Crd = { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: object } } } } }[] };
    const vm = crds[0]?.spec as Crd | undefined;
    const vmSpec = vm?.versions[0]?.schema.openAPIV3Schema.properties.spec.properties;
    assert.ok(vmSpec && 'runStrategy' in vmSpec && 'template' in vmSpec && 'dataVolumeTemplates' in vmSpec);
  });
});

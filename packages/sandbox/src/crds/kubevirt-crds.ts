import { type Definitions, type JsonSchema, schemaFor } from './openapi-types.js';

/** The KubeVirt release whose API the generated CRDs describe (the npm bundle tracks it). */
export const KUBEVIRT_API_VERSION = '1.7.0';

interface CrdShape {
  kind: string;
  plural: string;
  shortNames: readonly string[];
  definition: string;
  status: boolean;
  columns: readonly { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
}

const READY = ".status.conditions[?(@.type=='Ready')].status";
const AGE = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' } as const;

/**
 * Names, versions, subresources and printer columns as virt-operator registers them
 * (pkg/virt-operator/resource/generate/components/crds.go): the VM has a status subresource,
 * the VMI does not (virt-handler writes whole objects).
 */
const SHAPES: readonly CrdShape[] = [
  {
    kind: 'VirtualMachine',
    plural: 'virtualmachines',
    shortNames: ['vm', 'vms'],
    definition: 'V1VirtualMachine',
    status: true,
    columns: [
      AGE,
      { name: 'Status', type: 'string', jsonPath: '.status.printableStatus', description: 'Human Readable Status' },
      { name: 'Ready', type: 'string', jsonPath: READY },
    ],
  },
  {
    kind: 'VirtualMachineInstance',
    plural: 'virtualmachineinstances',
    shortNames: ['vmi', 'vmis'],
    definition: 'V1VirtualMachineInstance',
    status: false,
    columns: [
      AGE,
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'IP', type: 'string', jsonPath: '.status.interfaces[0].ipAddress' },
      { name: 'NodeName', type: 'string', jsonPath: '.status.nodeName' },
      { name: 'Ready', type: 'string', jsonPath: READY },
      {
        name: 'Live-Migratable',
        type: 'string',
        jsonPath: ".status.conditions[?(@.type=='LiveMigratable')].status",
        priority: 1,
      },
      { name: 'Paused', type: 'string', jsonPath: ".status.conditions[?(@.type=='Paused')].status", priority: 1 },
    ],
  },
  {
    kind: 'VirtualMachineInstanceMigration',
    plural: 'virtualmachineinstancemigrations',
    shortNames: ['vmim', 'vmims'],
    definition: 'V1VirtualMachineInstanceMigration',
    status: true,
    columns: [
      {
        name: 'Phase',
        type: 'string',
        jsonPath: '.status.phase',
        description: 'The current phase of VM instance migration',
      },
      {
        name: 'VMI',
        type: 'string',
        jsonPath: '.spec.vmiName',
        description: 'The name of the VMI to perform the migration on',
      },
    ],
  },
];

/** Builds the CustomResourceDefinitions for the KubeVirt kinds breakfix uses. */
export function kubevirtCrds(defs: Definitions): Record<string, unknown>[] {
  return SHAPES.map((shape) => {
    const schema: JsonSchema = schemaFor(defs, shape.definition);
    const version = (name: string, storage: boolean) => ({
      name,
      served: true,
      storage,
      ...(storage
        ? {}
        : {
            deprecated: true,
            deprecationWarning: `kubevirt.io/${name} is now deprecated and will be removed in a future release.`,
          }),
      schema: { openAPIV3Schema: schema },
      ...(shape.status ? { subresources: { status: {} } } : {}),
      additionalPrinterColumns: shape.columns,
    });
    return {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: {
        name: `${shape.plural}.kubevirt.io`,
        labels: { 'kubevirt.io': '' },
        annotations: { 'breakfix.dev/kubevirt-api-version': KUBEVIRT_API_VERSION },
      },
      spec: {
        group: 'kubevirt.io',
        scope: 'Namespaced',
        names: {
          kind: shape.kind,
          plural: shape.plural,
          singular: shape.plural.replace(/s$/, ''),
          shortNames: [...shape.shortNames],
          categories: ['all'],
        },
        versions: [version('v1', true), version('v1alpha3', false)],
      },
    };
  });
}

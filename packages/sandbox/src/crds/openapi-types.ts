/**
 * Turns KubeVirt's published OpenAPI definitions into structural openAPIV3Schema for CRDs.
 *
 * The definitions come from `@kubevirt-ui-ext/kubevirt-api`, which KubeVirt's UI team generates
 * with openapi-generator from KubeVirt's own `swagger.json` (one interface per definition, with the
 * definition's descriptions, required fields and enums). The Go module that holds virt-operator's CRD
 * generator is not reachable from our package registries; see docs/adr/0002-kubevirt-crd-schemas.md
 * for why this source was chosen and what it cannot express.
 */

export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean';
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema;
  enum?: string[];
  format?: string;
  anyOf?: JsonSchema[];
  pattern?: string;
  nullable?: true;
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
}

interface Property {
  name: string;
  optional: boolean;
  type: string;
  description: string;
}

export interface Definitions {
  interfaces: ReadonlyMap<string, readonly Property[]>;
  enums: ReadonlyMap<string, readonly string[]>;
}

const OBJECT_META = 'K8sIoApimachineryPkgApisMetaV1ObjectMeta';
const QUANTITY_DESCRIPTION = 'Quantity is a fixed-point representation of a number.';
const INT_OR_STRING_DESCRIPTION = 'IntOrString is a type that can hold an int32 or a string.';
/** The pattern Kubernetes attaches to every resource.Quantity in generated CRD schemas. */
const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** Reads the interfaces and string enums of an openapi-generator `.d.ts` bundle. */
export function parseDefinitions(dts: string): Definitions {
  const interfaces = new Map<string, Property[]>();
  const enums = new Map<string, string[]>();

  for (const match of dts.matchAll(/^interface (\w+) \{\n([\s\S]*?)\n\}$/gm)) {
    const [, name, body] = match;
    if (name === undefined || body === undefined) continue;
    interfaces.set(name, parseProperties(body));
  }
  restoreConditionTimes(interfaces);
  for (const match of dts.matchAll(/^declare const (\w+Enum): \{\n([\s\S]*?)\n\};$/gm)) {
    const [, name, body] = match;
    if (name === undefined || body === undefined) continue;
    enums.set(
      name,
      [...body.matchAll(/readonly \w+: "([^"]*)";/g)].map((m) => m[1] ?? ''),
    );
  }
  return { interfaces, enums };
}

const CONDITION_TIMES = ['lastProbeTime', 'lastTransitionTime'] as const;

/**
 * The bundle drops the two metav1.Time fields of KubeVirt's condition types (every one of them
 * carries `lastProbeTime` and `lastTransitionTime`, `+nullable`). Without them the apiserver would
 * reject the conditions virt-controller writes, so put them back as KubeVirt's CRDs declare them.
 */
function restoreConditionTimes(interfaces: Map<string, Property[]>): void {
  for (const [name, properties] of interfaces) {
    if (!/^V1\w*Condition$/.test(name)) continue;
    const names = new Set(properties.map((p) => p.name));
    if (!names.has('type') || !names.has('status')) continue;
    for (const time of CONDITION_TIMES) {
      if (!names.has(time)) properties.push({ name: time, optional: true, type: 'Time', description: '' });
    }
    properties.sort((a, b) => a.name.localeCompare(b.name));
  }
}

function parseProperties(body: string): Property[] {
  const properties: Property[] = [];
  const pattern = /\/\*\*\n([\s\S]*?)\*\/\n {4}(\w+)(\??): ([\s\S]*?);\n(?= {4}\/\*\*|$)/g;
  for (const match of `${body}\n`.matchAll(pattern)) {
    const [, doc = '', name = '', optional, type = ''] = match;
    const description = doc
      .split('\n')
      .map((line) => line.replace(/^\s*\*\s?/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('@'))
      .join(' ');
    properties.push({ name, optional: optional === '?', type: type.replace(/\s+/g, ' ').trim(), description });
  }
  return properties;
}

/**
 * Builds the schema of one definition, inlining every reference (CRD schemas cannot use $ref).
 * Nested ObjectMeta becomes a free-form object, as in KubeVirt's own CRDs; the root's metadata is
 * validated by the apiserver itself.
 */
export function schemaFor(defs: Definitions, root: string): JsonSchema {
  const schema = objectSchema(defs, root, [root]);
  if (schema.properties?.metadata) schema.properties.metadata = { type: 'object' };
  return schema;
}

function objectSchema(defs: Definitions, name: string, path: readonly string[]): JsonSchema {
  const properties = defs.interfaces.get(name);
  if (properties === undefined) throw new Error(`definition ${name} is not in the bundle`);
  const schema: JsonSchema = { type: 'object', properties: {} };
  const required: string[] = [];
  for (const property of properties) {
    const resourceList = name.endsWith('ResourceRequirements');
    const child = typeSchema(defs, property.type, path, property.description, resourceList);
    if (property.description !== '') child.description ??= property.description;
    (schema.properties as Record<string, JsonSchema>)[property.name] = child;
    if (!property.optional) required.push(property.name);
  }
  if (required.length > 0) schema.required = required.sort();
  return schema;
}

function typeSchema(
  defs: Definitions,
  type: string,
  path: readonly string[],
  description: string,
  quantityMaps: boolean,
): JsonSchema {
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1] !== undefined) return { type: 'array', items: typeSchema(defs, array[1], path, '', false) };

  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1] !== undefined) {
    const values = quantityMaps && map[1] === 'string' ? quantity() : typeSchema(defs, map[1], path, '', false);
    return { type: 'object', additionalProperties: values };
  }

  switch (type) {
    case 'string':
      if (description.startsWith(QUANTITY_DESCRIPTION)) return quantity();
      if (description.startsWith(INT_OR_STRING_DESCRIPTION)) return intOrString();
      return { type: 'string' };
    case 'boolean':
      return { type: 'boolean' };
    case 'number':
      // openapi-generator maps integer and number alike; Kubernetes API conventions forbid floats.
      return { type: 'integer' };
    case 'Time':
      return { type: 'string', format: 'date-time', nullable: true };
    case 'object':
      return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    case OBJECT_META:
      return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  }

  const values = defs.enums.get(type);
  if (values !== undefined) return { type: 'string', enum: [...values] };

  if (defs.interfaces.has(type)) {
    if (path.includes(type)) return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    return objectSchema(defs, type, [...path, type]);
  }
  throw new Error(`cannot map type "${type}" (seen under ${path.join(' > ')})`);
}

function quantity(): JsonSchema {
  return { ...intOrString(), pattern: QUANTITY_PATTERN };
}

function intOrString(): JsonSchema {
  return { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true };
}

// A small JSON Schema checker for the subset the OpenAPI document uses (type, properties,
// required, additionalProperties, items, enum, anyOf/oneOf, min/max, $ref to components), so a
// test can hold real responses against the documented schemas. Returns the problems found.

type Schema = Record<string, any>;

export function checkSchema(value: unknown, schema: Schema, doc: Schema, path = "$"): string[] {
  if (schema.$ref) {
    const name = String(schema.$ref).replace("#/components/schemas/", "");
    const target = doc.components?.schemas?.[name];
    if (!target) return [`${path}: unresolved $ref ${schema.$ref}`];
    return checkSchema(value, target, doc, path);
  }
  const problems: string[] = [];
  if (schema.anyOf || schema.oneOf) {
    const options: Schema[] = schema.anyOf ?? schema.oneOf;
    const matching = options.filter((option) => checkSchema(value, option, doc, path).length === 0).length;
    if (matching === 0) problems.push(`${path}: matches none of ${options.length} alternatives (${JSON.stringify(value)?.slice(0, 80)})`);
    if (schema.oneOf && matching > 1) problems.push(`${path}: matches ${matching} oneOf alternatives`);
  }
  if (schema.enum && !schema.enum.some((option: unknown) => option === value)) problems.push(`${path}: ${JSON.stringify(value)} not in enum ${JSON.stringify(schema.enum)}`);
  if ("const" in schema && schema.const !== value) problems.push(`${path}: expected const ${JSON.stringify(schema.const)}`);
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => hasType(value, type))) {
      problems.push(`${path}: expected ${types.join("|")}, got ${JSON.stringify(value)?.slice(0, 80)}`);
      return problems;
    }
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${path}: ${value} < minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${path}: ${value} > maximum ${schema.maximum}`);
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${path}: longer than ${schema.maxLength}`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => problems.push(...checkSchema(item, schema.items, doc, `${path}[${i}]`)));
  if (isObject(value)) {
    for (const key of schema.required ?? []) if (!(key in value)) problems.push(`${path}: missing required ${key}`);
    const properties: Schema = schema.properties ?? {};
    for (const [key, item] of Object.entries(value)) {
      if (properties[key]) problems.push(...checkSchema(item, properties[key], doc, `${path}.${key}`));
      else if (schema.additionalProperties === false) problems.push(`${path}: undocumented property ${key}`);
    }
  }
  return problems;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    default:
      return typeof value === type;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * docs/config.schema.json describes the config file whose keys lib/config/schema.ts lists,
 * and helm/uptime-exporter/values.schema.json embeds the same definitions for
 * `config`. These tests keep the three from drifting apart: the schemas'
 * property names are exactly CONFIG_KEYS, unknown keys are rejected
 * everywhere, and the chart's copy of each definition equals the doc's.
 * (The rendered configs are validated against the schema with a real JSON
 * Schema validator in chart_test.ts.)
 */

import assert from "node:assert/strict";
import { CONFIG_KEYS } from "../../lib/config/schema.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
// deno-lint-ignore no-explicit-any
type Schema = Record<string, any>;
const docSchema: Schema = JSON.parse(Deno.readTextFileSync(`${ROOT}docs/config.schema.json`));
const valuesSchema: Schema = JSON.parse(
  Deno.readTextFileSync(`${ROOT}helm/uptime-exporter/values.schema.json`),
);

const sorted = (keys: Iterable<string>) => [...keys].sort();

/** Every object schema in `schema` that lists properties, with its JSON pointer. */
function objectSchemas(schema: unknown, path = "#"): [string, Schema][] {
  if (typeof schema !== "object" || schema === null) return [];
  const found: [string, Schema][] = [];
  const s = schema as Schema;
  if (s.properties) found.push([path, s]);
  for (const [key, value] of Object.entries(s)) {
    if (key === "enum" || key === "const" || key === "default") continue;
    found.push(...objectSchemas(value, `${path}/${key}`));
  }
  return found;
}

Deno.test("docs/config.schema.json matches lib/config/schema.ts", async (t) => {
  const defs = docSchema.definitions;
  await t.step("is a draft-07 schema", () => {
    assert.equal(docSchema.$schema, "http://json-schema.org/draft-07/schema#");
  });
  await t.step("top-level keys are CONFIG_KEYS.top", () => {
    assert.deepEqual(sorted(Object.keys(docSchema.properties)), sorted(CONFIG_KEYS.top));
  });
  await t.step("global keys are CONFIG_KEYS.global", () => {
    assert.deepEqual(sorted(Object.keys(defs.global.properties)), sorted(CONFIG_KEYS.global));
  });
  await t.step("defaults keys are CONFIG_KEYS.settings", () => {
    assert.equal(docSchema.properties.defaults.$ref, "#/definitions/settings");
    assert.deepEqual(sorted(Object.keys(defs.settings.properties)), sorted(CONFIG_KEYS.settings));
  });
  await t.step("target keys are CONFIG_KEYS.target, each setting as under defaults", () => {
    assert.deepEqual(sorted(Object.keys(defs.target.properties)), sorted(CONFIG_KEYS.target));
    assert.deepEqual(defs.target.required, ["url"]);
    for (const key of CONFIG_KEYS.settings) {
      assert.deepEqual(defs.target.properties[key], defs.settings.properties[key], key);
    }
  });
  await t.step("basic_auth keys are username and password", () => {
    const ba = defs.settings.properties.basic_auth;
    assert.deepEqual(sorted(Object.keys(ba.properties)), ["password", "username"]);
  });
  await t.step("additionalProperties is false on every object with properties", () => {
    for (const [path, s] of objectSchemas(docSchema)) {
      assert.equal(s.additionalProperties, false, `${path} accepts unknown keys`);
    }
  });
  await t.step("every $ref resolves", () => {
    const refs = JSON.stringify(docSchema).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of refs) {
      const name = /#\/definitions\/([^"]+)/.exec(ref)?.[1];
      assert.ok(name && defs[name], `${ref} does not resolve`);
    }
  });
});

Deno.test("values.schema.json's config is the same schema as the doc's", async (t) => {
  const config = valuesSchema.properties.config;
  await t.step(
    "config keys are CONFIG_KEYS.top (and the chart's own), unknown keys rejected",
    () => {
      // existingConfigMap/existingSecret name an object holding the file: the chart's, not the file's.
      assert.deepEqual(
        sorted(Object.keys(config.properties)),
        sorted([...CONFIG_KEYS.top, "existingConfigMap", "existingSecret"]),
      );
      assert.equal(config.additionalProperties, false);
    },
  );
  await t.step("the chart requires targets to be objects with a url", () => {
    assert.deepEqual(config.properties.targets.items, { $ref: "#/definitions/target" });
    assert.equal(config.properties.targets.minItems, 1);
  });
  await t.step("every definition equals docs/config.schema.json's", () => {
    assert.deepEqual(
      sorted(Object.keys(valuesSchema.definitions)),
      sorted(Object.keys(docSchema.definitions)),
    );
    for (const [name, def] of Object.entries(docSchema.definitions)) {
      assert.deepEqual(valuesSchema.definitions[name], def, `definitions.${name} differs`);
    }
  });
  await t.step("additionalProperties is false on every object with properties", () => {
    for (const [path, s] of objectSchemas(valuesSchema)) {
      assert.equal(s.additionalProperties, false, `${path} accepts unknown keys`);
    }
  });
});

/** The lists as error messages show them ("unknown key (allowed: ...)"). */
const ALLOWED_TARGET_KEYS =
  "url, interval, timeout, method, headers, body, valid_status_codes, body_regex, " +
  "follow_redirects, max_redirects, body_limit, basic_auth, tls_ca_file, labels";
const ALLOWED_SETTING_KEYS = ALLOWED_TARGET_KEYS.slice("url, ".length);

Deno.test("CONFIG_KEYS", async (t) => {
  await t.step("the allowed keys are exported", () => {
    assert.deepEqual(CONFIG_KEYS.top, ["global", "defaults", "targets", "probe"]);
    assert.deepEqual(CONFIG_KEYS.global, [
      "metric_prefix",
      "max_concurrent_checks",
      "histogram_buckets",
    ]);
    assert.equal(CONFIG_KEYS.target.join(", "), ALLOWED_TARGET_KEYS);
    assert.equal(CONFIG_KEYS.settings.join(", "), ALLOWED_SETTING_KEYS);
  });
  await t.step("a target accepts url and exactly the settings defaults accept", () => {
    assert.deepEqual(CONFIG_KEYS.target, ["url", ...CONFIG_KEYS.settings]);
  });
});

Deno.test("docs/config.schema.json accepts exactly the keys the loader accepts", () => {
  const schema = JSON.parse(
    Deno.readTextFileSync(new URL("../../docs/config.schema.json", import.meta.url)),
  );
  const keys = (o: { properties: Record<string, unknown> }) => Object.keys(o.properties);
  assert.deepEqual(keys(schema), CONFIG_KEYS.top);
  assert.deepEqual(keys(schema.definitions.global), CONFIG_KEYS.global);
  assert.deepEqual(keys(schema.definitions.settings), CONFIG_KEYS.settings);
  assert.deepEqual(keys(schema.definitions.target), CONFIG_KEYS.target);
  for (const o of [schema, schema.definitions.global, schema.definitions.settings]) {
    assert.equal(o.additionalProperties, false);
  }
  assert.equal(schema.definitions.target.additionalProperties, false);
});

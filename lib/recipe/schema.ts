/**
 * The JSON Schema of recipes, for editors (`docs/recipe.schema.json`):
 * generated from the action registry, so that a new action is described
 * by its own file. `deno task gen-schema` writes it; a test fails while
 * the file is stale.
 *
 * @module
 */

import { SPEC_FIELDS } from "../vm/launch.ts";
import { DURATION_SCHEMA, type JsonSchema } from "./actions/parse_tools.ts";
import { ACTIONS } from "./actions/registry.ts";
import { RUN_STATES } from "./actions/wait_status.ts";

const list = (items: JsonSchema): JsonSchema => ({ type: "array", items });
const oneOrList = (item: JsonSchema): JsonSchema => ({ anyOf: [item, list(item)] });
const STEPS = list({
  anyOf: [{ $ref: "#/$defs/step" }, {
    type: "object",
    additionalProperties: false,
    required: ["include"],
    properties: {
      include: { type: "string", description: "a file of steps (steps:, and vars: defaults)" },
      name: { type: "string", description: "its steps' names begin with NAME: " },
      vars: { type: "object", description: "variables passed to the included steps" },
    },
  }],
});
const COUNT_OR_PERCENT = (minimum: number): JsonSchema => ({
  anyOf: [{ type: "integer", minimum }, { type: "string", pattern: "^\\d+(\\.\\d+)?%$" }],
});
const EDGE = { type: "string", pattern: "^[A-Za-z][\\w-]*\\.(start|end)$" };
const PLAIN = { type: ["string", "number", "boolean", "null"] };

/** A VM's fields: the launch spec's own (`SPEC_FIELDS`), and what the recipe adds. */
function vmFields(attach: boolean): JsonSchema {
  return {
    type: ["object", "null"],
    additionalProperties: false,
    properties: {
      ...SPEC_FIELDS,
      groups: list({ type: "string" }),
      networks: list({ type: "string" }),
      ...(attach
        ? {
          agent: {
            type: ["boolean", "string"],
            description: "true/false, or an attached VM's agent socket",
          },
          attach: { type: "string", description: "unix:/path or tcp:host:port" },
        }
        : {}),
    },
  };
}

const PICK = {
  type: "object",
  additionalProperties: false,
  required: ["group", "pick"],
  properties: {
    group: { type: "string" },
    pick: { anyOf: [{ enum: ["one", "minority", "majority"] }, { type: "integer", minimum: 1 }] },
  },
};

/** `vars:`: plain values, or `{ value, secret }`. */
const VARS: JsonSchema = {
  type: "object",
  additionalProperties: {
    anyOf: [PLAIN, {
      type: "object",
      additionalProperties: false,
      required: ["value"],
      properties: { value: PLAIN, secret: { type: "boolean" } },
    }],
  },
};

/** `hosts:`: SSH hosts, by name. */
const HOSTS: JsonSchema = {
  type: "object",
  description: "SSH hosts VMs run on (host: NAME); keys from the SSH agent or a file",
  additionalProperties: {
    type: "object",
    additionalProperties: false,
    required: ["ssh"],
    properties: {
      ssh: { type: "string", description: "user@host" },
      port: { type: "integer", minimum: 1, maximum: 65535 },
      identity: { type: "string", description: "a private key file" },
      qemu: { type: "string", description: "the QEMU binary on the host" },
      "runtime-dir": { type: "string", description: "the private runtime directory there" },
      "known-hosts": { type: "string", description: "a known_hosts file for the host key" },
      "check-host-key": {
        type: "boolean",
        description: "false accepts any host key: throwaway labs only",
      },
      address: { type: "string", description: "where other hosts reach it (migration)" },
      "max-sessions": {
        type: "integer",
        minimum: 1,
        description: "sshd's MaxSessions there (default 10): more VMs open more connections",
      },
    },
  },
};

/** `metrics:`: durations between step edges, or a number in a step's output. */
const METRICS: JsonSchema = {
  type: "object",
  additionalProperties: {
    type: "object",
    additionalProperties: false,
    oneOf: [{ required: ["from", "to"] }, { required: ["value"] }, { required: ["probe"] }],
    properties: {
      probe: { type: "string", description: "a probe's name: with availability or outage" },
      availability: {
        type: "object",
        additionalProperties: false,
        properties: { min: { anyOf: [{ type: "number" }, { type: "string", pattern: "%$" }] } },
      },
      outage: {
        type: "object",
        additionalProperties: false,
        properties: { max: DURATION_SCHEMA },
      },
      from: EDGE,
      to: EDGE,
      value: {
        type: "string",
        pattern: "^[A-Za-z][\\w-]*\\.[A-Za-z][\\w-]*$",
        description: "STEP_ID.FIELD: a number of ms in that step's output (downtimeMs)",
      },
      max: DURATION_SCHEMA,
    },
  },
};

/** `probes:`: checks run again and again while the steps run. */
const PROBES: JsonSchema = {
  type: "object",
  additionalProperties: {
    type: "object",
    additionalProperties: false,
    required: ["every"],
    oneOf: [{ required: ["agent"] }, { required: ["console"] }, { required: ["qmp"] }],
    properties: {
      on: oneOrList({ type: "string" }),
      every: DURATION_SCHEMA,
      timeout: DURATION_SCHEMA,
      start: { type: "string", description: "start when the step with this id starts" },
      end: { type: "string", description: "end when the step with this id ends" },
      quorum: {
        enum: ["any", "majority", "all"],
        description: "one service on its VMs: an attempt passes when this many of them answer",
      },
      agent: { $ref: "#/$defs/step/properties/agent" },
      console: { $ref: "#/$defs/step/properties/console" },
      qmp: { $ref: "#/$defs/step/properties/qmp" },
    },
  },
};

/** An `if:` condition. */
const CONDITION: JsonSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    var: { type: "string" },
    equals: {},
    "not-equals": {},
    step: { type: "string" },
    outcome: { enum: ["ok", "failed", "skipped"] },
    failed: { type: "boolean" },
    all: list({ $ref: "#/$defs/condition" }),
    any: list({ $ref: "#/$defs/condition" }),
    not: { $ref: "#/$defs/condition" },
  },
  oneOf: [
    { required: ["var"] },
    { required: ["step", "outcome"] },
    { required: ["failed"] },
    { required: ["all"] },
    { required: ["any"] },
    { required: ["not"] },
  ],
};

/** A step: its modifiers and one action of every registered kind. */
function stepSchema(): JsonSchema {
  return {
    type: "object",
    additionalProperties: false,
    required: ["name"],
    properties: {
      name: { type: "string" },
      id: { type: "string", pattern: "^[A-Za-z][\\w-]*$" },
      on: oneOrList({ anyOf: [{ type: "string" }, PICK] }),
      timeout: DURATION_SCHEMA,
      retry: {
        type: "object",
        additionalProperties: false,
        required: ["attempts"],
        properties: {
          attempts: { type: "integer", minimum: 1 },
          interval: DURATION_SCHEMA,
          until: {},
        },
      },
      "continue-on-error": { type: "boolean" },
      if: { $ref: "#/$defs/condition" },
      serial: oneOrList(COUNT_OR_PERCENT(0)),
      "max-failures": COUNT_OR_PERCENT(0),
      rescue: STEPS,
      always: STEPS,
      duration: { ...DURATION_SCHEMA, description: "on a fault: heal it this long after" },
      loop: {
        anyOf: [{ type: "array" }, { type: "string" }],
        description: "the step once per item; ${{ item }} (or ${{ item.KEY }}) in it",
      },
      ...Object.fromEntries(
        ACTIONS.map((action) => [action.key, { description: action.summary, ...action.schema }]),
      ),
    },
    oneOf: ACTIONS.map((action) => ({ required: [action.key] })),
  };
}

/** `invariants:`: events that must never come, or `status: running`. */
const INVARIANTS: JsonSchema = list({
  type: "object",
  additionalProperties: false,
  oneOf: [{ required: ["never"] }, { required: ["status"] }],
  properties: {
    never: oneOrList({ type: "string", pattern: "^[A-Z0-9_]+$" }),
    status: {
      enum: ["running"],
      description: "the VMs keep running: no STOP, SUSPEND, SHUTDOWN or GUEST_PANICKED",
    },
    on: oneOrList({ type: "string" }),
    outside: { enum: ["faults"], description: "not on VMs a fault or crash targeted" },
  },
});

/**
 * The whole recipe schema (JSON Schema 2020-12).
 *
 * @example
 * ```ts
 * import { recipeSchema } from "./schema.ts";
 * import assert from "node:assert/strict";
 *
 * const schema = recipeSchema() as { $defs: { step: { properties: Record<string, unknown> } } };
 * assert.ok("wait-event" in schema.$defs.step.properties);
 * ```
 */
export function recipeSchema(): JsonSchema {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://corral.invalid/recipe.schema.json",
    title: "corral recipe, format 1",
    description: "See docs/recipes.md. Generated from lib/recipe/actions by deno task gen-schema.",
    type: "object",
    additionalProperties: false,
    required: ["recipe", "name", "vms", "steps"],
    properties: {
      recipe: { const: 1 },
      name: { type: "string" },
      description: { type: "string" },
      tags: {
        type: "array",
        items: { type: "string", pattern: "^[A-Za-z0-9][\\w.-]*$" },
        description: "labels corral test selects recipes by (--tags smoke,!slow)",
      },
      vars: VARS,
      vms: {
        type: "object",
        properties: { defaults: vmFields(false) },
        additionalProperties: vmFields(true),
        propertyNames: { pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*(\\[\\d+:\\d+\\])?$" },
      },
      defaults: {
        type: "object",
        additionalProperties: false,
        properties: { timeout: DURATION_SCHEMA, forks: { type: "integer", minimum: 1 } },
      },
      networks: {
        type: "object",
        description: "lab networks: private segments, each a switch corral runs (no privileges)",
        additionalProperties: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: {
            subnet: { type: "string", pattern: "^\\d+\\.\\d+\\.\\d+\\.\\d+/\\d+$" },
            via: {
              enum: ["switch", "bridge"],
              description: "switch (default): corral's own; bridge: the kernel's, root only",
            },
            capture: { type: "boolean", description: "write NAME.pcap into the report" },
            uplink: {
              type: "boolean",
              description:
                "each member gets out through its host link (NAT), a default route and DNS",
            },
          },
        },
      },
      hosts: HOSTS,
      steps: STEPS,
      finally: STEPS,
      metrics: METRICS,
      probes: PROBES,
      invariants: INVARIANTS,
      watch: {
        type: "object",
        additionalProperties: false,
        properties: {
          console: {
            type: "object",
            additionalProperties: false,
            required: ["fail"],
            properties: {
              fail: oneOrList({ type: "string", description: "a substring, or /regex/flags" }),
              outside: { enum: ["faults"], description: "not on VMs a fault or crash targeted" },
            },
          },
        },
      },
    },
    $defs: {
      step: stepSchema(),
      runState: { enum: [...RUN_STATES] },
      condition: CONDITION,
    },
  };
}

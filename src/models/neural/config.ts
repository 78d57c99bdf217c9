/**
 * Resolving a model's hyper-parameters: defaults < preset (by name, or the dataset's own) < user config, then
 * validated field by field with zod. A model's own fields (beyond BaseModelConfig) are typed by their default's
 * JSON type, so a typo or a string where a number belongs fails loudly, naming the field and where it came from.
 */
import { z } from "zod";
import { ReclmError } from "../../errors.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./contract.ts";

const posInt = z.number().int().positive();
const nonNeg = z.number().finite().nonnegative();

/** Building blocks for a model's `fieldSchemas` (the same constraints the shared fields use). */
export const FIELD = {
  positiveInt: posInt,
  /** A dropout or masking probability: 0 <= p < 1. */
  probability: z.number().min(0).lt(1),
  positive: z.number().finite().positive(),
  positiveIntList: z.array(posInt).nonempty(),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values),
} as const;

/** Constraints on the fields every neural model shares. */
const BASE_SCHEMA = {
  // A one-position window is no sequence, and several encoders' graphs (a scan, attention) degenerate on it.
  maxLen: z.number().int().min(2, "must be an integer >= 2"),
  hidden: posInt,
  dropout: z.number().min(0).lt(1),
  batchSize: posInt,
  evalBatchSize: posInt,
  lr: z.number().finite().positive(),
  weightDecay: nonNeg,
  eps: nonNeg,
  clipNorm: nonNeg,
  epochs: posInt,
  validateEvery: z.number().int().nonnegative(),
  patience: posInt,
  selectMetric: z.string().regex(/^(Recall|NDCG|MRR)@[1-9]\d*$/, 'must look like "Recall@10", "NDCG@10" or "MRR@10"'),
  maskHistoryInValidation: z.boolean(),
  maskScope: z.enum(["window", "history"]),
  selectAverage: z.enum(["users", "batches"]),
  seed: z.number().int().nonnegative().max(0xffffffff),
} satisfies Record<keyof BaseModelConfig, z.ZodType>;

/** Optional LR schedule fields the trainer reads when present (not part of BaseModelConfig: constant LR by default). */
export interface ScheduleConfig {
  /** "constant" (LlamaRec/LRURec) or "cosine" (linear warmup then cosine to 0). */
  lrSchedule?: "constant" | "cosine";
  /** Warmup steps for "cosine". */
  warmupSteps?: number;
  /** Steps the "cosine" schedule spans (default: epochs × steps per epoch). */
  scheduleSteps?: number;
}

const EXTRA_SCHEMA: Record<string, z.ZodType> = {
  lrSchedule: z.enum(["constant", "cosine"]),
  warmupSteps: z.number().int().nonnegative(),
  scheduleSteps: z.number().int().positive(),
  // Sampled softmax (./sampled-softmax.ts): the training option for catalogs too big for the full softmax.
  softmax: z.enum(["full", "sampled"]),
  negatives: z.number().int().positive(),
  negativeSampler: z.enum(["popularity", "uniform"]),
};

function schemaFor(key: string, def: unknown, own: Readonly<Record<string, z.ZodType | undefined>>): z.ZodType {
  if (Object.hasOwn(BASE_SCHEMA, key)) return BASE_SCHEMA[key as keyof BaseModelConfig];
  if (Object.hasOwn(EXTRA_SCHEMA, key)) return EXTRA_SCHEMA[key];
  const declared = own[key];
  if (declared) return declared;
  if (typeof def === "number") return z.number().finite();
  if (typeof def === "boolean") return z.boolean();
  if (typeof def === "string") return z.string();
  if (Array.isArray(def)) return z.array(z.union([z.number(), z.string(), z.boolean()]));
  return z.unknown();
}

export interface ResolveConfigOptions<C> {
  /** Preset name; default: the dataset's name when the model has a preset for it; "none" skips presets. */
  preset?: string;
  datasetName?: string;
  /** User overrides (JSON file, --set flags, code). */
  config?: Partial<C> | Record<string, unknown>;
  /** Where the user overrides came from, for error messages (e.g. "config.json" or "--set"). */
  source?: string;
}

export interface ResolvedConfig<C> {
  config: C;
  /** The preset applied, or undefined. */
  preset: string | undefined;
}

/**
 * Fields added to the config after runs were saved, with the value the code behaved by before they existed. A run
 * dir saved without them loads, evaluates and resumes exactly as it was trained: a later default must not change a
 * run's model selection or test masking half-way.
 */
const BEFORE_FIELD_EXISTED: Readonly<Partial<BaseModelConfig>> = { maskScope: "history", selectAverage: "users" };

/** A saved run's config (config.json) completed with BEFORE_FIELD_EXISTED for the fields it predates. */
export function savedConfig<C extends BaseModelConfig>(config: Record<string, unknown>): Partial<C> {
  return { ...BEFORE_FIELD_EXISTED, ...config } as Partial<C>;
}

export function resolveConfig<C extends BaseModelConfig>(
  def: NeuralModelDefinition<C>,
  options: ResolveConfigOptions<C> = {},
): ResolvedConfig<C> {
  let presetName: string | undefined;
  if (options.preset !== undefined && options.preset !== "none") {
    if (!Object.hasOwn(def.presets, options.preset)) {
      throw new ReclmError(
        "RECLM_ERR_BAD_CONFIG",
        `model "${def.name}" has no preset "${options.preset}" (known: ${Object.keys(def.presets).join(", ") || "none"})`,
        { field: "preset" },
      );
    }
    presetName = options.preset;
  } else if (options.preset === undefined && options.datasetName && Object.hasOwn(def.presets, options.datasetName)) {
    presetName = options.datasetName;
  }
  const preset = presetName ? def.presets[presetName] : {};
  const merged: Record<string, unknown> = { ...(def.defaults as unknown as Record<string, unknown>) };
  checkLayer(def, preset, `preset "${presetName}"`);
  Object.assign(merged, preset);
  const user = (options.config ?? {}) as Record<string, unknown>;
  checkLayer(def, user, options.source ?? "config");
  Object.assign(merged, user);
  for (const [key, value] of Object.entries(merged)) {
    const res = schemaFor(key, (def.defaults as Record<string, unknown>)[key], def.fieldSchemas ?? {}).safeParse(value);
    if (!res.success) {
      const from = key in user ? (options.source ?? "config") : key in preset ? `preset "${presetName}"` : "defaults";
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${def.name} config: ${res.error.issues[0]?.message ?? "invalid"} (got ${JSON.stringify(value)}, from ${from})`, {
        field: key,
      });
    }
  }
  for (const key of ["warmupSteps", "scheduleSteps"]) {
    if (merged[key] !== undefined && merged.lrSchedule !== "cosine") {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${def.name} config: ${key} only applies to lrSchedule "cosine" (the schedule is ${JSON.stringify(merged.lrSchedule ?? "constant")})`, { field: key });
    }
  }
  for (const key of ["negatives", "negativeSampler"]) {
    if (merged[key] !== undefined && merged.softmax !== "sampled") {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${def.name} config: ${key} only applies to softmax "sampled" (the softmax is ${JSON.stringify(merged.softmax ?? "full")})`, { field: key });
    }
  }
  return { config: merged as unknown as C, preset: presetName };
}

function checkLayer<C extends BaseModelConfig>(def: NeuralModelDefinition<C>, layer: Record<string, unknown>, from: string): void {
  for (const key of Object.keys(layer)) {
    if (!Object.hasOwn(def.defaults, key) && !Object.hasOwn(EXTRA_SCHEMA, key)) {
      throw new ReclmError(
        "RECLM_ERR_BAD_CONFIG",
        `${def.name} has no config field "${key}" (in ${from}; known: ${[...Object.keys(def.defaults), ...Object.keys(EXTRA_SCHEMA)].join(", ")})`,
        { field: key },
      );
    }
  }
}

/**
 * `--set key=value` pairs -> an override object. Values are parsed as JSON (numbers, booleans, quoted strings),
 * falling back to the raw string, so `--set selectMetric=NDCG@10` works unquoted.
 */
export function parseSetFlags(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `--set expects key=value, got "${pair}"`, { field: "--set" });
    const key = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1).trim();
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    // A plain assignment of "__proto__" would set the prototype and drop the key; defined, it reaches the
    // unknown-field check like any other name.
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The k and metric family of selectMetric, e.g. "NDCG@10" -> { name: "NDCG", k: 10 }. */
export function parseSelectMetric(metric: string): { name: "Recall" | "NDCG" | "MRR"; k: number } {
  const m = /^(Recall|NDCG|MRR)@([1-9]\d*)$/.exec(metric);
  if (!m) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `selectMetric must look like "Recall@10", got "${metric}"`, { field: "selectMetric" });
  return { name: m[1] as "Recall" | "NDCG" | "MRR", k: Number(m[2]) };
}

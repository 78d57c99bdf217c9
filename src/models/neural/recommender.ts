/**
 * An engine model (definition + config + parameters) as a `SequentialRecommender`: scores every item from the last
 * position of the left-padded window, through an eval graph compiled per batch shape [rows, window]: rows a power of
 * two up to evalBatchSize, window the model's whole windowLen, or, for a model that declares `windowInvariant`, the
 * shortest power of two that holds the batch's longest history (a request with 30 items runs a 32-position graph,
 * not a 200-position one: same scores, a fraction of the work).
 * The trainer validates through the same object (it shares the trainer's ParamStore), so what is validated is
 * exactly what `reclm eval` later scores. Saved as a run dir: model.safetensors (engine checkpoint, parameters only) +
 * config.json.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SequenceDataset, SequentialRecommender } from "../../contracts.ts";
import { splitFingerprint } from "../../data/stats.ts";
import type { DatasetFiles } from "../../data/dataset-files.ts";
import { ReclmError } from "../../errors.ts";
import { writeJsonAtomic } from "../../io.ts";
import { Rng } from "../../rng.ts";
import { compile, Engine, loadCheckpoint, saveCheckpoint, type Builder, type Graph, ParamStore, type Tensor } from "../../engine/index.ts";
import type { BaseModelConfig, ModelContext, NeuralModelDefinition, Objective } from "./contract.ts";
import { resolveConfig, savedConfig } from "./config.ts";
import { allocBatch, fillEvalBatch, type BatchArrays } from "./examples.ts";
import { NativeResource } from "../../engine/index.ts";

export const MODEL_FILE = "model.safetensors";
export const CONFIG_FILE = "config.json";

/** config.json of a run dir: what `load` needs to rebuild the model. */
export interface SavedModelConfig {
  format: "reclm-neural-model@1";
  model: string;
  reference: string;
  nItems: number;
  config: BaseModelConfig & Record<string, unknown>;
  preset?: string;
  dataset?: string;
  datasetProtocol?: string;
  /** splitFingerprint of the dataset it was trained on (absent in run dirs saved before it existed). */
  datasetFingerprint?: string;
  /** Dataset "custom": the user's files it was loaded from (absolute), so commands given the run dir can reload them. */
  dataFiles?: DatasetFiles;
}

export interface NeuralRecommenderOptions {
  /** Share an engine (the trainer's); otherwise the recommender creates and owns one. */
  engine?: Engine;
  threads?: number;
}

/**
 * The history items a config's evaluation masks: with maskScope "window", those its input holds (maxLen; maxLen − 1
 * for cloze models, whose window ends with the mask token), else all of them (undefined).
 */
export function maskWindowOf(config: BaseModelConfig, objective: Objective): number | undefined {
  if (config.maskScope !== "window") return undefined;
  return objective.kind === "cloze" ? Math.max(1, config.maxLen - 1) : config.maxLen;
}

export class NeuralRecommender<C extends BaseModelConfig = BaseModelConfig, P = unknown> extends NativeResource implements SequentialRecommender {
  readonly name: string;
  readonly nItems: number;
  readonly def: NeuralModelDefinition<C, P>;
  readonly config: C;
  readonly engine: Engine;
  readonly store: ParamStore;
  readonly params: P;
  readonly ctx: ModelContext;
  readonly objective: Objective;
  readonly vocab: number;
  readonly maskWindow?: number;
  readonly inputWindow: number;
  /** Dataset metadata carried into config.json on save. */
  meta: { preset?: string; dataset?: string; datasetProtocol?: string; datasetFingerprint?: string; dataFiles?: DatasetFiles } = {};
  private readonly ownsEngine: boolean;
  /** Eval graphs by shape "rows x window" (see windowFor). */
  private readonly evalGraphs = new Map<string, { graph: Graph; batch: BatchArrays }>();
  /** Graphs returning query vectors (itemVectors / queryVectors), by the same shapes. */
  private readonly queryGraphs = new Map<string, { graph: Graph; batch: BatchArrays; withBias: boolean }>();
  private outLen = -1;

  /** Declares the parameters and initialises them from `config.seed` (the trainer's first draw). */
  constructor(def: NeuralModelDefinition<C, P>, config: C, nItems: number, options: NeuralRecommenderOptions & { initRng?: Rng } = {}) {
    super();
    this.def = def;
    this.name = def.name;
    this.config = config;
    this.nItems = nItems;
    this.objective = def.objective(config);
    this.vocab = def.vocabSize(nItems, config);
    this.ctx = { nItems, windowLen: def.windowLength(config) };
    this.maskWindow = maskWindowOf(config, this.objective);
    // fillEvalBatch keeps the last maxLen positions, one of them the mask token for cloze models.
    this.inputWindow = this.objective.kind === "cloze" ? Math.max(1, config.maxLen - 1) : config.maxLen;
    if (this.ctx.windowLen < config.maxLen) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${def.name}: windowLength ${this.ctx.windowLen} < maxLen ${config.maxLen}`, { field: "maxLen" });
    }
    this.ownsEngine = !options.engine;
    this.engine = options.engine ?? Engine.create({ threads: options.threads });
    let store: ParamStore | undefined;
    try {
      this.store = store = new ParamStore(this.engine);
      this.params = def.declare(this.store, this.ctx, config);
      const rng = options.initRng ?? new Rng(config.seed);
      this.store.initialize(rng);
      def.afterInit?.(this.store, this.params, config, rng);
    } catch (e) {
      // A shared engine outlives this failure (the trainer's): the store's ggml context must not leak into it.
      store?.dispose();
      if (this.ownsEngine) this.engine.dispose();
      throw e;
    }
  }

  /** Rebuilds a model saved with `save(dir)` (or written by the trainer into its run dir). */
  static load<C extends BaseModelConfig, P>(dir: string, def: NeuralModelDefinition<C, P>, options: NeuralRecommenderOptions = {}): NeuralRecommender<C, P> {
    const saved = readSavedConfig(dir);
    if (saved.model !== def.name) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `run dir holds model "${saved.model}", not "${def.name}"`, { file: join(dir, CONFIG_FILE), field: "model" });
    }
    // Through the config validator: a hand-edited config.json fails naming the file and field; a field added to reclm
    // after the run was saved takes the value the run was made with (savedConfig).
    const { config } = resolveConfig(def, { preset: "none", config: savedConfig<C>(saved.config as unknown as Record<string, unknown>), source: join(dir, CONFIG_FILE) });
    const rec = new NeuralRecommender(def, config, saved.nItems, options);
    try {
      rec.meta = { preset: saved.preset, dataset: saved.dataset, datasetProtocol: saved.datasetProtocol, datasetFingerprint: saved.datasetFingerprint, dataFiles: saved.dataFiles };
      loadCheckpoint(join(dir, MODEL_FILE), { store: rec.store });
    } catch (e) {
      rec.dispose();
      throw e;
    }
    return rec;
  }

  /** Copies of every parameter, by name. */
  readParams(): Map<string, Float32Array> {
    return new Map(this.store.list().map((p) => [p.name, this.store.read(p)]));
  }

  /** Overwrites every parameter; names and sizes must match this model's exactly. */
  writeParams(values: ReadonlyMap<string, Float32Array>, source = "parameters"): void {
    for (const p of this.store.list()) {
      const v = values.get(p.name);
      if (!v) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `missing parameter "${p.name}"`, { file: source, field: p.name });
      if (v.length !== p.numel) {
        throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `parameter "${p.name}" has ${v.length} values, model needs ${p.numel} (shape [${p.shape}])`, {
          file: source,
          field: p.name,
        });
      }
    }
    for (const name of values.keys()) {
      if (!this.store.has(name)) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `unexpected parameter "${name}"`, { file: source, field: name });
    }
    for (const p of this.store.list()) this.store.write(p, values.get(p.name)!);
  }

  async scoreAll(histories: readonly Int32Array[]): Promise<Float32Array> {
    return this.scoreAllSync(histories);
  }

  /**
   * [B x (N+1)] scores (column 0 included; a mask-token column of cloze models is dropped). Fresh array per call.
   * `options.window` forces the input window (the model's whole windowLen by default, or the shortest that holds each
   * chunk for a window-invariant model); it exists so tests can compare the two.
   */
  scoreAllSync(histories: readonly Int32Array[], options: { window?: number } = {}): Float32Array {
    this.assertAlive();
    this.checkIds(histories);
    const width = this.nItems + 1;
    const out = new Float32Array(histories.length * width);
    const E = this.config.evalBatchSize;
    for (let start = 0; start < histories.length; start += E) {
      const chunk = histories.slice(start, start + E);
      const window = this.checkWindow(options.window) ?? this.windowFor(chunk);
      const { graph } = this.runChunk(chunk, window, (rows) => this.ensureEvalGraph(rows, window));
      const scores = graph.read("scores");
      const V = this.vocab;
      for (let b = 0; b < chunk.length; b++) {
        out.set(scores.subarray(b * V, b * V + width), (start + b) * width);
      }
    }
    return out;
  }

  /**
   * The model's scores as inner products, for an approximate nearest-neighbour index (src/models/ann.ts): one vector
   * per item 1..N, [W_i, b_i] (or W_i without a bias), row-major [N x dim]. With `queryVectors`, q·v_i equals
   * scoreAll's score of item i up to float rounding. Run once: it reads the trained parameters.
   */
  itemVectors(): { vectors: Float32Array; dim: number } {
    this.assertAlive();
    const { graph, withBias } = this.compileQueryGraph(1, true);
    try {
      const batch = allocBatch(1, this.ctx.windowLen, this.objective);
      graph.run({ ids: batch.ids, mask: batch.mask, positions: batch.positions });
      const W = graph.read("W");
      const K = W.length / this.vocab;
      const bias = withBias ? graph.read("bias") : undefined;
      const dim = bias ? K + 1 : K;
      const N = this.nItems;
      const vectors = new Float32Array(N * dim);
      for (let i = 1; i <= N; i++) {
        vectors.set(W.subarray(i * K, (i + 1) * K), (i - 1) * dim);
        if (bias) vectors[(i - 1) * dim + K] = bias[i];
      }
      return { vectors, dim };
    } finally {
      graph.dispose();
    }
  }

  /** The query vector of each history ([B x dim], the layout of itemVectors: a trailing 1 meets the bias). */
  queryVectors(histories: readonly Int32Array[]): { vectors: Float32Array; dim: number } {
    this.assertAlive();
    this.checkIds(histories);
    const E = this.config.evalBatchSize;
    let out: Float32Array | undefined;
    let dim = 0;
    for (let start = 0; start < histories.length; start += E) {
      const chunk = histories.slice(start, start + E);
      const window = this.windowFor(chunk);
      const { graph, batch, withBias } = this.runChunk(chunk, window, (rows) => this.ensureQueryGraph(rows, window));
      const q = graph.read("query");
      const K = q.length / (batch.ids.length / window);
      dim = withBias ? K + 1 : K;
      out ??= new Float32Array(histories.length * dim);
      for (let b = 0; b < chunk.length; b++) {
        out.set(q.subarray(b * K, (b + 1) * K), (start + b) * dim);
        if (withBias) out[(start + b) * dim + K] = 1;
      }
    }
    return { vectors: out ?? new Float32Array(0), dim };
  }

  private ensureQueryGraph(rows: number, window: number): { graph: Graph; batch: BatchArrays; withBias: boolean } {
    return cachedShape(this.queryGraphs, rows, window, () => ({ ...this.compileQueryGraph(rows, false, window), batch: allocBatch(rows, window, this.objective) }));
  }

  /** Fills the graph `ensure` gives for the chunk's rows with the chunk (in `window` positions) and runs it. */
  private runChunk<T extends { graph: Graph; batch: BatchArrays }>(chunk: readonly Int32Array[], window: number, ensure: (rows: number) => T): T {
    const entry = ensure(rowsFor(chunk.length, this.config.evalBatchSize));
    fillEvalBatch(entry.batch, chunk, this.objective, window, this.config.maxLen, this.nItems);
    entry.graph.run({ ids: entry.batch.ids, mask: entry.batch.mask, positions: entry.batch.positions });
    return entry;
  }

  /**
   * The input window a chunk of histories runs through: windowLen, or for a `windowInvariant` model the shortest power
   * of two (at least MIN_WINDOW) that holds the longest history's tokens (its last maxLen items, plus the mask token
   * of a cloze model), capped at windowLen.
   */
  private windowFor(histories: readonly Int32Array[]): number {
    const L = this.ctx.windowLen;
    if (!this.def.windowInvariant) return L;
    const extra = this.objective.kind === "cloze" ? 1 : 0;
    let tokens = 1;
    for (const h of histories) tokens = Math.max(tokens, Math.min(h.length + extra, this.config.maxLen));
    return Math.min(L, Math.max(MIN_WINDOW, 2 ** Math.ceil(Math.log2(tokens))));
  }

  private checkWindow(window: number | undefined): number | undefined {
    if (window === undefined) return undefined;
    if (!Number.isInteger(window) || window < 2 || window > this.ctx.windowLen) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${this.name}: window must be an integer in 2..${this.ctx.windowLen}, got ${window}`, { field: "window" });
    }
    return window;
  }

  /**
   * Compiles and runs once the graph of every shape a forward of up to `maxRows` histories can take (rows, and for a
   * window-invariant model every window), so that no request pays for it: a graph's first run also allocates its
   * compute buffer (measured at up to a second on a 2-core machine). A server calls it before it says it is ready.
   * `graphs: "query"` warms queryVectors' graphs instead of scoreAll's (a model served through its item index).
   */
  async warmUp(maxRows: number, options: { graphs?: "scores" | "query" } = {}): Promise<void> {
    this.assertAlive();
    const E = this.config.evalBatchSize;
    // One history per window bucket: lengths 1, 2, 4, ... up to maxLen land in every window windowFor can pick.
    const histories = new Map<number, Int32Array>();
    for (let n = 1; ; n *= 2) {
      const h = new Int32Array(Math.min(n, this.config.maxLen)).fill(1);
      histories.set(this.windowFor([h]), h);
      if (n >= this.config.maxLen) break;
    }
    for (let rows = 1; ; rows *= 2) {
      for (const h of histories.values()) {
        const batch = new Array<Int32Array>(rowsFor(rows, E)).fill(h);
        if (options.graphs === "query") this.queryVectors(batch);
        else this.scoreAllSync(batch);
      }
      if (rows >= Math.min(maxRows, E)) break;
    }
  }

  /**
   * The query half of the scores over `rows` histories: the head's input, as scores() hands it to headScores (which
   * captures the head's W and bias); `withHead` also outputs those (itemVectors), copied so ggml allocates them.
   */
  private compileQueryGraph(rows: number, withHead = false, L = this.ctx.windowLen): { graph: Graph; withBias: boolean } {
    const capture: NonNullable<ModelContext["headCapture"]> = {};
    const graph = compile(this.engine, {
      mode: "eval",
      params: this.store,
      build: (b) => {
        const x = { ids: b.input("ids", [rows, L], "i32"), mask: b.input("mask", [rows, L]), positions: b.input("positions", [rows, L], "i32") };
        const h = lastHidden(b, this.def.encode(b, this.params, x, this.ctx, this.config), rows);
        const query = this.def.scores(b, this.params, h, { ...this.ctx, headCapture: capture }, this.config);
        if (!capture.W) throw new ReclmError("RECLM_ERR_INTERNAL", `${this.name}: scores() did not go through headScores`);
        // The query output keeps the graph's inputs in use (ggml allocates only what an output needs).
        const head = withHead ? { W: b.scale(capture.W, 1), ...(capture.bias ? { bias: b.scale(capture.bias, 1) } : {}) } : {};
        return { outputs: { query, ...head } };
      },
    });
    return { graph, withBias: capture.bias !== undefined };
  }

  /**
   * How many positions the encoder returns ([B, L', D] -> L'), 0 for a [B, D] ("last") encoder. Compiles the eval
   * graph to find out; the trainer aligns per-position labels to the LAST L' positions of the window.
   */
  encoderPositions(): number {
    this.ensureEvalGraph();
    return this.outLen;
  }

  private ensureEvalGraph(rows = this.config.evalBatchSize, L = this.ctx.windowLen): { graph: Graph; batch: BatchArrays } {
    return cachedShape(this.evalGraphs, rows, L, () => this.compileEvalGraph(rows, L));
  }

  private compileEvalGraph(E: number, L: number): { graph: Graph; batch: BatchArrays } {
    const graph = compile(this.engine, {
      mode: "eval",
      params: this.store,
      build: (b) => {
        const x = {
          ids: b.input("ids", [E, L], "i32"),
          mask: b.input("mask", [E, L]),
          positions: b.input("positions", [E, L], "i32"),
        };
        const enc = this.def.encode(b, this.params, x, this.ctx, this.config); // [E, L', D] or [E, D]
        if (L === this.ctx.windowLen) this.outLen = enc.rank === 3 ? enc.shape[1] : 0;
        const h = lastHidden(b, enc, E); // [E, D]
        return { outputs: { scores: this.def.scores(b, this.params, h, this.ctx, this.config) } }; // [E, V]
      },
    });
    return { graph, batch: allocBatch(E, L, this.objective) };
  }

  /** Writes model.safetensors + config.json into `dir` (created if needed), atomically each. */
  save(dir: string): void {
    this.assertAlive();
    mkdirSync(dir, { recursive: true });
    saveCheckpoint(join(dir, MODEL_FILE), { store: this.store }, { model: this.name });
    this.saveConfig(dir);
  }

  /** Writes config.json alone (the trainer does at the start of a run, so a run dir is identifiable from step 0). */
  saveConfig(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const saved: SavedModelConfig = {
      format: "reclm-neural-model@1",
      model: this.name,
      reference: this.def.reference,
      nItems: this.nItems,
      config: this.config as BaseModelConfig & Record<string, unknown>,
      ...this.meta,
    };
    writeJsonAtomic(join(dir, CONFIG_FILE), saved);
  }

  /** An id outside 1..N would reach ggml's row lookup, which aborts the process instead of throwing. */
  private checkIds(histories: readonly Int32Array[]): void {
    const N = this.nItems;
    histories.forEach((h, b) => {
      for (let j = 0; j < h.length; j++) {
        if (!(h[j] >= 1 && h[j] <= N)) throw new ReclmError("RECLM_ERR_SHAPE", `history ${b} holds item id ${h[j]}, outside the model's 1..${N}`, { field: "histories" });
      }
    });
  }

  private assertAlive(): void {
    if (this.disposed) throw new ReclmError("RECLM_ERR_DISPOSED", `${this.name} recommender was disposed`);
  }

  protected free(): void {
    for (const { graph } of this.evalGraphs.values()) graph.dispose();
    for (const { graph } of this.queryGraphs.values()) graph.dispose();
    this.store.dispose();
    if (this.ownsEngine) this.engine.dispose();
  }
}

/** The shortest window a window-invariant model runs: below it a graph's fixed costs outweigh the positions saved. */
const MIN_WINDOW = 8;

/** A graph cache's entry for shape rows x window, built on first use. */
function cachedShape<T>(cache: Map<string, T>, rows: number, window: number, build: () => T): T {
  const key = `${rows}x${window}`;
  let entry = cache.get(key);
  if (!entry) cache.set(key, (entry = build()));
  return entry;
}

/** The graph rows for a chunk of n histories: the next power of two (a batch of 3 runs the graph of 4), at most E. */
function rowsFor(n: number, E: number): number {
  return Math.min(E, 2 ** Math.ceil(Math.log2(Math.max(1, n))));
}

/** The hidden state the scores read: the last position of [B, L, D], or [B, D] as is ("last" encoders). */
export function lastHidden(b: Builder, h: Tensor, batch: number): Tensor {
  if (h.rank === 2) return h; // [B, D]
  if (h.rank !== 3 || h.shape[0] !== batch) {
    throw new ReclmError("RECLM_ERR_SHAPE", `encoder must return [B, L, D] or [B, D] with B = ${batch}, got [${h.shape}]`, { field: "encode" });
  }
  const [B, L, D] = h.shape;
  return b.reshape(b.slice(h, 1, L - 1, 1), [B, D]); // [B, D]
}

export function readSavedConfig(dir: string): SavedModelConfig {
  const path = join(dir, CONFIG_FILE);
  if (!existsSync(path)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", `not a reclm run dir (no ${CONFIG_FILE})`, { file: path });
  let saved: SavedModelConfig;
  try {
    saved = JSON.parse(readFileSync(path, "utf8")) as SavedModelConfig;
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `invalid JSON: ${(e as Error).message}`, { file: path }, { cause: e });
  }
  if (saved.format !== "reclm-neural-model@1") {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `unknown format ${JSON.stringify(saved.format)}`, { file: path, field: "format" });
  }
  if (typeof saved.model !== "string") throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", "missing model name", { file: path, field: "model" });
  if (!Number.isInteger(saved.nItems) || saved.nItems < 1) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", "nItems must be a positive integer", { file: path, field: "nItems" });
  if (typeof saved.config !== "object" || saved.config === null) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", "missing config", { file: path, field: "config" });
  if (saved.datasetFingerprint !== undefined && typeof saved.datasetFingerprint !== "string") {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", "datasetFingerprint must be a string", { file: path, field: "datasetFingerprint" });
  }
  const files = saved.dataFiles as unknown;
  if (files !== undefined && (typeof files !== "object" || files === null || Object.values(files).some((v) => typeof v !== "string"))) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", "dataFiles must map interactions/items/splitDir to paths", { file: path, field: "dataFiles" });
  }
  return saved;
}

/**
 * A run dir records the split it was trained on; resuming, evaluating or retrieving on another one (the same dataset
 * name over other files, or a protocol that changed) is refused rather than mixing two splits. Run dirs saved before
 * the fingerprint existed carry none and are not checked.
 */
export function checkFingerprint(saved: SavedModelConfig, ds: SequenceDataset, file: string, action: string): void {
  if (saved.datasetFingerprint === undefined) return;
  const now = splitFingerprint(ds);
  if (saved.datasetFingerprint !== now) {
    throw new ReclmError(
      "RECLM_ERR_BAD_CHECKPOINT",
      `run dir was trained on another split of ${ds.name} (protocol ${ds.protocol}): fingerprint ${saved.datasetFingerprint}, this one ${now}; ` +
        `its input files or the protocol changed since, so it cannot ${action} it`,
      { file, field: "datasetFingerprint" },
    );
  }
}

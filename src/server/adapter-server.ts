/**
 * The multi-adapter HTTP server: one resident base model, adapters pulled from a store, an
 * OpenAI-compatible completions API, continuous batching across adapters.
 *
 * Built on `node:http`: six JSON routes and one event stream need no framework, and the server stays
 * free of dependencies that would have to be kept in step with Node.
 *
 * Routes:
 * - `POST /v1/completions` — `{model, prompt, max_tokens, temperature, seed, stream}`; `model` names
 *   the adapter, or the base model for none. With `stream: true` the answer is a server-sent event
 *   stream of `text_completion` chunks ending with `data: [DONE]`, as OpenAI's.
 * - `GET /v1/models` — the base model and every adapter in the store (`loaded` says which are resident).
 * - `POST /v1/load_lora_adapter`, `POST /v1/unload_lora_adapter` — `{lora_name}` (vLLM's names).
 * - `GET /metrics` — Prometheus text format. `GET /health` — 200 when serving.
 *
 * Errors are `{"error": {"message", "type", "code", "param"}}` with a 4xx status naming the problem
 * (unknown adapter 404, bad field or oversized request 400, malformed JSON 400, body too large 413).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CharVocab } from '../data/vocab.js';
import { check } from '../errors.js';
import type { CharLM } from '../models/char-lm.js';
import { AdapterPool } from './adapter-pool.js';
import { ApiError, toApiError } from './api-error.js';
import { DecodeEngine } from './decode-engine.js';
import { ServerMetrics } from './metrics.js';
import {
  adapterRequestSchema,
  completionRequestSchema,
  parseBody,
  type CompletionRequest,
} from './requests.js';
import { ADAPTER_NAME_PATTERN, FsAdapterStore, type AdapterStore } from '../store/index.js';

/** Options of {@link AdapterServer.start}. */
export interface AdapterServerOptions {
  /** The base model (kept resident; put in eval mode). */
  model: CharLM;
  /** Its character vocabulary (prompts are encoded and outputs decoded with it). */
  vocab: CharVocab;
  /** The name clients use for the base model without an adapter. */
  baseName: string;
  /** The adapter store: a directory (read with {@link FsAdapterStore}) or any {@link AdapterStore}. */
  store: string | AdapterStore;
  /** Interface to bind. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** Most adapters attached to the model at once (vLLM's `max_loras`). Default 8. */
  maxLoras?: number;
  /** Most adapters whose verified files stay in memory (vLLM's `max_cpu_loras`). Default 32. */
  maxCpuLoras?: number;
  /** Most sequences decoded in one batch. Default 64. */
  maxBatch?: number;
  /** Largest request body in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
}

/**
 * A running multi-adapter server; see the file comment for the API.
 *
 * @example
 * ```ts
 * const { model, vocab } = await loadBaseModel('./base');
 * const server = await AdapterServer.start({ model, vocab, baseName: 'base', store: './store', port: 8000 });
 * // curl -s localhost:8000/v1/completions -d '{"model": "pirate", "prompt": "The ", "max_tokens": 20}'
 * await server.close();
 * ```
 */
export class AdapterServer {
  readonly metrics = new ServerMetrics();
  readonly pool: AdapterPool;
  readonly engine: DecodeEngine;
  private readonly http: Server;
  private readonly maxBodyBytes: number;
  private readonly store: AdapterStore;

  private constructor(private readonly opts: AdapterServerOptions) {
    for (const [field, v, min] of [
      ['maxLoras', opts.maxLoras, 1],
      ['maxCpuLoras', opts.maxCpuLoras, 0],
      ['maxBatch', opts.maxBatch, 1],
    ] as const) {
      check(
        v === undefined || (Number.isInteger(v) && v >= min),
        'INVALID_CONFIG',
        () => `AdapterServer: ${field} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`,
        () => ({ field, value: v }),
      );
    }
    opts.model.eval();
    this.store = typeof opts.store === 'string' ? new FsAdapterStore(opts.store) : opts.store;
    this.pool = new AdapterPool({
      model: opts.model,
      store: this.store,
      maxLoras: opts.maxLoras ?? 8,
      maxCpuLoras: opts.maxCpuLoras ?? 32,
      metrics: this.metrics,
    });
    this.engine = new DecodeEngine(opts.model, (input, adapters) => this.pool.forward(input, adapters), {
      maxBatch: opts.maxBatch ?? 64,
      metrics: this.metrics,
    });
    this.maxBodyBytes = opts.maxBodyBytes ?? 1 << 20;
    this.http = createServer((req, res) => void this.handle(req, res));
    this.http.keepAliveTimeout = 5000;
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(opts: AdapterServerOptions): Promise<AdapterServer> {
    const server = new AdapterServer(opts);
    await new Promise<void>((resolve, reject) => {
      server.http.once('error', reject);
      server.http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    return server;
  }

  /** `http://host:port` the server listens on. */
  get url(): string {
    const a = this.http.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  /** Stops accepting connections, waits for open ones to end, and detaches every adapter. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeIdleConnections();
    });
    this.pool.dispose();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = ROUTES[path];
    let status = 200;
    try {
      if (!route)
        throw new ApiError(404, 'not_found', `no route ${path}; routes: ${Object.keys(ROUTES).join(', ')}`);
      if (req.method !== route)
        throw new ApiError(405, 'method_not_allowed', `${path} takes ${route}, got ${req.method}`);
      switch (path) {
        case '/health':
          return this.send(res, 200, { status: 'ok' });
        case '/metrics':
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(await this.metrics.registry.metrics());
          return;
        case '/v1/models':
          return this.send(res, 200, await this.models());
        case '/v1/completions':
          return await this.completions(
            parseBody(completionRequestSchema, await this.readJson(req), 'POST /v1/completions'),
            req,
            res,
          );
        case '/v1/load_lora_adapter': {
          const { lora_name } = parseBody(
            adapterRequestSchema,
            await this.readJson(req),
            'POST /v1/load_lora_adapter',
          );
          this.checkAdapterName(lora_name, 'lora_name');
          await this.pool.load(lora_name);
          return this.send(res, 200, { loaded: lora_name, resident: this.pool.residentNames() });
        }
        case '/v1/unload_lora_adapter': {
          const { lora_name } = parseBody(
            adapterRequestSchema,
            await this.readJson(req),
            'POST /v1/unload_lora_adapter',
          );
          const { deferred } = this.pool.unload(lora_name);
          return this.send(res, 200, { unloaded: lora_name, deferred });
        }
      }
    } catch (e) {
      const err = toApiError(e);
      status = err.status;
      if (res.headersSent)
        res.destroy(err); // a stream already under way cannot change its status
      else this.send(res, err.status, err.toJSON());
    } finally {
      this.metrics.requests.inc({
        route: route ? path : 'unknown',
        status: String(res.headersSent ? res.statusCode : status),
      });
    }
  }

  private async completions(
    body: CompletionRequest,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const started = performance.now();
    const prompt = Array.isArray(body.prompt) ? body.prompt[0]! : body.prompt;
    const maxLen = this.opts.model.cfg.maxLen;
    if (prompt.length === 0)
      throw new ApiError(
        400,
        'invalid_prompt',
        'prompt is empty; give at least one character',
        'invalid_request_error',
        'prompt',
      );
    if (prompt.length + body.max_tokens > maxLen) {
      throw new ApiError(
        400,
        'context_length_exceeded',
        `prompt (${prompt.length} characters) plus max_tokens (${body.max_tokens}) is ${prompt.length + body.max_tokens}, more than the model's context of ${maxLen}; shorten the prompt or lower max_tokens`,
        'invalid_request_error',
        prompt.length >= maxLen ? 'prompt' : 'max_tokens',
      );
    }
    const adapter = body.model === this.opts.baseName ? null : body.model;
    if (adapter !== null) {
      this.checkAdapterName(adapter, 'model');
      await this.pool.acquire(adapter);
    }
    const id = `cmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new Error('client closed the connection'));
    });
    const chunk = (text: string, finish: string | null) => ({
      id,
      object: 'text_completion',
      created,
      model: body.model,
      choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
    });
    let first = true;
    const onToken = (t: number) => {
      if (first) {
        this.metrics.timeToFirstToken.observe((performance.now() - started) / 1000);
        first = false;
      }
      if (body.stream) res.write(`data: ${JSON.stringify(chunk(this.opts.vocab.decode([t]), null))}\n\n`);
    };
    if (body.stream)
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
    let tokens: number[];
    try {
      tokens = await this.engine.generate({
        promptIds: this.opts.vocab.encode(prompt),
        maxTokens: body.max_tokens,
        temperature: body.temperature,
        seed: body.seed,
        adapter,
        onToken,
        signal: abort.signal,
      });
    } finally {
      if (adapter !== null) this.pool.release(adapter);
    }
    this.metrics.promptTokens.inc(prompt.length);
    this.metrics.latency.observe((performance.now() - started) / 1000);
    if (body.stream) {
      res.write(`data: ${JSON.stringify(chunk('', 'length'))}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    this.send(res, 200, {
      ...chunk(this.opts.vocab.decode(tokens), 'length'),
      usage: {
        prompt_tokens: prompt.length,
        completion_tokens: tokens.length,
        total_tokens: prompt.length + tokens.length,
      },
    });
  }

  private async models(): Promise<object> {
    const resident = new Set(this.pool.residentNames());
    const names = [...new Set([...(await this.store.list()).map((m) => m.name), ...resident])].sort();
    const entry = (id: string, parent: string | null) => ({
      id,
      object: 'model',
      created: 0,
      owned_by: 'adapterkit',
      root: this.opts.baseName,
      parent,
      loaded: parent === null || resident.has(id),
    });
    return {
      object: 'list',
      data: [
        entry(this.opts.baseName, null),
        ...names.filter((n) => n !== this.opts.baseName).map((n) => entry(n, this.opts.baseName)),
      ],
    };
  }

  private checkAdapterName(name: string, param: string): void {
    if (!ADAPTER_NAME_PATTERN.test(name) || name === '__base__') {
      throw new ApiError(
        404,
        'model_not_found',
        `model ${JSON.stringify(name)} does not exist: use the base model '${this.opts.baseName}' or an adapter name from GET /v1/models`,
        'invalid_request_error',
        param,
      );
    }
  }

  private async readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > this.maxBodyBytes)
        throw new ApiError(413, 'payload_too_large', `request body exceeds ${this.maxBodyBytes} bytes`);
      chunks.push(c as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ApiError(400, 'invalid_json', `request body is not valid JSON: ${(e as Error).message}`);
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const data = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
    res.end(data);
  }
}

/** Path → method. */
const ROUTES: Record<string, string> = {
  '/v1/completions': 'POST',
  '/v1/models': 'GET',
  '/v1/load_lora_adapter': 'POST',
  '/v1/unload_lora_adapter': 'POST',
  '/metrics': 'GET',
  '/health': 'GET',
};

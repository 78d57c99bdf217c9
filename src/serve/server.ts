/** Listening and stopping: a port problem becomes a ReclmError naming the flag, and a stop finishes what is in flight. */
import type { FastifyInstance } from "fastify";
import { ReclmError } from "../errors.ts";

/** Starts listening; returns the URL (the real port when `port` is 0). */
export async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `port ${port} on ${host} is already in use`, { field: "--port" }, { cause: e });
    if (code === "EACCES") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `no permission to listen on ${host}:${port}`, { field: "--port" }, { cause: e });
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${host} is not an address of this machine`, { field: "--host" }, { cause: e });
    throw e;
  }
  const addr = app.server.address();
  if (addr === null || typeof addr === "string") return String(addr);
  const h = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return `http://${h}:${addr.port}`;
}

/**
 * Stops accepting connections, lets requests in flight finish (new requests on open keep-alive connections get
 * 503), then disposes the models. Resolves "timeout" if that takes longer than `graceMs`: the caller exits anyway.
 */
export async function closeGracefully(app: FastifyInstance, graceMs: number): Promise<"closed" | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"timeout">((r) => {
    timer = setTimeout(() => r("timeout"), graceMs);
    timer.unref();
  });
  try {
    return await Promise.race([app.close().then(() => "closed" as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

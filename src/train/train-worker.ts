/**
 * The module a training worker runs (a Web Worker of type "module", or a Node worker thread):
 * it waits for a "start" message, trains, posts every TrainEvent, answers "stop" by ending
 * after the current step, and posts the weights back. Started by worker-host.ts.
 */
import { runJob, type RunningJob } from "./worker-job.js";
import type { HostMessage, WorkerMessage } from "./worker-protocol.js";

interface Port {
  post(message: WorkerMessage, transfer?: ArrayBuffer[]): void;
  listen(handler: (message: HostMessage) => void): void;
}

interface NodeParentPort {
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  on(event: "message", handler: (message: HostMessage) => void): void;
}

interface WorkerScope {
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  addEventListener(type: "message", handler: (e: { data: HostMessage }) => void): void;
}

/** Node's parentPort, or the Web Worker's global scope. */
async function connect(): Promise<Port> {
  const g = globalThis as unknown as WorkerScope & { process?: { versions?: { node?: string } } };
  if (g.process?.versions?.node !== undefined) {
    const id = "node:worker_threads"; // a variable: bundlers for browsers leave it alone
    const wt = (await import(/* @vite-ignore */ /* webpackIgnore: true */ id)) as {
      parentPort: NodeParentPort | null;
    };
    const port = wt.parentPort;
    if (port === null) throw new Error("train-worker.js runs in a worker thread");
    return { post: (m, t) => port.postMessage(m, t), listen: (h) => port.on("message", h) };
  }
  return {
    post: (m, t) => g.postMessage(m, t),
    listen: (h) => g.addEventListener("message", (e) => h(e.data)),
  };
}

const port = await connect();
let running: RunningJob | null = null;
port.listen((message) => {
  if (message.type === "stop") running?.stop();
  else if (message.type === "start" && running === null) {
    running = runJob(message.job, (event) => port.post({ type: "event", event }));
    running.result.then(
      (result) => port.post({ type: "done", result }, [result.params.buffer as ArrayBuffer]),
      (e: unknown) =>
        port.post({
          type: "error",
          name: e instanceof Error ? e.name : "Error",
          message: e instanceof Error ? e.message : String(e),
        }),
    );
  }
});
port.post({ type: "ready" });

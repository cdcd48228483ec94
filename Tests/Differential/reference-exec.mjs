// The reference's side of the differential run (Tests/differential.sh): applies a script of
// operations with opslog for Node, or dumps a store's entries, exactly as OpsLogTestHelper's
// apply-script and dump-entries do for this project.
//
//   node reference-exec.mjs apply <location> <script.json> <checkpointThreshold> <writeMode> <agentId|-> <checkpointOnClose 0|1>
//   node reference-exec.mjs dump <location> [agent]
//   node reference-exec.mjs check                      # exits 0 when the reference loads
//
// Both print the store's state on one line: {"entries":[[id, record], …],"archives":{…},"ops":[…]},
// ops what getOps() holds (the operations since the last checkpoint).
// `dump … agent` opens a multi-writer store read-only as the first agent its manifest lists
// (the reference, given no agent, reads only `activeOps` and misses every agent's writes).
// Loads the package `opslog` as node resolves it, or the module OPSLOG_REFERENCE names.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const REFERENCE = process.env.OPSLOG_REFERENCE ?? "opslog";
const { Store } = await import(process.env.OPSLOG_REFERENCE ? pathToFileURL(resolve(REFERENCE)).href : REFERENCE).catch((error) => {
  console.error(`reference-exec.mjs: cannot load the reference ${REFERENCE} (${error.message})`);
  process.exit(2);
});

async function stateJSON(store) {
  const archives = {};
  for (const segment of store.listArchiveSegments()) {
    archives[segment] = Object.fromEntries(await store.loadArchive(segment));
  }
  const ops = store.getOps();
  const walOps = [];
  for await (const op of store.getWalOps()) walOps.push(operationJSON(op));
  // Since the middle operation's time: what a consumer that stopped there reads next.
  const walOpsSince = [];
  if (ops.length > 0) {
    for await (const op of store.getWalOps(ops[Math.floor(ops.length / 2)].ts)) walOpsSince.push(operationJSON(op));
  }
  return JSON.stringify({ entries: store.entries(), archives, ops: ops.map(operationJSON), walOps, walOpsSince });
}

// An operation as OpsLogTestHelper's operationJSON prints it: [ts, op, id, data, encoding,
// prev, agent, clock], encoding "full" or "delta" (null with no previous record).
function operationJSON(op) {
  const previous = op.prev ?? null;
  const encoding = previous === null ? null : op.encoding === "delta" ? "delta" : "full";
  return [op.ts, op.op, op.id, op.data ?? null, encoding, previous, op.agent ?? null, op.clock ?? null];
}

const [mode, dir, ...rest] = process.argv.slice(2);
const store = new Store();
if (mode === "check") {
  // The reference loaded: Tests/differential.sh asks before it starts.
} else if (mode === "dump") {
  if (rest[0] === "agent") {
    const manifest = JSON.parse(readFileSync(dir + "/manifest.json", "utf8"));
    const agent = Object.keys(manifest.activeAgentOps ?? {})[0];
    await store.open(dir, agent ? { readOnly: true, agentId: agent } : { readOnly: true });
  } else {
    await store.open(dir, { readOnly: true });
  }
  console.log(await stateJSON(store));
  await store.close();
} else if (mode === "apply") {
  const [scriptPath, threshold, writeMode, agent, checkpointOnClose] = rest;
  const script = JSON.parse(readFileSync(scriptPath, "utf8"));
  const options = { checkpointThreshold: Number(threshold), writeMode, checkpointOnClose: checkpointOnClose !== "0" };
  if (agent !== "-") options.agentId = agent;
  await store.open(dir, options);
  for (const step of script) {
    switch (step.op) {
      case "set": await store.set(step.id, step.value); break;
      case "delete": if (store.has(step.id)) await store.delete(step.id); break;
      case "undo": await store.undo(); break;
      case "compact": await store.compact(); break;
      case "archive": await store.archive((_, id) => id.startsWith(step.prefix), step.segment); break;
      case "batch":
        await store.batch(() => {
          for (const operation of step.ops) {
            if (operation.op === "set") store.set(operation.id, operation.value);
            else if (store.has(operation.id)) store.delete(operation.id);
          }
        });
        break;
      default: throw new Error(`an unknown step: ${JSON.stringify(step)}`);
    }
  }
  const state = await stateJSON(store);
  await store.close();
  console.log(state);
} else {
  console.error("usage: reference-exec.mjs apply|dump|check …");
  process.exit(2);
}

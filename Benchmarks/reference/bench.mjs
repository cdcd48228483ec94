// Benchmark harness for the reference implementation, opslog for Node: the workloads of
// Docs/BENCHMARKS.md implemented the way opslog-bench does them
// (Benchmarks/Sources/opslog-bench/Workloads/*.swift): same setup, same timed part, the same
// one JSON line. Benchmarks/side-by-side.sh alternates it with opslog-bench.
//
//   npm install opslog@0.8.1            # in this directory, or anywhere node resolves it
//   node bench.mjs WORKLOAD [--records N] [--ops N] [--dir DIR] [--preload N]
//   OPSLOG_REFERENCE=/path/to/opslog/dist/index.js node bench.mjs ...   # another build
//
// Prints exactly one JSON line on stdout (`prepare` prints the directory it made instead).
// Progress goes to stderr. Nothing of the reference itself is part of this repository.
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";

// The reference: the package `opslog` as node resolves it, or the module OPSLOG_REFERENCE names.
const REFERENCE = process.env.OPSLOG_REFERENCE ?? "opslog";
// A path is taken relative to the working directory, as a shell user expects.
const { Store } = await import(process.env.OPSLOG_REFERENCE ? pathToFileURL(resolve(REFERENCE)).href : REFERENCE).catch((error) => {
  console.error(`bench.mjs: cannot load the reference ${REFERENCE} (${error.message});`);
  console.error("run `npm install opslog@0.8.1` in Benchmarks/reference, or set OPSLOG_REFERENCE to its index.js");
  process.exit(2);
});

const SCRIPT = fileURLToPath(import.meta.url);
const LOAD_BATCH_SIZE = 5_000;
const NO_CHECKPOINT_THRESHOLD = 1_000_000_000_000; // "10^12"
const STATUSES = ["active", "done", "blocked"];

// ---------- arguments ----------

function parseArgs(argv) {
  const opts = { workload: undefined, records: 200_000, ops: 20_000, dir: undefined, preload: undefined };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let value;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq !== -1) { value = a.slice(eq + 1); a = a.slice(0, eq); }
    const next = () => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const int = (s) => {
      if (!/^\d+$/.test(s)) usage(`${a} needs a non-negative integer, got ${s}`);
      return Number(s);
    };
    switch (a) {
      case "--records": opts.records = int(next()); break;
      case "--ops": opts.ops = int(next()); break;
      case "--dir": opts.dir = next(); break;
      case "--preload": opts.preload = int(next()); break;
      case "-h": case "--help": usage();
      default:
        if (a.startsWith("-")) usage(`unknown option ${a}`);
        if (opts.workload !== undefined) usage(`unexpected argument ${a}`);
        opts.workload = a;
    }
  }
  if (!opts.workload) usage("missing WORKLOAD");
  if (!(opts.workload in WORKLOADS)) usage(`unknown workload "${opts.workload}"`);
  if (opts.records <= 0) usage("--records must be positive");
  return opts;
}

function usage(message) {
  if (message) process.stderr.write(`bench.mjs: ${message}\n`);
  process.stderr.write(
    `usage: node bench.mjs WORKLOAD [--records N] [--ops N] [--dir DIR] [--preload N]\n` +
    `workloads: ${Object.keys(WORKLOADS).join(", ")}\n`);
  process.exit(message ? 2 : 0);
}

// ---------- helpers ----------

/** Record `i` of BENCHMARKS.md, keys in the documented order. */
function task(i) {
  return {
    title: `Task number ${i} with some text`,
    status: STATUSES[i % 3],
    priority: (i % 5) + 1,
    tags: ["a", "b", `t${i % 17}`],
    estimate: (i % 1000) / 100,
    assignee: { name: `user${i % 100}`, id: i % 100 },
  };
}
const taskId = (i) => `task-${i}`;

/** Ids and records for indices [from, to), built before a timed loop. */
function prepared(from, to) {
  const out = new Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = [taskId(i), task(i)];
  return out;
}

const now = () => Number(process.hrtime.bigint()) / 1e9;
const progress = (m) => process.stderr.write(m + "\n");
const rate = (ops, seconds) => (seconds > 0 ? Math.round((ops / seconds) * 10) / 10 : null);
const peakRSSBytes = () => process.resourceUsage().maxRSS * 1024;

function makeTemporaryDirectory(purpose) {
  const base = process.env.TMPDIR || "/tmp";
  return mkdtempSync(join(base, `opslog-bench-${purpose}-`));
}

function removeDirectory(path) {
  try { rmSync(path, { recursive: true, force: true }); } catch (err) { progress(`warning: cannot remove ${path}: ${err}`); }
}

/** Options for a store that never checkpoints by itself or on close. */
function uncheckpointedOptions(extra = {}) {
  return { checkpointThreshold: NO_CHECKPOINT_THRESHOLD, checkpointOnClose: false, ...extra };
}

async function openStore(dir, options) {
  const store = new Store();
  await store.open(dir, options);
  return store;
}

/** Loads records [from, to) in batches of 5,000. */
async function loadRecords(store, from, to) {
  for (let start = from; start < to; start += LOAD_BATCH_SIZE) {
    const end = Math.min(start + LOAD_BATCH_SIZE, to);
    await store.batch(() => {
      for (let i = start; i < end; i++) store.set(taskId(i), task(i));
    });
  }
}

async function preload(store, count) {
  if (count <= 0) return;
  progress(`preloading ${count} records`);
  await loadRecords(store, 0, count);
  await store.compact();
}

/** `--dir`, or a fresh store made by `prepare` in a child process (owned: caller removes it). */
function storeDirectory(o) {
  if (o.dir !== undefined) return { path: o.dir, owned: false };
  progress(`running ${process.execPath} ${SCRIPT} prepare --records ${o.records} --ops ${o.ops} in a child process`);
  const child = spawnSync(process.execPath, [SCRIPT, "prepare", "--records", String(o.records), "--ops", String(o.ops)], {
    stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`prepare exited with status ${child.status}`);
  const path = child.stdout.trim().split(/\s+/)[0];
  if (!path) throw new Error("prepare printed no directory");
  return { path, owned: true };
}

function result(workload, records, ops, seconds, opsPerSecond, extra = {}) {
  return {
    impl: "opslog-node", workload, records, ops, seconds, opsPerSecond,
    peakRSSBytes: peakRSSBytes(), ...extra,
  };
}

// ---------- workloads ----------

async function prepare(o) {
  let directory;
  if (o.dir !== undefined) {
    if (existsSync(o.dir) && readdirSync(o.dir).length > 0) {
      throw new Error(`prepare builds a new store: ${o.dir} must be empty or absent`);
    }
    directory = o.dir;
  } else {
    directory = makeTemporaryDirectory("store");
  }
  const start = now();
  const store = await openStore(directory, uncheckpointedOptions());
  progress(`prepare: loading ${o.records} records into ${directory}`);
  await loadRecords(store, 0, o.records);
  await store.compact();
  progress(`prepare: ${o.ops} updates`);
  for (let k = 0; k < o.ops; k++) {
    const id = taskId((k * 7919) % o.records);
    const record = store.get(id);
    if (!record) throw new Error(`prepare: ${id} is missing`);
    // A new object (Swift's value semantics): the stored one stays as `prev`.
    await store.set(id, { ...record, status: "done", priority: 9 });
  }
  await store.close();
  progress(`prepare: done in ${(now() - start).toFixed(2)} s`);
  return { directory };
}

async function open(o) {
  const { path: directory, owned } = storeDirectory(o);
  try {
    progress(`open: ${directory}`);
    const start = now();
    const store = await openStore(directory, { readOnly: true });
    const count = store.count();
    store.get(taskId(0));
    const seconds = now() - start;
    const pending = store.stats().opsCount;
    await store.close();
    progress(`open: ${count} records, ${pending} WAL operations, ${seconds.toFixed(3)} s`);
    return result("open", count, pending, seconds, null);
  } finally {
    if (owned) removeDirectory(directory);
  }
}

async function compact(o) {
  const { path: source, owned } = storeDirectory(o);
  const parent = makeTemporaryDirectory("compact");
  try {
    const directory = join(parent, "store");
    cpSync(source, directory, { recursive: true });
    progress(`compact: opening a copy of ${source}`);
    const store = await openStore(directory, uncheckpointedOptions());
    const count = store.count();
    const pending = store.stats().opsCount;
    await store.set(taskId(0), task(0));
    const start = now();
    await store.compact();
    const seconds = now() - start;
    await store.close();
    progress(`compact: ${count} records, ${seconds.toFixed(3)} s`);
    return result("compact", count, pending, seconds, null);
  } finally {
    removeDirectory(parent);
    if (owned) removeDirectory(source);
  }
}

async function query(o) {
  const { path: directory, owned } = storeDirectory(o);
  try {
    const store = await openStore(directory, { readOnly: true });
    const count = store.count();
    const queries = 20;
    let matches = 0;
    const start = now();
    const startCPU = process.cpuUsage();
    for (let q = 0; q < queries; q++) {
      matches = store.filter((t) => t.status === "active" && t.priority > 2).length;
    }
    const seconds = now() - start;
    const cpu = process.cpuUsage(startCPU);
    const cpuSeconds = Math.round(cpu.user + cpu.system) / 1e6;
    await store.close();
    progress(`query: ${queries} filters over ${count} records, ${matches} matches each, ${seconds.toFixed(3)} s`);
    return result("query", count, queries, seconds, null, { matches, cpuSeconds });
  } finally {
    if (owned) removeDirectory(directory);
  }
}

// The timed part of the write workloads: one awaited set per record in order, then a flush.
async function timedSets(store, records) {
  const start = now();
  for (const [id, record] of records) {
    await store.set(id, record);
  }
  await store.flush();
  return now() - start;
}

function writeWorkload(mode) {
  const name = `write-${mode}`;
  return async (o) => {
    const preloaded = o.preload ?? 0;
    const directory = makeTemporaryDirectory(name);
    try {
      const store = await openStore(directory, uncheckpointedOptions({ writeMode: mode }));
      await preload(store, preloaded);
      progress(`${name}: ${o.ops} sets`);
      const records = prepared(preloaded, preloaded + o.ops);
      const seconds = await timedSets(store, records);
      if (store.count() !== preloaded + o.ops) throw new Error(`${name}: records are missing`);
      await store.close();
      return result(name, o.records, o.ops, seconds, rate(o.ops, seconds), { preloaded });
    } finally {
      removeDirectory(directory);
    }
  };
}

async function writeDefault(o) {
  const preloaded = o.preload ?? Math.floor(o.records / 10);
  const directory = makeTemporaryDirectory("write-default");
  try {
    const store = await openStore(directory, {});
    await preload(store, preloaded);
    progress(`write-default: ${o.ops} sets`);
    const records = prepared(preloaded, preloaded + o.ops);
    const seconds = await timedSets(store, records);
    const closeStart = now();
    await store.close();
    const closeSeconds = now() - closeStart;
    return result("write-default", o.records, o.ops, seconds, rate(o.ops, seconds), { preloaded, closeSeconds });
  } finally {
    removeDirectory(directory);
  }
}

async function undo(o) {
  const directory = makeTemporaryDirectory("undo");
  try {
    const store = await openStore(directory, uncheckpointedOptions());
    progress(`undo: ${o.ops} sets over 100 IDs`);
    for (let k = 0; k < o.ops; k++) {
      await store.set(taskId(k % 100), task(k));
    }
    progress(`undo: ${o.ops} undos`);
    const start = now();
    for (let k = 0; k < o.ops; k++) {
      if (!(await store.undo())) throw new Error("undo: nothing left to undo");
    }
    const seconds = now() - start;
    if (store.count() !== 0) throw new Error("undo: records remain after undoing every set");
    await store.close();
    return result("undo", o.records, o.ops, seconds, rate(o.ops, seconds));
  } finally {
    removeDirectory(directory);
  }
}

const WORKLOADS = {
  prepare,
  open,
  compact,
  query,
  "write-immediate": writeWorkload("immediate"),
  "write-group": writeWorkload("group"),
  "write-async": writeWorkload("async"),
  "write-default": writeDefault,
  undo,
};

// ---------- main ----------

const options = parseArgs(process.argv.slice(2));
try {
  const out = await WORKLOADS[options.workload](options);
  process.stdout.write((out.directory ?? JSON.stringify(out)) + "\n");
} catch (err) {
  process.stderr.write(`bench.mjs ${options.workload}: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
}

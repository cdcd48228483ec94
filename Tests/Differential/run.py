"""The differential run against the reference: random scripts of operations, applied in turn by
this project (OpsLogTestHelper apply-script) and by opslog for Node (reference-exec.mjs apply)
to one store directory; after each turn both read the directory back and must agree.

    python3 Tests/Differential/run.py HELPER ROUNDS [--seed N] [--agents]

HELPER is the OpsLogTestHelper binary; node must be able to load the reference (see
Tests/differential.sh). A failing turn's store, script and views are kept under
$TMPDIR/opslog-differential-failures/. The seed of every round is printed with its failure, and
`--seed` replays a run.

Checked after every turn:
- both implementations read the same entries, in the same order, and the same archive segments;
- both read the same operations since the last checkpoint, in the same order (the reference's
  `getOps()`, this project's `operations()`: what history and `operations(since:)` are made of);
- when this project wrote the turn, what it held in memory after its last operation equals what
  both read back (values and order), and, in rounds that close without a checkpoint and turns
  with no automatic one, so do its operations since the last checkpoint;
- a follower of this project's (a read-only store opened after the first turn, `tail()` or an
  agent's `refresh()` after each turn) equals what a fresh open reads;
- after a typed turn (this project's `Store<PartialRecord>`, a type that knows one field, `f`,
  and updates it), every record holds what a model says: the other fields kept as they were,
  `f` as written, and an undo restoring the record's JSON exactly.
The reference's own memory is compared with its own reopen too, and differences are counted, not
failed. Two defects of the reference's group and async modes are kept out of its turns in those
modes, because they make a store whose WAL says something else than its writer did: its undo
cuts the last line written to the WAL while the operation it takes back is still buffered (and
written later), and its batch is appended at once, ahead of the operations still buffered from
before it, so the WAL replays them in another order (a follower that replays it, as this
project's does, then differs from the snapshot the reference's next checkpoint writes from
memory). With them in, the counted differences and follower mismatches are those defects'.

Half the rounds close without a checkpoint (`checkpointOnClose` false), so that each side replays
and undoes the other's WAL lines, delta patches included. In those rounds the reference never
undoes: it undoes a batch line by line, and a batch without its last line is one a crash tore
(Docs/FORMAT.md, "Batches"), which this project skips whole, as the format says.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EXEC = ["node", os.path.join(HERE, "reference-exec.mjs")]
FAILURES = os.path.join(tempfile.gettempdir(), "opslog-differential-failures")
AGENTS = ["agent-a", "agent-b", "agent-c"]
IDS = [f"id{i}" for i in range(12)] + ["é", "e\u0301", "😀", "a b", 'x"y', "\\"]
# Characters that have tripped JSON codecs: escapes, control characters, U+2028, a BOM, a
# precomposed and a decomposed é (two keys to JavaScript, equal to Swift's String ==).
CHARACTERS = list("abcxyz019 ") + [
    '"', "\\", "/", "\n", "\t", "\x00", "\x1f", "\x7f", "\u2028", "é", "e\u0301", "中", "😀", "\ufeff", "\u00a0"]
NUMBERS = [0, -1, 1, 2**31, -(2**31), 2**53, -(2**53), 10**15, 0.5, -0.0, 1e-7, 1e21, 1.7976931348623157e308,
           5e-324, 0.1, 123.456, -2.5e-10, 1e300]


def text(r, longest=8):
    return "".join(r.choice(CHARACTERS) for _ in range(r.randint(0, longest)))


def number(r):
    kind = r.randint(0, 5)
    if kind == 0:
        return r.randint(-(2**53), 2**53)  # beyond 2^53 JavaScript rounds: not a difference to look for
    if kind == 1:
        return r.choice(NUMBERS)
    if kind == 2:
        return r.uniform(-1e6, 1e6)
    return r.randint(-1000, 1000)


def value(r, depth=0):
    kind = r.randint(0, 9 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return r.choice([True, False])
    if kind in (2, 3):
        return number(r)
    if kind == 4 and r.random() < 0.02:
        # Now and then a long string: lines that cross the readers' buffer boundaries.
        return text(r, 4) * r.randint(2_000, 60_000)
    if kind in (4, 5):
        return text(r)
    if kind in (6, 7):
        return [value(r, depth + 1) for _ in range(r.randint(0, 4))]
    return {text(r, 4) or "k": value(r, depth + 1) for _ in range(r.randint(0, 5))}


def record(r, previous):
    """A record: often a small change of the previous one, so that updates write delta patches."""
    if isinstance(previous, dict) and r.random() < 0.6:
        changed = json.loads(json.dumps(previous))
        for _ in range(r.randint(1, 3)):
            if changed and r.random() < 0.3:
                del changed[r.choice(list(changed))]
            else:
                changed[text(r, 3) or "k"] = value(r, 1)
        return changed
    return {text(r, 5) or "f": value(r, 1) for _ in range(r.randint(0, 6))}


def script(r, latest, undoes=True, batches=True):
    steps = []
    for _ in range(r.randint(5, 60)):
        roll = r.random()
        if (not undoes and 0.78 <= roll < 0.93) or (not batches and 0.68 <= roll < 0.78):
            roll = 0.0
        if roll < 0.55:
            id = r.choice(IDS)
            latest[id] = record(r, latest.get(id))
            steps.append({"op": "set", "id": id, "value": latest[id]})
        elif roll < 0.68:
            steps.append({"op": "delete", "id": r.choice(IDS)})
        elif roll < 0.78:
            inner = []
            for _ in range(r.randint(1, 5)):
                id = r.choice(IDS)
                if r.random() < 0.7:
                    latest[id] = record(r, latest.get(id))
                    inner.append({"op": "set", "id": id, "value": latest[id]})
                else:
                    inner.append({"op": "delete", "id": id})
            steps.append({"op": "batch", "ops": inner})
        elif roll < 0.93:
            steps.append({"op": "undo"})
        elif roll < 0.97:
            steps.append({"op": "compact"})
        else:
            steps.append({"op": "archive", "segment": r.choice(["2025-Q4", "2026-Q1"]),
                          "prefix": r.choice(["id1", "id2", "é"])})
    return steps


def typed_script(r, state):
    """Touches of field `f` on the records of `state` (now and then an absent ID, which changes
    nothing) and undos of them; applied to `state` too, the model the typed turn must match."""
    steps, undo = [], []
    position = {id: index for index, (id, _) in enumerate(state)}  # a touch moves no record
    for _ in range(r.randint(3, 25)):
        if undo and r.random() < 0.2:
            steps.append({"op": "undo"})
            id, before = undo.pop()
            state[position[id]][1] = before
            continue
        id = r.choice(list(position)) if position and r.random() < 0.9 else r.choice(IDS)
        step = {"op": "touch", "id": id}
        if r.random() < 0.7:
            step["f"] = value(r, 1)
        steps.append(step)
        if id in position and isinstance(state[position[id]][1], dict):
            before = state[position[id]][1]
            after = {k: v for k, v in before.items() if k != "f"}
            if "f" in step:
                after["f"] = step["f"]
            state[position[id]][1] = after
            undo.append((id, before))
    return steps


def run(command):
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])}… exited {done.returncode}: {done.stderr[-3000:]}")
    # The state is the last line; split on "\n" only (U+2028 in a record is not a line break here).
    return json.loads(done.stdout.rstrip("\n").split("\n")[-1])


class Follower:
    """OpsLogTestHelper follow-store: one process for the round, polled after each turn."""

    def __init__(self, helper, directory, agents):
        command = [helper, "follow-store", directory] + (["follower"] if agents else [])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.first = self.read()

    def read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the follower ended: {self.process.stderr.read()[-3000:]}")
        return json.loads(line)

    def poll(self):
        self.process.stdin.write("poll\n")
        self.process.stdin.flush()
        return self.read()

    def close(self):
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
            self.process.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


def values(state):
    return {id: record for id, record in state["entries"]}


def operations(state):
    """The operations since the checkpoint (`ops`: [ts, op, id, data, encoding, prev, agent, clock])."""
    return state["ops"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("helper")
    parser.add_argument("rounds", type=int)
    parser.add_argument("--seed", type=int, default=random.SystemRandom().randrange(1 << 30))
    parser.add_argument("--agents", action="store_true", help="every turn opens the store as one of three agents")
    arguments = parser.parse_args()
    failures = turns = by_swift = by_typed = reference_self = 0
    for round in range(arguments.rounds):
        seed = arguments.seed + round
        r = random.Random(seed)
        directory = tempfile.mkdtemp(prefix="opslog-differential-")
        latest = {}
        checkpoint_on_close = "1" if r.random() < 0.5 else "0"
        follower = None
        try:
            swift = None
            for turn in range(r.randint(2, 6)):
                writer = r.choice(["swift", "reference", "typed"] if swift and swift["entries"] else ["swift", "reference"])
                threshold = str(r.choice([2, 5, 20, 1000]))
                mode = r.choice(["immediate", "group", "async"])
                buffered_reference = writer == "reference" and mode != "immediate" and not arguments.agents
                model = None
                if writer == "typed":
                    model = [[id, record] for id, record in swift["entries"]]
                    steps = typed_script(r, model)
                else:
                    steps = script(
                        r, latest, undoes=writer == "swift" or (checkpoint_on_close == "1" and not buffered_reference),
                        batches=not buffered_reference)
                script_path = directory + ".script.json"
                with open(script_path, "w") as file:
                    json.dump(steps, file, ensure_ascii=r.random() < 0.5)
                agent = r.choice(AGENTS) if arguments.agents else "-"
                if writer == "swift":
                    written = run([arguments.helper, "apply-script", directory, script_path, threshold, mode, agent,
                                   checkpoint_on_close])
                    by_swift += 1
                elif writer == "typed":
                    written = run([arguments.helper, "apply-typed-script", directory, script_path, agent,
                                   checkpoint_on_close])
                    by_typed += 1
                else:
                    written = run(EXEC + ["apply", directory, script_path, threshold, mode, agent,
                                          checkpoint_on_close])
                os.remove(script_path)
                reader = ["reader"] if arguments.agents else []
                swift = run([arguments.helper, "dump-entries", directory] + reader)
                reference = run(EXEC + ["dump", directory] + (["agent"] if arguments.agents else []))
                turns += 1
                problems = []
                if follower is None:
                    follower = Follower(arguments.helper, directory, arguments.agents)
                    followed = follower.first
                else:
                    followed = follower.poll()
                if followed != swift:
                    problems.append("this project's follower differs from a fresh open")
                if swift["entries"] != reference["entries"]:
                    problems.append("the two implementations read different entries")
                if {k: sorted(v.items()) for k, v in swift["archives"].items()} != {
                    k: sorted(v.items()) for k, v in reference["archives"].items()
                }:
                    problems.append("the two implementations read different archive segments")
                if operations(swift) != operations(reference):
                    problems.append("the two implementations read different operations since the checkpoint")
                if swift["walOps"] != reference["walOps"] or swift["walOpsSince"] != reference["walOpsSince"]:
                    problems.append("the two implementations stream different WAL operations")
                if writer == "swift" and written["entries"] != swift["entries"]:
                    problems.append("this project's memory after the turn differs from what a reopen reads")
                # Only with no automatic checkpoint: one may still run when the state is read, and
                # the close waits for it.
                if (writer == "swift" and checkpoint_on_close == "0" and threshold == "1000"
                        and operations(written) != operations(swift)):
                    problems.append("this project's operations in memory after the turn differ from a reopen's")
                if writer == "typed" and (swift["entries"] != model or written["entries"] != model):
                    problems.append("the typed turn's records differ from the model (fields lost or undo inexact)")
                if writer == "reference" and values(written) != values(reference):
                    reference_self += 1
                if problems:
                    failures += 1
                    kept = os.path.join(FAILURES, f"seed-{seed}-turn-{turn}")
                    shutil.copytree(directory, kept, dirs_exist_ok=True)
                    with open(os.path.join(kept, "differential.json"), "w") as file:
                        json.dump({"seed": seed, "turn": turn, "writer": writer, "agent": agent,
                                   "threshold": threshold, "mode": mode, "checkpointOnClose": checkpoint_on_close,
                                   "script": steps, "written": written, "swift": swift, "reference": reference,
                                   "follower": followed, "model": model}, file)
                    print(f"seed {seed} turn {turn} ({writer} wrote, {mode}, threshold {threshold}, agent {agent}): "
                          f"checkpoint on close {checkpoint_on_close}: {'; '.join(problems)}; kept in {kept}", flush=True)
                    break
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
            failures += 1
            print(f"seed {seed}: {error}", flush=True)
        finally:
            if follower is not None:
                follower.close()
            shutil.rmtree(directory, ignore_errors=True)
    kind = "agent" if arguments.agents else "single-writer"
    print(f"differential ({kind}): {arguments.rounds} rounds, {turns} turns ({by_swift} written by this project, "
          f"{by_typed} by its typed store), "
          f"{failures} failures; the reference's memory differed from its own reopen after {reference_self} of its turns; "
          f"seed {arguments.seed}")
    sys.exit(1 if failures else 0)


main()

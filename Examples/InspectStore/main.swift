// Reads a store directory without the engine: only OpsLogStorage and OpsLogCodec, so it
// opens stores of any schema version, with any record shape, while a writer has them open.
//
//     swift run InspectStore Tests/Fixtures/multi-writer/store
//
// It prints the files the current state is made of, the records in the store's order, and
// the WAL lines that were skipped (a torn write, a damaged batch).
import OpsLogCodec
import OpsLogStorage

let arguments = CommandLine.arguments
let location = arguments.count > 1 ? arguments[1] : "./data"

do {
  let reader = try await StoreReader.open(location)
  let files = try await reader.files()
  print("store \(location), version \(files.manifest.version)")
  print("snapshot \(files.snapshot)")
  for wal in files.wals {
    let agent = wal.agent.map { " (agent \($0))" } ?? ""
    let retired = wal.isRetired ? ", retired: lines after byte \(wal.startOffset)" : ""
    print("WAL \(wal.path)\(agent)\(retired)")
  }

  let contents = try await reader.contents(of: files)
  print("\(contents.snapshotRecordCount) records in the snapshot, \(contents.operations.entries.count) WAL operations")
  print("\(contents.records.count) records:")
  for record in contents.records.prefix(20) {
    print("  \(record.id): \(String(decoding: record.data, as: UTF8.self))")
  }
  if contents.records.count > 20 { print("  … and \(contents.records.count - 20) more") }
  for problem in contents.operations.problems { print(problem) }

  let garbage = try await reader.inventory(of: files).filter { $0.role == .garbage }
  print("\(garbage.count) files no manifest needs any more (\(garbage.reduce(0) { $0 + $1.size }) bytes)")
  try await reader.close()
} catch {
  print("cannot read \(location): \(error)")
}

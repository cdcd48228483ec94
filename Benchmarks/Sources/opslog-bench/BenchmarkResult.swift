import OpsLogCodec
import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The one JSON line a workload prints on stdout; extra figures follow the common ones.
struct BenchmarkResult {
  var workload: String
  var records: Int
  var ops: Int
  var seconds: Double
  var opsPerSecond: Double?
  var extra: [(String, JSONValue)] = []
  /// `prepare` only: the directory it built, printed instead of the JSON line.
  var directory: String? = nil

  func line() -> String {
    var object = JSONObject()
    object["impl"] = "opslog-swift"
    object["workload"] = .string(workload)
    object["records"] = .int(Int64(records))
    object["ops"] = .int(Int64(ops))
    object["seconds"] = .double(seconds)
    object["opsPerSecond"] = opsPerSecond.map { .double($0) } ?? .null
    object["peakRSSBytes"] = .int(Self.peakRSSBytes())
    for (key, value) in extra { object[key] = value }
    return JSONValue.object(object).jsonText
  }

  /// Peak resident set size from getrusage (ru_maxrss is in KiB on Linux).
  static func peakRSSBytes() -> Int64 {
    var usage = rusage()
    #if canImport(Glibc)
      getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
      getrusage(RUSAGE_SELF, &usage)
    #endif
    return Int64(usage.ru_maxrss) * 1024
  }
}

/// Progress for humans, on stderr so that stdout stays one JSON line.
func progress(_ message: String) {
  var line = message + "\n"
  line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

/// Monotonic seconds.
func now() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_MONOTONIC, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// The median of `runs` timings of `body`.
func medianSeconds(runs: Int = 3, _ body: () throws -> Void) rethrows -> Double {
  var timings: [Double] = []
  for _ in 0..<runs {
    let start = now()
    try body()
    timings.append(now() - start)
  }
  timings.sort()
  return timings[timings.count / 2]
}

/// User and system processor time of every thread of the process so far, in seconds.
func processorSeconds() -> Double {
  var usage = rusage()
  #if canImport(Glibc)
    getrusage(RUSAGE_SELF.rawValue, &usage)
  #else
    getrusage(RUSAGE_SELF, &usage)
  #endif
  func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
  return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogStorage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A lock holder that has exited but is not reaped yet (a zombie) is dead: `kill(pid, 0)`
/// still succeeds for it, so only its process state tells.
@Suite("Locks of exited, unreaped holders")
struct ExitedHolderLockTests {
  #if os(Linux)
    /// Starts `/bin/sh -c 'exit 0'` and waits until it has exited, without reaping it.
    func spawnZombie() throws -> pid_t {
      var pid: pid_t = 0
      let arguments = ["/bin/sh", "-c", "exit 0"]
      var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
      defer { for pointer in argv { free(pointer) } }
      let result = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ)
      guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL) }
      // waitid with WNOWAIT sees the exit and leaves the child a zombie.
      var info = siginfo_t()
      while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
        guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL) }
      }
      return pid
    }

    func reap(_ pid: pid_t) {
      var status: Int32 = 0
      _ = waitpid(pid, &status, 0)
    }

    @Test func aZombieIsNotAlive() throws {
      let pid = try spawnZombie()
      defer { reap(pid) }
      #expect(kill(pid, 0) == 0, "the zombie still answers kill(pid, 0)")
      #expect(!Posix.processIsAlive(pid))
      #expect(Posix.processIsAlive(getpid()))
    }

    @Test(arguments: [".lock", ".compact-lock"])
    func aLockOfAnExitedUnreapedHolderIsStaleAndTakenOver(name: String) async throws {
      try await withTemporaryDirectory { root in
        let pid = try spawnZombie()
        defer { reap(pid) }
        // The holder wrote its PID and exited: its flock went with it, the file stays.
        try Data(String(pid).utf8).write(to: URL(fileURLWithPath: root + "/" + name))
        let backend = FsBackend()
        try await backend.initialize(location: root, readOnly: false)
        try await backend.acquireLock(name)
        #expect(try await backend.read(name) == bytes(String(getpid())))
        try await backend.shutdown()
      }
    }
  #endif
}

import Dispatch

/// A task executor that runs its jobs on a serial dispatch queue: the I/O queue of a
/// ``FsBackend``.
///
/// A task that prefers it (`withTaskExecutorPreference(_:operation:)`) runs its nonisolated
/// async code on the queue's thread, so a backend call it makes finds itself on the I/O queue
/// already and does its system call in place, with no thread switch there and back. Blocking
/// calls still never run on Swift's cooperative pool: the queue's thread is the backend's own.
final class QueueTaskExecutor: TaskExecutor {
  let queue: DispatchQueue

  init(queue: DispatchQueue) { self.queue = queue }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
  }

  /// Whether the current task prefers this executor, and therefore (in nonisolated code, where
  /// the backend's calls run) is running on its queue right now.
  var isCurrent: Bool {
    let executor = asUnownedTaskExecutor()
    return withUnsafeCurrentTask { task in task?.unownedTaskExecutor == executor }
  }
}

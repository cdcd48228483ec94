/// A task executor that runs its jobs on an ``IOThread``: the I/O thread of an ``FsBackend``.
///
/// A task that prefers it (`withTaskExecutorPreference(_:operation:)`) runs its nonisolated
/// async code on that thread, so a backend call it makes finds itself on the I/O thread
/// already and does its system call in place, with no hand-over there and back. Blocking
/// calls still never run on Swift's cooperative pool: the thread is the backend's own.
package final class IOTaskExecutor: TaskExecutor {
  let thread: IOThread

  package init(thread: IOThread) { self.thread = thread }

  package func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    thread.submit { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
  }

  /// Whether the current task prefers this executor, and therefore (in nonisolated code, where
  /// the backend's calls run) is running on its thread right now.
  var isCurrent: Bool {
    let executor = asUnownedTaskExecutor()
    return withUnsafeCurrentTask { task in task?.unownedTaskExecutor == executor }
  }
}

import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

extension Store {
  /// Flushes what is buffered, checkpoints when ``StoreOptions/checkpointOnClose`` is set and
  /// operations were written since the last checkpoint, releases the lock and closes the
  /// files. After it, every call throws `OpsLogError.closed`; closing twice is harmless.
  ///
  /// - Complexity: O(buffered operations), plus a checkpoint (O(n) in the records) when
  ///   operations were written since the last one and ``StoreOptions/checkpointOnClose`` is set.
  /// - Throws: a background write failure not reported yet, or the final write's error; the
  ///   store is closed all the same.
  public func close() async throws {
    let alreadyClosing = state.withLock { state -> Bool in
      if state.isClosing || state.isClosed { return true }
      state.isClosing = true
      return false
    }
    if alreadyClosing { return }
    var firstError: (any Error)? = state.withLock { $0.takeBackgroundError() }
    do {
      try await writeQueued()
      if let error = state.withLock({ $0.takeBackgroundError() }) {
        firstError = firstError ?? error
      }
      if isWritable && !options.skipLoad {
        await mutationLock.lock()
        defer { mutationLock.unlock() }
        try await strategy.willClose(backend: backend, options: options, logger: logger)
      }
      if isWritable && !options.skipLoad && options.checkpointOnClose {
        try await checkpoint(reason: .close)
      }
    } catch {
      firstError = firstError ?? error
    }
    await checkpointLock.lock()
    state.withLock { state in
      state.isClosed = true
      state.feed.finishAll()
    }
    checkpointLock.unlock()
    if isWritable && strategy.capabilities.contains(.exclusiveWriter) {
      do { try await backend.releaseLock(".lock") } catch { firstError = firstError ?? error }
    }
    do { try await backend.shutdown() } catch { firstError = firstError ?? error }
    if let firstError { throw firstError }
  }
}

import COpsLogPrefetch

/// Prefetches the heap objects a stored value refers to, before the value is copied.
///
/// Copying a record out of the table retains every object it refers to (a `String`'s storage,
/// an array's buffer), and a retain is an atomic increment on the object's header. Across a
/// store larger than the processor's caches those headers are cache misses, and an atomic
/// increment lets no other memory access overlap it, so a filter returning many records paid
/// one full memory latency per reference, one after the other (Benchmarks/PROFILE-NOTES.md,
/// sixth session). Prefetching the objects of a few dozen matches first, then copying them,
/// overlaps those misses.
///
/// The type is generic, so which of its words are references is not known here: every word
/// that could be an address is prefetched. A prefetch never faults, so a word that is a number
/// or the bytes of a small string and still looks like an address costs a wasted prefetch and
/// nothing else.
@usableFromInline
enum ReferencePrefetch {
  /// Matches gathered before their objects are copied: enough to overlap the misses, few
  /// enough that the first prefetched lines are still cached when their copy comes.
  @inlinable
  static var batchSize: Int { 32 }

  /// At most this many words of a value are looked at; a larger value's copy costs more than
  /// its misses anyway.
  @inlinable
  static var maximumWords: Int { 32 }

  /// Starts loading the cache line at `address` for writing.
  @inlinable
  static func prefetch(_ address: UnsafeRawPointer) {
    opslog_prefetch_for_write(address)
  }

  @inlinable
  static func prefetchReferences<Value>(of value: UnsafePointer<Value>) {
    #if _pointerBitWidth(_64)
      let words = Swift.min(MemoryLayout<Value>.size / 8, maximumWords)
      let raw = UnsafeRawPointer(value)
      for word in 0..<words {
        // A reference's address is in the low 48 bits (higher bits hold Swift's tags, as in a
        // `String`'s object word), a multiple of 16 (the heap's alignment); the lowest page is
        // never an object. Requiring the alignment skips most words that are not references
        // (the bytes of a small string, a `Double`), whose prefetch costs a page walk to an
        // address that is not mapped: 1-8 % of the query workload (Benchmarks/PROFILE-NOTES.md,
        // eighth session). An enum that keeps its case in a reference's low bits is not
        // prefetched, which costs that reference's miss and nothing else.
        let address = raw.loadUnaligned(fromByteOffset: word &* 8, as: UInt.self) & 0x0000_FFFF_FFFF_FFFF
        if address & 0xF == 0 && address >= 4096 { opslog_prefetch_for_write(UnsafeRawPointer(bitPattern: address)) }
      }
    #endif
  }
}

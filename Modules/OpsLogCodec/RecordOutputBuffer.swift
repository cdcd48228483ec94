/// The streaming record encoder's output: bytes in memory that one thread's
/// ``RecordEncodingState`` owns and reuses from one record to the next.
///
/// An append is a capacity check and a copy. Appending to an `[UInt8]` also checks the array's
/// uniqueness through a call into the run time each time, and one record is some forty
/// appends (keys, quotes, values, punctuation); a caller gets the finished record in one copy.
///
/// Not `Sendable`: it belongs to the state of the thread encoding, which frees it.
struct RecordOutputBuffer: JSONByteSink {
  private var base: UnsafeMutablePointer<UInt8>? = nil
  private(set) var count = 0
  private var capacity = 0

  /// Capacity kept between records: a buffer that grew past it for one large record is freed
  /// when that record is done, so a thread does not hold its largest record's size for good.
  static let retainedCapacity = 1 << 20

  /// The bytes written since the last ``removeAll()``, valid until the next append.
  var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

  @inline(__always)
  mutating func appendByte(_ byte: UInt8) {
    if count == capacity { grow(minimumCapacity: count + 1) }
    base.unsafelyUnwrapped[count] = byte
    count += 1
  }

  @inline(__always)
  mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) {
    let length = bytes.count
    // An empty buffer may still have an address, and this one may have no memory yet.
    guard length > 0, let source = bytes.baseAddress else { return }
    if capacity - count < length { grow(minimumCapacity: count + length) }
    let destination = UnsafeMutableRawPointer(base.unsafelyUnwrapped + count)
    // Most appends are a key, a short string or a number: two overlapping word copies
    // instead of a call to memmove.
    let from = UnsafeRawPointer(source)
    if length >= 8 && length <= 16 {
      let head = from.loadUnaligned(as: UInt64.self)
      let tail = from.loadUnaligned(fromByteOffset: length - 8, as: UInt64.self)
      destination.storeBytes(of: head, as: UInt64.self)
      destination.storeBytes(of: tail, toByteOffset: length - 8, as: UInt64.self)
    } else if length >= 4 && length < 8 {
      let head = from.loadUnaligned(as: UInt32.self)
      let tail = from.loadUnaligned(fromByteOffset: length - 4, as: UInt32.self)
      destination.storeBytes(of: head, as: UInt32.self)
      destination.storeBytes(of: tail, toByteOffset: length - 4, as: UInt32.self)
    } else if length < 4 {
      for index in 0..<length { destination.storeBytes(of: source[index], toByteOffset: index, as: UInt8.self) }
    } else {
      destination.copyMemory(from: from, byteCount: length)
    }
    count += length
  }

  @inline(never)
  private mutating func grow(minimumCapacity: Int) {
    let newCapacity = Swift.max(minimumCapacity, capacity * 2, 512)
    let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
    if let base {
      grown.initialize(from: base, count: count)
      base.deallocate()
    }
    base = grown
    capacity = newCapacity
  }

  /// Empties the buffer for the next record, keeping up to ``retainedCapacity`` bytes.
  mutating func removeAll() {
    count = 0
    if capacity > Self.retainedCapacity { deallocate() }
  }

  /// Frees the memory; the buffer is empty and usable again afterwards.
  mutating func deallocate() {
    base?.deallocate()
    base = nil
    count = 0
    capacity = 0
  }
}

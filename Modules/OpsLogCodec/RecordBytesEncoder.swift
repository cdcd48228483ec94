import OpsLogTypes

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Thrown inside the streaming encoder when a type writes to a container after a later
/// sibling was started (legal in Codable, impossible to stream); ``RecordEncoder`` then
/// encodes the value again through ``RecordTreeEncoder``.
struct RecordEncodingOutOfOrder: Error {}

/// The output and the stack of open containers shared by every encoder of one value, and the
/// encoders one thread reuses from one value to the next (one per depth, each with its cached
/// keyed container), so that encoding a record allocates nothing.
///
/// The mutable state lives behind pointers the object owns: a class's `var`s are checked for
/// exclusive access at run time on every read and write (a tenth of the encode time), a
/// pointer's memory is not.
final class RecordEncodingState {
  struct Fields {
    /// Containers written into the output but not closed yet, innermost last. Unretained:
    /// a pooled encoder lives as long as the state, and any other is kept in ``ownedFrames``
    /// until the value is done (retaining each frame as it opened and releasing it as it
    /// closed was a sixth of encoding a small record).
    var openFrames: [Unmanaged<RecordValueEncoder>] = []
    /// The encoders made for this value outside the pool (pending children, very deep
    /// values), held until ``RecordEncodingState/release()``.
    var ownedFrames: [RecordValueEncoder] = []
    /// Set when the type used containers out of order; the output is then discarded.
    var isOutOfOrder = false
    /// Set while a value is being encoded with this state, so that a nested top-level encode
    /// (a type's `encode(to:)` calling ``RecordEncoder`` again) takes a state of its own.
    var isActive = false
  }

  let fields: UnsafeMutablePointer<Fields>
  let output: UnsafeMutablePointer<RecordOutputBuffer>
  /// Pooled encoders by depth; a value at depth d is always complete (closed) before its
  /// parent starts the next one, so a pooled encoder never serves two values at once.
  let slots: UnsafeMutablePointer<RecordValueEncoder?>
  let slotCount = JSONValue.maximumDepth + 2

  init() {
    fields = .allocate(capacity: 1)
    fields.initialize(to: Fields())
    output = .allocate(capacity: 1)
    output.initialize(to: RecordOutputBuffer())
    fields.pointee.openFrames.reserveCapacity(8)
    slots = .allocate(capacity: slotCount)
    slots.initialize(repeating: nil, count: slotCount)
  }

  deinit {
    slots.deinitialize(count: slotCount)
    slots.deallocate()
    fields.deinitialize(count: 1)
    fields.deallocate()
    output.pointee.deallocate()
    output.deinitialize(count: 1)
    output.deallocate()
  }

  @inline(__always) var isOutOfOrder: Bool {
    get { fields.pointee.isOutOfOrder }
    set { fields.pointee.isOutOfOrder = newValue }
  }
  @inline(__always) var openFrames: [Unmanaged<RecordValueEncoder>] {
    _read { yield fields.pointee.openFrames }
    _modify { yield &fields.pointee.openFrames }
  }

  /// A pooled encoder for a value at `depth`, ready for a new value; unretained, since the
  /// pool (or, past its depth, ``Fields/ownedFrames``) holds it while the value is encoded.
  @inline(__always)
  func encoder(depth: Int, parent: RecordValueEncoder?, key: (any CodingKey)?) -> Unmanaged<RecordValueEncoder> {
    if depth < slotCount, let pooled = slots[depth] {
      pooled.reset(parent: parent, key: key)
      return Unmanaged.passUnretained(pooled)
    }
    let encoder = RecordValueEncoder(state: self, parent: parent, key: key, depth: depth, isPooled: depth < slotCount)
    if depth < slotCount { slots[depth] = encoder } else { fields.pointee.ownedFrames.append(encoder) }
    return Unmanaged.passUnretained(encoder)
  }

  /// Opens `frame` as the innermost container.
  @inline(__always)
  func push(_ frame: RecordValueEncoder) { fields.pointee.openFrames.append(Unmanaged.passUnretained(frame)) }

  /// Whether `frame` is the innermost open container.
  @inline(__always)
  func isInnermost(_ frame: RecordValueEncoder) -> Bool {
    fields.pointee.openFrames.last?.toOpaque() == Unmanaged.passUnretained(frame).toOpaque()
  }

  /// Breaks the reference cycles (state → encoder → state, encoder → cached container →
  /// encoder) so that everything is freed.
  func tearDown() {
    fields.pointee.openFrames.removeAll()
    fields.pointee.ownedFrames.removeAll()
    for index in 0..<slotCount {
      guard let encoder = slots[index] else { continue }
      encoder.fields.pointee.cachedContainer.clear()
      encoder.fields.pointee.parent = nil
      slots[index] = nil
    }
  }

  /// The calling thread's state, marked active; a fresh one when the thread's is in use.
  /// Hand it back with ``release()``.
  static func acquire() -> RecordEncodingState {
    if let raw = pthread_getspecific(recordEncodingStateKey) {
      let state = Unmanaged<RecordEncodingState>.fromOpaque(raw).takeUnretainedValue()
      if !state.fields.pointee.isActive {
        state.fields.pointee.isActive = true
        return state
      }
      let temporary = RecordEncodingState()
      temporary.fields.pointee.isActive = true
      return temporary
    }
    let state = RecordEncodingState()
    pthread_setspecific(recordEncodingStateKey, Unmanaged.passRetained(state).toOpaque())
    state.fields.pointee.isActive = true
    return state
  }

  func release() {
    fields.pointee.isActive = false
    fields.pointee.isOutOfOrder = false
    output.pointee.removeAll()
    if !fields.pointee.openFrames.isEmpty { fields.pointee.openFrames.removeAll(keepingCapacity: true) }
    if !fields.pointee.ownedFrames.isEmpty { fields.pointee.ownedFrames.removeAll() }
    // A temporary state (not the thread's) is freed now.
    if pthread_getspecific(recordEncodingStateKey) != Unmanaged.passUnretained(self).toOpaque() { tearDown() }
  }

  /// Runs `body` with the calling thread's state, marked active, and releases the state after;
  /// a fresh state when the thread's is in use (a record encoded inside another's
  /// `encode(to:)`).
  ///
  /// The thread's own state is lent without a retain: its thread-local slot holds it for the
  /// thread's life, and retaining and releasing it were two atomic operations a record.
  @inline(__always)
  static func withThreadState<Result>(_ body: (RecordEncodingState) throws -> Result) rethrows -> Result {
    if let raw = pthread_getspecific(recordEncodingStateKey) {
      let lent = Unmanaged<RecordEncodingState>.fromOpaque(raw)
      if lent._withUnsafeGuaranteedRef({ !$0.fields.pointee.isActive }) {
        return try lent._withUnsafeGuaranteedRef { state in
          state.fields.pointee.isActive = true
          defer { state.release() }
          return try body(state)
        }
      }
    }
    let state = acquire()
    defer { state.release() }
    return try body(state)
  }

  /// Runs `body` with the calling thread's output buffer, empty, for output assembled outside
  /// a record's encoding (a WAL line); the buffer is emptied again afterwards.
  static func withScratchBuffer<Result>(_ body: (inout RecordOutputBuffer) throws -> Result) rethrows -> Result {
    try withThreadState { state in try body(&state.output.pointee) }
  }

  func close(_ frame: RecordValueEncoder) {
    switch frame.kind {
    case .object: output.pointee.appendByte(UInt8(ascii: "}"))
    case .array: output.pointee.appendByte(UInt8(ascii: "]"))
    case .pending: output.pointee.appendASCII("{}")  // a type that encodes nothing, as JSONEncoder writes it
    case .single: break
    }
    frame.isClosed = true
  }

  /// Closes the frames above `frame` so that it can be written to; false when `frame` itself
  /// was closed already.
  @inline(__always)
  func makeCurrent(_ frame: RecordValueEncoder) -> Bool {
    if isInnermost(frame) { return true }
    return closeFrames(above: frame)
  }

  func closeFrames(above frame: RecordValueEncoder) -> Bool {
    guard !frame.isClosed else {
      isOutOfOrder = true
      return false
    }
    let target = Unmanaged.passUnretained(frame).toOpaque()
    while let top = openFrames.last, top.toOpaque() != target {
      openFrames.removeLast()
      top._withUnsafeGuaranteedRef { close($0) }
    }
    if openFrames.isEmpty {
      isOutOfOrder = true
      return false
    }
    return true
  }

  /// Closes `frame` and everything above it, once its value is complete.
  func closeFrames(through frame: RecordValueEncoder) throws {
    guard makeCurrent(frame) else { throw RecordEncodingOutOfOrder() }
    openFrames.removeLast()
    close(frame)
  }
}

/// The thread-local slot of each thread's ``RecordEncodingState``; freed when the thread ends.
let recordEncodingStateKey: pthread_key_t = {
  var key = pthread_key_t()
  pthread_key_create(&key) { raw in
    guard let raw else { return }
    let state = Unmanaged<RecordEncodingState>.fromOpaque(raw).takeRetainedValue()
    state.tearDown()
  }
  return key
}()

/// The JSON form of the types that have their own: `Date`, `Data`, ``JSONValue``. Nil for
/// every other type.
@inline(__always)
func recordSpecialValue<T: Encodable>(_ value: T) -> JSONValue? {
  if T.self == JSONValue.self { return (value as! JSONValue) }
  if T.self == Date.self { return .string(RecordDateFormat.string(value as! Date)) }
  if T.self == Data.self { return .string((value as! Data).base64EncodedString()) }
  return nil
}

/// One JSON value being encoded straight into the output bytes.
///
/// Codable lets a type fill its containers in any order; in practice types fill them front to
/// back, so each container is written as it is filled and closed when its value is complete
/// or when an enclosing container is written to again. A write to a closed container sets
/// ``RecordEncodingState/isOutOfOrder``, and the value is encoded again through a tree.
final class RecordValueEncoder: CodingPathNode, Encoder, SingleValueEncodingContainer {
  enum Kind {
    case pending
    case object
    case array
    case single
  }

  /// The encoder's mutable state, behind a pointer for the reason given at
  /// ``RecordEncodingState``.
  struct Fields {
    var parent: RecordValueEncoder?
    var key: (any CodingKey)?
    var kind = Kind.pending
    var isClosed = false
    /// Members or elements written so far, for commas and the unkeyed `count`.
    var count = 0
    /// The keyed container handed out last, and its key type: a pooled encoder serves values
    /// of the same type again and again, and building a `KeyedEncodingContainer` costs several
    /// run-time generic type lookups and an allocation.
    var cachedContainer = CachedKeyedContainer()
  }

  let state: RecordEncodingState
  let fields: UnsafeMutablePointer<Fields>
  /// Number of containers enclosing this value.
  let depth: Int
  /// Whether this is one of `state`'s pooled encoders (reused value after value).
  let isPooled: Bool

  init(
    state: RecordEncodingState, parent: RecordValueEncoder?, key: (any CodingKey)?, depth: Int = 0,
    isPooled: Bool = false
  ) {
    self.state = state
    fields = .allocate(capacity: 1)
    fields.initialize(to: Fields(parent: parent, key: key))
    self.depth = depth
    self.isPooled = isPooled
  }

  deinit {
    fields.pointee.cachedContainer.clear()
    fields.deinitialize(count: 1)
    fields.deallocate()
  }

  @inline(__always)
  func reset(parent: RecordValueEncoder?, key: (any CodingKey)?) {
    // A pooled encoder's parent is the pooled encoder one level up, value after value: compared
    // rather than stored again, which retained it and released it each time.
    if fields.pointee.parent !== parent { fields.pointee.parent = parent }
    fields.pointee.key = key
    fields.pointee.kind = .pending
    fields.pointee.isClosed = false
    fields.pointee.count = 0
  }

  @inline(__always) var parent: RecordValueEncoder? { fields.pointee.parent }
  @inline(__always) var key: (any CodingKey)? { fields.pointee.key }
  @inline(__always) var kind: Kind {
    get { fields.pointee.kind }
    set { fields.pointee.kind = newValue }
  }
  @inline(__always) var isClosed: Bool {
    get { fields.pointee.isClosed }
    set { fields.pointee.isClosed = newValue }
  }
  @inline(__always) var count: Int {
    get { fields.pointee.count }
    set { fields.pointee.count = newValue }
  }

  var userInfo: [CodingUserInfoKey: Any] { [:] }

  // MARK: Values

  func invalidNumber(_ value: Any, _ component: (any CodingKey)?) -> EncodingError {
    let path = path(appending: component)
    return EncodingError.invalidValue(
      value,
      .init(
        codingPath: path,
        debugDescription:
          "\(describeCodingPath(path)): \(value) cannot be written as JSON (NaN and infinities are not numbers in JSON)"
      ))
  }

  @inline(__always)
  func write(_ value: Double, _ component: (any CodingKey)?) throws {
    guard value.isFinite else { throw invalidNumber(value, component) }
    state.output.pointee.appendJSON(value)
  }

  @inline(__always)
  func write(_ value: Float, _ component: (any CodingKey)?) throws {
    guard value.isFinite else { throw invalidNumber(value, component) }
    writeFinite(value)
  }

  /// For callers that have checked `isFinite` already, before writing anything else.
  @inline(__always)
  func writeFinite(_ value: Float) {
    // A Float's shortest digits, not those of the Double it widens to (0.1, not 0.10000000149011612).
    state.output.pointee.appendJSON(Double(value.description) ?? Double(value))
  }

  @inline(__always)
  func write<Integer: FixedWidthInteger>(integer value: Integer) {
    if let exact = Int64(exactly: value) {
      state.output.pointee.appendJSON(exact)
    } else {
      var text = String(value)
      text.withUTF8 { state.output.pointee.appendBytes($0) }
    }
  }

  /// Writes the value of a member or element of this container, whose key or separator the
  /// caller has written already; `component` names it in the coding path.
  func encodeNested<T: Encodable>(_ value: T, _ component: any CodingKey) throws {
    if let special = recordSpecialValue(value) {
      state.output.pointee.appendJSON(special)
      return
    }
    if T.self == [String].self {
      let array = value as! [String]
      state.output.pointee.appendByte(UInt8(ascii: "["))
      for (index, element) in array.enumerated() {
        if index > 0 { state.output.pointee.appendByte(UInt8(ascii: ",")) }
        state.output.pointee.appendJSON(element)
      }
      state.output.pointee.appendByte(UInt8(ascii: "]"))
      return
    }
    if T.self == [Int].self {
      let array = value as! [Int]
      state.output.pointee.appendByte(UInt8(ascii: "["))
      for (index, element) in array.enumerated() {
        if index > 0 { state.output.pointee.appendByte(UInt8(ascii: ",")) }
        state.output.pointee.appendJSON(Int64(element))
      }
      state.output.pointee.appendByte(UInt8(ascii: "]"))
      return
    }
    try state.encoder(depth: depth + 1, parent: self, key: component)._withUnsafeGuaranteedRef { child in
      state.push(child)
      try value.encode(to: child)
      try state.closeFrames(through: child)
    }
  }

  // MARK: Encoder

  func openObject() {
    if kind == .object && !isClosed { return }
    guard kind == .pending, state.makeCurrent(self) else {
      state.isOutOfOrder = true
      return
    }
    kind = .object
    state.output.pointee.appendByte(UInt8(ascii: "{"))
  }

  func openArray() {
    if kind == .array && !isClosed { return }
    guard kind == .pending, state.makeCurrent(self) else {
      state.isOutOfOrder = true
      return
    }
    kind = .array
    state.output.pointee.appendByte(UInt8(ascii: "["))
  }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    openObject()
    guard isPooled else { return KeyedEncodingContainer(RecordKeyedEncodingContainer<Key>(encoder: self)) }
    // A pooled encoder keeps its last container: it refers to the encoder, not to one value.
    let typeID = ObjectIdentifier(type)
    if fields.pointee.cachedContainer.typeID == typeID, let copier = fields.pointee.cachedContainer.copier {
      return copier._withUnsafeGuaranteedRef {
        unsafeDowncast($0, to: KeyedContainerCopier<KeyedEncodingContainer<Key>>.self).copy()
      }
    }
    let container = KeyedEncodingContainer(RecordKeyedEncodingContainer<Key>(encoder: self, keys: RecordKeyCache()))
    fields.pointee.cachedContainer.store(container, typeID: typeID)
    return container
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    openArray()
    return RecordUnkeyedEncodingContainer(encoder: self)
  }

  func singleValueContainer() -> any SingleValueEncodingContainer { self }

  /// Starts a member or element of this container: closes whatever is open above it and
  /// writes the separator.
  @inline(__always)
  func beginEntry() throws {
    guard state.makeCurrent(self) else { throw RecordEncodingOutOfOrder() }
    if count > 0 { state.output.pointee.appendByte(UInt8(ascii: ",")) }
    count += 1
  }

  @inline(__always)
  func beginMember(_ key: some CodingKey) throws {
    try beginEntry()
    state.output.pointee.appendJSON(key.stringValue)
    state.output.pointee.appendByte(UInt8(ascii: ":"))
  }

  /// A child encoder for a value written later by the caller (nested containers, super encoders).
  func pendingChild(_ component: any CodingKey) -> RecordValueEncoder {
    let child = RecordValueEncoder(state: state, parent: self, key: component, depth: depth + 1)
    state.fields.pointee.ownedFrames.append(child)
    state.push(child)
    return child
  }

  // MARK: SingleValueEncodingContainer

  @inline(__always)
  func beginSingle() throws {
    guard kind == .pending, state.makeCurrent(self) else {
      state.isOutOfOrder = true
      throw RecordEncodingOutOfOrder()
    }
    kind = .single
  }

  func encodeNil() throws {
    try beginSingle()
    state.output.pointee.appendASCII("null")
  }
  func encode(_ value: Bool) throws {
    try beginSingle()
    state.output.pointee.appendASCII(value ? "true" : "false")
  }
  func encode(_ value: String) throws {
    try beginSingle()
    state.output.pointee.appendJSON(value)
  }
  func encode(_ value: Double) throws {
    try beginSingle()
    try write(value, nil)
  }
  func encode(_ value: Float) throws {
    try beginSingle()
    try write(value, nil)
  }
  func encode(_ value: Int) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: Int8) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: Int16) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: Int32) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: Int64) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt8) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt16) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt32) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt64) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode<T: Encodable>(_ value: T) throws {
    if let special = recordSpecialValue(value) {
      try beginSingle()
      state.output.pointee.appendJSON(special)
      return
    }
    guard kind == .pending, state.makeCurrent(self) else {
      state.isOutOfOrder = true
      throw RecordEncodingOutOfOrder()
    }
    // The value becomes this encoder's own: its containers open right here.
    try value.encode(to: self)
  }

  /// Encodes the document's root value.
  func encodeRoot<T: Encodable>(_ value: T) throws {
    state.push(self)
    if let special = recordSpecialValue(value) {
      kind = .single
      state.output.pointee.appendJSON(special)
    } else {
      try value.encode(to: self)
    }
    try state.closeFrames(through: self)
  }
}

/// The rendered keys (`,"name":`) of one keyed container type, so that a pooled container writes
/// each key with one copy instead of scanning and escaping its name again for every value.
/// Keys are looked up in the order they were last written (a struct's declaration order), so a
/// hit costs one string comparison. At most ``capacity`` keys are kept; a container with more
/// (a large dictionary) stops caching and writes its keys as before.
final class RecordKeyCache {
  struct Entry {
    let name: String
    let start: Int
    let end: Int
  }

  /// Behind a pointer, for the reason given at ``RecordEncodingState``.
  struct Fields {
    var entries: [Entry] = []
    /// Every entry's rendered bytes, one after the other, in memory this cache owns: copied
    /// out of an array instead, each write retained and released the array's buffer (the
    /// compiler cannot tell that appending to the writer leaves it alone).
    var rendered = RecordOutputBuffer()
    /// The entry expected next.
    var next = 0
    var isDisabled = false
  }

  static let capacity = 32
  let fields: UnsafeMutablePointer<Fields>

  init() {
    fields = .allocate(capacity: 1)
    fields.initialize(to: Fields())
  }

  deinit {
    fields.pointee.rendered.deallocate()
    fields.deinitialize(count: 1)
    fields.deallocate()
  }

  /// Writes `"name":` for `name`, after a comma when `comma` is set.
  @inline(__always)
  func write(_ name: String, comma: Bool, to output: UnsafeMutablePointer<RecordOutputBuffer>) {
    let next = fields.pointee.next
    if next < fields.pointee.entries.count, ExactString.areIdentical(fields.pointee.entries[next].name, name) {
      append(entry: next, comma: comma, to: output)
      return
    }
    writeSlowly(name, comma: comma, to: output)
  }

  @inline(__always)
  func append(entry index: Int, comma: Bool, to output: UnsafeMutablePointer<RecordOutputBuffer>) {
    let entry = fields.pointee.entries[index]
    let start = comma ? entry.start : entry.start + 1
    let rendered = fields.pointee.rendered.bytes
    output.pointee.appendBytes(UnsafeBufferPointer(rebasing: rendered[start..<entry.end]))
    fields.pointee.next = index + 1 == fields.pointee.entries.count ? 0 : index + 1
  }

  func writeSlowly(_ name: String, comma: Bool, to output: UnsafeMutablePointer<RecordOutputBuffer>) {
    if !fields.pointee.isDisabled {
      if let index = fields.pointee.entries.firstIndex(where: { ExactString.areIdentical($0.name, name) }) {
        append(entry: index, comma: comma, to: output)
        return
      }
      if fields.pointee.entries.count < Self.capacity {
        let start = fields.pointee.rendered.count
        fields.pointee.rendered.appendByte(UInt8(ascii: ","))
        fields.pointee.rendered.appendJSON(name)
        fields.pointee.rendered.appendByte(UInt8(ascii: ":"))
        fields.pointee.entries.append(Entry(name: name, start: start, end: fields.pointee.rendered.count))
        append(entry: fields.pointee.entries.count - 1, comma: comma, to: output)
        return
      }
      fields.pointee.isDisabled = true
    }
    if comma { output.pointee.appendByte(UInt8(ascii: ",")) }
    output.pointee.appendJSON(name)
    output.pointee.appendByte(UInt8(ascii: ":"))
  }
}

struct RecordKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let encoder: RecordValueEncoder
  /// Present for a pooled encoder's container, which serves many values.
  let keys: RecordKeyCache?

  init(encoder: RecordValueEncoder, keys: RecordKeyCache? = nil) {
    self.encoder = encoder
    self.keys = keys
  }

  var codingPath: [any CodingKey] { encoder.codingPath }

  @inline(__always)
  func beginMember(_ key: Key) throws {
    // `keys` is read in place rather than bound with `guard let`: the binding is a second
    // reference, and its retain and release were a tenth of encoding a small record.
    if keys == nil { return try encoder.beginMember(key) }
    guard encoder.state.makeCurrent(encoder) else { throw RecordEncodingOutOfOrder() }
    let comma = encoder.count > 0
    encoder.count += 1
    keys.unsafelyUnwrapped.write(key.stringValue, comma: comma, to: encoder.state.output)
  }

  func encodeNil(forKey key: Key) throws {
    try beginMember(key)
    encoder.state.output.pointee.appendASCII("null")
  }
  func encode(_ value: Bool, forKey key: Key) throws {
    try beginMember(key)
    encoder.state.output.pointee.appendASCII(value ? "true" : "false")
  }
  func encode(_ value: String, forKey key: Key) throws {
    try beginMember(key)
    encoder.state.output.pointee.appendJSON(value)
  }
  func encode(_ value: Double, forKey key: Key) throws {
    guard value.isFinite else { throw encoder.invalidNumber(value, key) }
    try beginMember(key)
    encoder.state.output.pointee.appendJSON(value)
  }
  func encode(_ value: Float, forKey key: Key) throws {
    // Checked before the key is written, as for Double: a rejected number leaves no member behind.
    guard value.isFinite else { throw encoder.invalidNumber(value, key) }
    try beginMember(key)
    encoder.writeFinite(value)
  }
  func encode(_ value: Int, forKey key: Key) throws {
    try beginMember(key)
    encoder.state.output.pointee.appendJSON(Int64(value))
  }
  func encode(_ value: Int8, forKey key: Key) throws {
    try beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: Int16, forKey key: Key) throws {
    try beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: Int32, forKey key: Key) throws {
    try beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: Int64, forKey key: Key) throws {
    try beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt, forKey key: Key) throws {
    try beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt8, forKey key: Key) throws {
    try beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt16, forKey key: Key) throws {
    try beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt32, forKey key: Key) throws {
    try beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt64, forKey key: Key) throws {
    try beginMember(key)
    encoder.write(integer: value)
  }
  func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    try beginMember(key)
    try encoder.encodeNested(value, key)
  }

  func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    if (try? beginMember(key)) == nil { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key).container(keyedBy: keyType)
  }

  func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    if (try? beginMember(key)) == nil { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key).unkeyedContainer()
  }

  func superEncoder() -> any Encoder {
    let key = JSONCodingKey("super")
    if (try? encoder.beginMember(key)) == nil { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key)
  }

  func superEncoder(forKey key: Key) -> any Encoder {
    if (try? beginMember(key)) == nil { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key)
  }
}

struct RecordUnkeyedEncodingContainer: UnkeyedEncodingContainer {
  let encoder: RecordValueEncoder

  var codingPath: [any CodingKey] { encoder.codingPath }
  var count: Int { encoder.count }

  /// Starts the next element and returns its index, for error paths.
  @inline(__always)
  func begin() throws -> RecordIndexKey {
    let index = encoder.count
    try encoder.beginEntry()
    return RecordIndexKey(index)
  }

  mutating func encodeNil() throws {
    _ = try begin()
    encoder.state.output.pointee.appendASCII("null")
  }
  mutating func encode(_ value: Bool) throws {
    _ = try begin()
    encoder.state.output.pointee.appendASCII(value ? "true" : "false")
  }
  mutating func encode(_ value: String) throws {
    _ = try begin()
    encoder.state.output.pointee.appendJSON(value)
  }
  mutating func encode(_ value: Double) throws {
    guard value.isFinite else { throw encoder.invalidNumber(value, RecordIndexKey(encoder.count)) }
    _ = try begin()
    encoder.state.output.pointee.appendJSON(value)
  }
  mutating func encode(_ value: Float) throws {
    let key = try begin()
    try encoder.write(value, key)
  }
  mutating func encode(_ value: Int) throws {
    _ = try begin()
    encoder.state.output.pointee.appendJSON(Int64(value))
  }
  mutating func encode(_ value: Int8) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: Int16) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: Int32) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: Int64) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt8) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt16) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt32) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt64) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode<T: Encodable>(_ value: T) throws {
    let key = try begin()
    try encoder.encodeNested(value, key)
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type
  ) -> KeyedEncodingContainer<NestedKey> {
    let key = (try? begin()) ?? RecordIndexKey(encoder.count)
    if !encoder.state.isInnermost(encoder) { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key).container(keyedBy: keyType)
  }

  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    let key = (try? begin()) ?? RecordIndexKey(encoder.count)
    if !encoder.state.isInnermost(encoder) { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key).unkeyedContainer()
  }

  mutating func superEncoder() -> any Encoder {
    let key = (try? begin()) ?? RecordIndexKey(encoder.count)
    if !encoder.state.isInnermost(encoder) { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key)
  }
}

import OpsLogCodec
import OpsLogTypes

// TEMPORARY: replaced by the decoder's own report of unknown keys (OpsLogCodec), which
// notes, while decoding, whether every key of every object was read.

/// The keys of a decoded object that the type never asked for.
struct UnknownKeys: Sendable, Equatable {
  var topLevel: [String]
  var nested: Bool
}

extension RecordDecoder {
  func decodeNotingUnknownKeys<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> (
    value: T, unknownKeys: UnknownKeys?
  ) {
    (try decode(type, from: bytes), nil)
  }
}

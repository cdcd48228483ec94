import OpsLogTypes

/// Indented JSON, byte for byte as JavaScript's `JSON.stringify(value, null, indent)` writes
/// it: the layout of `manifest.json`, archive segments and legacy snapshots.
public enum PrettyJSON {
  /// Serializes `value` with `indent` spaces per level (clamped to 0...10, as JavaScript
  /// does). Empty objects and arrays are `{}` and `[]`; members are `"key": value`; there is
  /// no trailing newline. With an indent of 0 the output is the compact form.
  public static func serialize(_ value: JSONValue, indent: Int = 2) -> [UInt8] {
    var writer = JSONWriter(reservingCapacity: 1024)
    let width = Swift.max(0, Swift.min(indent, 10))
    if width == 0 {
      writer.write(value)
    } else {
      write(value, into: &writer, indent: width, level: 0)
    }
    return writer.bytes
  }

  static func newline(_ writer: inout JSONWriter, spaces: Int) {
    writer.writeByte(UInt8(ascii: "\n"))
    for _ in 0..<spaces { writer.writeByte(UInt8(ascii: " ")) }
  }

  static func write(_ value: JSONValue, into writer: inout JSONWriter, indent: Int, level: Int) {
    switch value {
    case .array(let elements) where !elements.isEmpty:
      writer.writeByte(UInt8(ascii: "["))
      for (position, element) in elements.enumerated() {
        if position > 0 { writer.writeByte(UInt8(ascii: ",")) }
        newline(&writer, spaces: indent * (level + 1))
        write(element, into: &writer, indent: indent, level: level + 1)
      }
      newline(&writer, spaces: indent * level)
      writer.writeByte(UInt8(ascii: "]"))
    case .object(let object) where !object.isEmpty:
      writer.writeByte(UInt8(ascii: "{"))
      var first = true
      for (key, member) in object {
        if !first { writer.writeByte(UInt8(ascii: ",")) }
        first = false
        newline(&writer, spaces: indent * (level + 1))
        writer.write(key)
        writer.writeASCII(": ")
        write(member, into: &writer, indent: indent, level: level + 1)
      }
      newline(&writer, spaces: indent * level)
      writer.writeByte(UInt8(ascii: "}"))
    default:
      writer.write(value)
    }
  }
}

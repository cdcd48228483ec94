/// An encoder or decoder node that knows its parent and the key it was reached by, so its
/// coding path is walked on demand (only error messages and types that ask need it) instead
/// of being copied into every nested container.
protocol CodingPathNode: AnyObject {
  var parent: Self? { get }
  var key: (any CodingKey)? { get }
}

extension CodingPathNode {
  /// The keys from the root to this node.
  var codingPath: [any CodingKey] {
    var path: [any CodingKey] = []
    var node: Self? = self
    while let current = node, let key = current.key {
      path.append(key)
      node = current.parent
    }
    return path.reversed()
  }

  /// ``codingPath`` with `component` (a key or array index being read or written) after it.
  func path(appending component: (any CodingKey)?) -> [any CodingKey] {
    guard let component else { return codingPath }
    return codingPath + [component]
  }
}

// swift-tools-version:6.0
import PackageDescription

// Kept apart from the library so that its users never build benchmark dependencies.
let package = Package(
  name: "OpsLogBenchmarks",
  platforms: [.macOS(.v15)],
  dependencies: [
    // Named, so that the product reference holds whatever the checkout directory is called.
    .package(name: "OpsLog", path: ".."),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    .executableTarget(
      name: "opslog-bench",
      dependencies: [
        .product(name: "OpsLogCodec", package: "OpsLog"),
        .product(name: "OpsLogEngine", package: "OpsLog"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Sources/opslog-bench"
    )
  ],
  swiftLanguageModes: [.v6]
)

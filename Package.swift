// swift-tools-version:6.0
import PackageDescription

// Layers, lowest first. Each target depends only on the ones above it in this list, so a tool
// can take the codec alone and a test can swap the filesystem for the in-memory backend.
let package = Package(
  name: "OpsLog",
  // Apple platforms of 2024 on (Synchronization's Mutex, typed throws in the standard library);
  // on Darwin, `.disk` durability flushes with F_FULLFSYNC.
  platforms: [.macOS(.v15), .iOS(.v18), .tvOS(.v18), .watchOS(.v11), .visionOS(.v2)],
  products: [
    .library(name: "OpsLogTypes", targets: ["OpsLogTypes"]),
    .library(name: "OpsLogCodec", targets: ["OpsLogCodec"]),
    .library(name: "OpsLogStorage", targets: ["OpsLogStorage"]),
    .library(name: "OpsLogEngine", targets: ["OpsLogEngine"]),
    .library(name: "OpsLogMultiWriter", targets: ["OpsLogMultiWriter"]),
    .library(name: "OpsLog", targets: ["OpsLog"]),
    // Apart from the umbrella: a user who depends only on `OpsLog` builds no networking code.
    .library(name: "OpsLogS3", targets: ["OpsLogS3"]),
    .executable(name: "opslog", targets: ["OpsLogCommand"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.100.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CZlib",
      path: "Modules/CZlib",
      pkgConfig: "zlib",
      providers: [.apt(["libz-dev"]), .brew(["zlib"])]
    ),
    .target(name: "OpsLogTypes", path: "Modules/OpsLogTypes"),
    // A software prefetch for the engine's scans (Swift has no spelling for one).
    .target(name: "COpsLogPrefetch", path: "Modules/COpsLogPrefetch"),
    .target(
      name: "OpsLogCodec",
      dependencies: ["OpsLogTypes", "CZlib"],
      path: "Modules/OpsLogCodec"
    ),
    .target(
      name: "OpsLogStorage",
      dependencies: ["OpsLogTypes", "OpsLogCodec", .product(name: "Logging", package: "swift-log")],
      path: "Modules/OpsLogStorage"
    ),
    .target(
      name: "OpsLogEngine",
      dependencies: [
        "OpsLogTypes", "OpsLogCodec", "OpsLogStorage", "COpsLogPrefetch",
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Modules/OpsLogEngine"
    ),
    .target(
      name: "OpsLogMultiWriter",
      dependencies: [
        "OpsLogTypes", "OpsLogCodec", "OpsLogStorage", "OpsLogEngine",
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Modules/OpsLogMultiWriter"
    ),
    .target(
      name: "OpsLog",
      dependencies: ["OpsLogTypes", "OpsLogCodec", "OpsLogStorage", "OpsLogEngine", "OpsLogMultiWriter"],
      path: "Modules/OpsLog"
    ),
    // An S3-compatible bucket as a store's medium: on the layers below the engine only, so the
    // engine and the umbrella never pull in networking.
    .target(
      name: "OpsLogS3",
      dependencies: [
        "OpsLogTypes", "OpsLogCodec", "OpsLogStorage",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Modules/OpsLogS3"
    ),
    // The `opslog` command-line tool: inspects and maintains store directories.
    .executableTarget(
      name: "OpsLogCommand",
      dependencies: [
        "OpsLogTypes", "OpsLogCodec", "OpsLogStorage", "OpsLogEngine", "OpsLogMultiWriter",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Tools/OpsLogCommand"
    ),
    .executableTarget(name: "Quickstart", dependencies: ["OpsLog"], path: "Examples/Quickstart"),
    .executableTarget(name: "MultiWriter", dependencies: ["OpsLog"], path: "Examples/MultiWriter"),
    // Reads a store without the engine: the layers a tool needs and nothing more.
    .executableTarget(
      name: "InspectStore", dependencies: ["OpsLogStorage", "OpsLogCodec"], path: "Examples/InspectStore"),
    .executableTarget(name: "Observe", dependencies: ["OpsLog"], path: "Examples/Observe"),
    .executableTarget(name: "S3Agents", dependencies: ["OpsLog", "OpsLogS3"], path: "Examples/S3Agents"),
    // Child processes for the tests that need more than one process (locks, crashes).
    .executableTarget(name: "OpsLogTestHelper", dependencies: ["OpsLog"], path: "Tests/OpsLogTestHelper"),
    // What the tests and the torture's child share: on the storage layer (for ForwardingBackend)
    // and nothing above it, so the storage tests that use it do not build the engine.
    .target(
      name: "OpsLogTestSupport",
      dependencies: ["OpsLogTypes", "OpsLogStorage", .product(name: "Logging", package: "swift-log")],
      path: "Tests/OpsLogTestSupport"),
    // The child process of the multi-process S3 tests.
    .executableTarget(
      name: "OpsLogS3TestHelper", dependencies: ["OpsLog", "OpsLogS3"], path: "Tests/OpsLogS3TestHelper"),
    // The child process of the kill -9 torture: random writes until it is killed.
    .executableTarget(
      name: "OpsLogTorture", dependencies: ["OpsLog", "OpsLogTestSupport"], path: "Tests/OpsLogTorture"),
    .testTarget(name: "OpsLogTypesTests", dependencies: ["OpsLogTypes"], path: "Tests/OpsLogTypesTests"),
    .testTarget(
      name: "OpsLogCodecTests",
      dependencies: ["OpsLogCodec"],
      path: "Tests/OpsLogCodecTests"
    ),
    .testTarget(
      name: "OpsLogStorageTests",
      // The helper is a dependency only so that it is built before the tests run them.
      dependencies: ["OpsLogStorage", "OpsLogS3", "OpsLogTestHelper", "OpsLogTestSupport"],
      path: "Tests/OpsLogStorageTests"
    ),
    .testTarget(
      name: "OpsLogEngineTests",
      // The executables are dependencies only so that they are built before the tests run them.
      dependencies: [
        "OpsLogEngine", "OpsLogTestHelper", "OpsLogTorture", "OpsLogTestSupport",
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Tests/OpsLogEngineTests"
    ),
    .testTarget(
      name: "OpsLogCommandTests",
      // The executables are dependencies only so that they are built before the tests run them.
      dependencies: ["OpsLogCommand", "InspectStore", "OpsLogTestHelper", "OpsLogTestSupport", "OpsLogMultiWriter"],
      path: "Tests/OpsLogCommandTests"
    ),
    .testTarget(
      name: "OpsLogMultiWriterTests",
      // The helper is a dependency only so that it is built before the tests run it.
      dependencies: [
        "OpsLogMultiWriter", "OpsLogTestHelper", "OpsLogTestSupport", .product(name: "Logging", package: "swift-log"),
      ],
      path: "Tests/OpsLogMultiWriterTests"
    ),
    // Against the S3-compatible test server that Tests/S3Support/s3-test-server.py starts.
    .testTarget(
      name: "OpsLogS3Tests",
      dependencies: [
        "OpsLogS3", "OpsLogEngine", "OpsLogMultiWriter", "OpsLogTestSupport", "OpsLogS3TestHelper",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
      ],
      path: "Tests/OpsLogS3Tests"
    ),
    // Compiled as new app targets are, under default main-actor isolation: the store's
    // closures must be callable inline from such code with no annotation.
    .testTarget(
      name: "OpsLogIsolationTests",
      dependencies: ["OpsLog"],
      path: "Tests/OpsLogIsolationTests",
      swiftSettings: [.unsafeFlags(["-default-isolation", "MainActor"])]
    ),
  ],
  swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.1
import CompilerPluginSupport
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

// The layers (DESIGN.md §10); each target imports only from the layers below it:
//
//   keel (KeelCLI)          executable: argument parsing and printing
//   KeelServer KeelObservability  the HTTP API (Hummingbird); trace and metric exporters
//   KeelApp                 the application: workflows and their inputs, settings, authority, the
//                           model catalog, store locations, start-or-resume, batch, offline models
//                           and toolsets, the chaos server, the worker
//   KeelSQLite KeelPostgres stores
//   KeelGraph KeelCrew      durable state graphs, and crews of role-playing agents (with their
//                           CrewAI-format YAML), on the runtime's scoped steps
//   KeelRuntime             runs and scoped steps, model and tool steps with their controls, the agent
//   KeelOpenAI KeelAnthropic KeelMCP  providers and toolsets, on KeelCore (and KeelHTTP) alone
//   KeelHTTP                the HTTP layer providers share: client, JSON and SSE transport with
//                           size caps and timeouts, status and transport errors, redaction
//   KeelCore                transcript, ChatModel, Tool, schemas, usage, prices, errors, tokenizers
//   KeelTesting             test kit above everything it tests; no shipped target imports it
let package = Package(
    name: "keel",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KeelCore", targets: ["KeelCore"]),
        .library(name: "KeelRuntime", targets: ["KeelRuntime"]),
        .library(name: "KeelGraph", targets: ["KeelGraph"]),
        .library(name: "KeelCrew", targets: ["KeelCrew"]),
        .library(name: "KeelHTTP", targets: ["KeelHTTP"]),
        .library(name: "KeelOpenAI", targets: ["KeelOpenAI"]),
        .library(name: "KeelAnthropic", targets: ["KeelAnthropic"]),
        .library(name: "KeelSQLite", targets: ["KeelSQLite"]),
        .library(name: "KeelPostgres", targets: ["KeelPostgres"]),
        .library(name: "KeelMCP", targets: ["KeelMCP"]),
        .library(name: "KeelApp", targets: ["KeelApp"]),
        .library(name: "KeelObservability", targets: ["KeelObservability"]),
        .library(name: "KeelServer", targets: ["KeelServer"]),
        .library(name: "KeelTesting", targets: ["KeelTesting"]),
        .executable(name: "keel", targets: ["KeelCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-syntax.git", from: "603.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.4.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP over HTTP only: the gRPC exporter would add grpc-swift to every build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        // CrewAI users define crews in YAML (agents.yaml, tasks.yaml); Yams reads it with the
        // line of every node, so a definition's errors name the file, the line and the field.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        .macro(
            name: "KeelMacros",
            dependencies: [
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftSyntaxBuilder", package: "swift-syntax"),
                .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelCore",
            dependencies: [
                "KeelMacros",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/cl100k_base.tiktoken"), .copy("Resources/o200k_base.tiktoken")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelRuntime",
            dependencies: [
                "KeelCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelHTTP",
            dependencies: [
                "KeelCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelOpenAI",
            dependencies: [
                "KeelCore",
                "KeelHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelAnthropic",
            dependencies: [
                "KeelCore",
                "KeelHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelSQLite",
            dependencies: [
                "KeelCore",
                "KeelRuntime",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelPostgres",
            dependencies: [
                "KeelCore",
                "KeelRuntime",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelMCP",
            dependencies: [
                "KeelCore",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelGraph",
            dependencies: ["KeelCore", "KeelRuntime"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelCrew",
            dependencies: ["KeelCore", "KeelRuntime", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelApp",
            dependencies: [
                "KeelCore",
                "KeelRuntime",
                "KeelGraph",
                "KeelCrew",
                "KeelHTTP",
                "KeelOpenAI",
                "KeelAnthropic",
                "KeelMCP",
                "KeelSQLite",
                "KeelPostgres",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelTesting",
            dependencies: [
                "KeelCore",
                "KeelRuntime",
                "KeelOpenAI",
                "KeelApp",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Test harness code — clusters, processes, proxies, folders, traits — for Keel's own tests;
        // not a product.
        .target(
            name: "KeelTestSupport",
            dependencies: [
                "KeelCore", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/KeelTestSupport",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelObservability",
            dependencies: [
                "KeelRuntime",
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KeelServer",
            dependencies: [
                "KeelCore",
                "KeelRuntime",
                "KeelApp",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/openapi.json")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "KeelCLI",
            dependencies: [
                "KeelCore",
                "KeelRuntime",
                "KeelGraph",
                "KeelCrew",
                "KeelOpenAI",
                "KeelSQLite",
                "KeelPostgres",
                "KeelMCP",
                "KeelApp",
                "KeelObservability",
                "KeelServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KeelCoreTests", dependencies: ["KeelTestSupport", "KeelCore", "KeelApp", "KeelTesting"], resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(name: "KeelAppTests", dependencies: ["KeelTestSupport", "KeelApp", "KeelRuntime", "KeelCore"], swiftSettings: swiftSettings),
        // The macros' tests expand them through KeelCore, as users do: a test target that
        // depended on the macro target itself would build swift-syntax a second time.
        .testTarget(name: "KeelMacrosTests", dependencies: ["KeelCore"], swiftSettings: swiftSettings),
        .testTarget(name: "KeelHTTPTests", dependencies: ["KeelHTTP", "KeelApp", "KeelCore"], swiftSettings: swiftSettings),
        .testTarget(name: "KeelGraphTests", dependencies: ["KeelTestSupport", "KeelGraph", "KeelRuntime", "KeelApp", "KeelSQLite", "KeelTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "KeelCrewTests", dependencies: ["KeelTestSupport", "KeelCrew", "KeelRuntime", "KeelApp", "KeelSQLite", "KeelTesting"], resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(name: "KeelRuntimeTests", dependencies: ["KeelTestSupport", "KeelRuntime", "KeelApp", "KeelTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "KeelAnthropicTests",
            dependencies: ["KeelAnthropic", "KeelHTTP", "KeelApp", "KeelCore", "KeelRuntime", "KeelTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        .testTarget(name: "KeelOpenAITests", dependencies: ["KeelTestSupport", "KeelOpenAI", "KeelHTTP", "KeelApp", "KeelTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "KeelSQLiteTests",
            dependencies: [
                "KeelTestSupport", "KeelSQLite", "KeelApp", "KeelTesting", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "KeelPostgresTests",
            dependencies: ["KeelTestSupport", "KeelPostgres", "KeelRuntime", "KeelApp", "KeelTesting", .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "KeelMCPTests", dependencies: ["KeelTestSupport", "KeelMCP", "KeelRuntime", "KeelSQLite", "KeelApp", "KeelTesting"], resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "KeelCLITests",
            dependencies: ["KeelTestSupport", "KeelTesting", "KeelApp", "KeelSQLite", "KeelPostgres", "KeelOpenAI", .product(name: "GRDB", package: "GRDB.swift")],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "KeelServerTests",
            dependencies: [
                "KeelTestSupport", "KeelTesting", "KeelServer", "KeelApp", "KeelSQLite", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
    ]
)

// swift-tools-version: 6.1
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, which differs between clones.
let keel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

/// A benchmark target in `Benchmarks/NAME`, using `keelProducts` of Keel and `others`.
func benchmark(_ name: String, keelProducts: [String], others: [Target.Dependency] = []) -> Target {
    .executableTarget(
        name: name,
        dependencies: [.product(name: "Benchmark", package: "benchmark")] + keelProducts.map { .product(name: $0, package: keel) } + others,
        path: "Benchmarks/\(name)",
        swiftSettings: [.swiftLanguageMode(.v6)],
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let asyncHTTPClient: Target.Dependency = .product(name: "AsyncHTTPClient", package: "async-http-client")

// Keel's benchmarks live in their own package so that `swift test` and CI never build them.
// Run them with: cd Benchmarks && swift package benchmark
let package = Package(
    name: "KeelBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    ],
    targets: [
        benchmark("HTTPFloor", keelProducts: ["KeelHTTP", "KeelOpenAI", "KeelApp", "KeelTesting"], others: [asyncHTTPClient]),
        benchmark("RateLimits", keelProducts: ["KeelCore", "KeelRuntime", "KeelOpenAI", "KeelApp", "KeelTesting"]),
        benchmark("Journal", keelProducts: ["KeelCore", "KeelRuntime", "KeelSQLite", "KeelApp", "KeelTesting"]),
        benchmark("Concurrency", keelProducts: ["KeelCore", "KeelRuntime", "KeelOpenAI", "KeelSQLite", "KeelApp"]),
        benchmark("Graph", keelProducts: ["KeelCore", "KeelRuntime", "KeelGraph", "KeelSQLite", "KeelApp"]),
        benchmark("Workers", keelProducts: ["KeelCore", "KeelRuntime", "KeelPostgres", "KeelApp", "KeelTesting"], others: ["BenchSupport"]),
        // Keel's test harness (a throwaway PostgreSQL cluster), which is not a product of Keel:
        // BenchSupport is a link to ../Tests/KeelTestSupport.
        .target(
            name: "BenchSupport",
            dependencies: [
                .product(name: "KeelCore", package: keel), asyncHTTPClient, .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "BenchSupport", swiftSettings: [.swiftLanguageMode(.v6)]),
        benchmark(
            "AgentLoop", keelProducts: ["KeelCore", "KeelRuntime", "KeelOpenAI", "KeelApp", "KeelTesting"],
            others: [asyncHTTPClient, .product(name: "OTel", package: "swift-otel"), .product(name: "Tracing", package: "swift-distributed-tracing")]),
        // Not a benchmark: the in-process run of AgentLoop a fixed number of times, for counting
        // instructions with callgrind (see its main.swift).
        .executableTarget(
            name: "AgentLoopProfile",
            dependencies: ["KeelCore", "KeelRuntime", "KeelApp"].map { .product(name: $0, package: keel) },
            path: "Profiles/AgentLoopProfile", swiftSettings: [.swiftLanguageMode(.v6)]),
        // Not a benchmark either: issue 19's 1,000 concurrent runs without HTTP, for a heap profile.
        .executableTarget(
            name: "ConcurrentRunsProfile",
            dependencies: ["KeelCore", "KeelRuntime", "KeelApp"].map { .product(name: $0, package: keel) },
            path: "Profiles/ConcurrentRunsProfile", swiftSettings: [.swiftLanguageMode(.v6)]),
    ]
)

// swift-tools-version: 6.1
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, which differs between clones.
let keel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

// Keel's benchmarks live in their own package so that `swift test` and CI never build them.
// Run them with: cd Benchmarks && swift package benchmark
let package = Package(
    name: "KeelBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HTTPFloor",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KeelOpenAI", package: keel),
                .product(name: "KeelTesting", package: keel),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Benchmarks/HTTPFloor",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RateLimits",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KeelCore", package: keel),
                .product(name: "KeelRuntime", package: keel),
                .product(name: "KeelOpenAI", package: keel),
                .product(name: "KeelTesting", package: keel),
            ],
            path: "Benchmarks/RateLimits",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Journal",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KeelCore", package: keel),
                .product(name: "KeelRuntime", package: keel),
                .product(name: "KeelSQLite", package: keel),
                .product(name: "KeelTesting", package: keel),
            ],
            path: "Benchmarks/Journal",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "Workers",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KeelCore", package: keel),
                .product(name: "KeelRuntime", package: keel),
                .product(name: "KeelPostgres", package: keel),
                .product(name: "KeelTesting", package: keel),
            ],
            path: "Benchmarks/Workers",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "AgentLoop",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "KeelCore", package: keel),
                .product(name: "KeelRuntime", package: keel),
                .product(name: "KeelOpenAI", package: keel),
                .product(name: "KeelTesting", package: keel),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Benchmarks/AgentLoop",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)

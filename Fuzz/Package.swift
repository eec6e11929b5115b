// swift-tools-version: 6.1
// libFuzzer targets for Keel's parsers of outside data. See README.md.
import PackageDescription

let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

func fuzzTarget(_ name: String) -> Target {
    .executableTarget(
        name: name, dependencies: ["FuzzSupport", .product(name: "KeelCore", package: "keel")], swiftSettings: swiftSettings)
}

let package = Package(
    name: "keel-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "keel", path: "..")],
    targets: [
        .target(name: "FuzzSupport", swiftSettings: swiftSettings),
        fuzzTarget("FuzzJSON"),
        fuzzTarget("FuzzSSE"),
        fuzzTarget("FuzzDuration"),
        fuzzTarget("FuzzSchema"),
        fuzzTarget("FuzzTokenizer"),
    ]
)

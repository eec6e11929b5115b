import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Python virtual environment with packages from PyPI, for tests against real servers written
/// in Python (such as an MCP server built with the `mcp` package).
///
/// The environment is made once per set of requirements and kept in a cache folder
/// (`$KEEL_TEST_CACHE`, or `~/.cache/keel-tests`), so that only the first test run on a machine
/// pays for `pip install`. It is built in a folder of its own and moved into place when complete,
/// so that an interrupted install is never mistaken for a finished one. Run its `python` directly:
/// the console scripts in its `bin` folder name the folder it was built in.
///
/// ```swift
/// let environment = try await PythonVirtualEnvironment.prepared(requirements: ["mcp==1.30.0"])
/// let server = try SpawnedProcess(environment.python.path, ["server.py"], output: log)
/// ```
public struct PythonVirtualEnvironment: Sendable {
    /// The environment's folder.
    public let root: URL
    /// Its `python` executable.
    public var python: URL { root.appendingPathComponent("bin/python") }

    /// Why an environment could not be made.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    private static let preparing = PreparedEnvironments()

    /// The environment for `requirements` (pip requirement specifiers, pinned), made if needed.
    /// Concurrent callers in one process share one install.
    public static func prepared(requirements: [String]) async throws -> PythonVirtualEnvironment {
        try await preparing.environment(for: requirements.sorted())
    }

    fileprivate static func make(requirements: [String]) async throws -> PythonVirtualEnvironment {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["KEEL_TEST_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/keel-tests")
        let name = "venv-" + requirements.joined(separator: "-").map { $0.isLetter || $0.isNumber || $0 == "." ? $0 : "_" }.map(String.init).joined()
        let root = cache.appendingPathComponent(name)
        let ready = root.appendingPathComponent(".keel-ready")
        if FileManager.default.fileExists(atPath: ready.path) { return PythonVirtualEnvironment(root: root) }

        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        let building = cache.appendingPathComponent("\(name).building-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: building) }
        try await run("/usr/bin/env", ["python3", "-m", "venv", building.path])
        try await run(building.appendingPathComponent("bin/python").path, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + requirements)
        _ = FileManager.default.createFile(atPath: building.appendingPathComponent(".keel-ready").path, contents: Data())
        // Only `bin/python` is used, which works from the moved folder. Another process may have
        // finished first; then its environment is kept.
        if rename(building.path, root.path) != 0, !FileManager.default.fileExists(atPath: ready.path) {
            throw Failure(description: "could not move the Python environment into \(root.path)")
        }
        return PythonVirtualEnvironment(root: root)
    }

    private static func run(_ executable: String, _ arguments: [String]) async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("keel-venv-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let child: SpawnedProcess
        do {
            child = try SpawnedProcess(executable, arguments, output: log)
        } catch {
            throw Failure(description: "could not run \(executable): \(error)")
        }
        let status = await child.exitStatus()
        guard status == 0 else {
            throw Failure(description: "\(([executable] + arguments).joined(separator: " ")) failed (\(status)): \(child.outputText.suffix(2_000))")
        }
    }
}

/// One install per set of requirements per process.
private actor PreparedEnvironments {
    private var tasks: [[String]: Task<PythonVirtualEnvironment, any Error>] = [:]

    func environment(for requirements: [String]) async throws -> PythonVirtualEnvironment {
        if let task = tasks[requirements] { return try await task.value }
        let task = Task { try await PythonVirtualEnvironment.make(requirements: requirements) }
        tasks[requirements] = task
        return try await task.value
    }
}

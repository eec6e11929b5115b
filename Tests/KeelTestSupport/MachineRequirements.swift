import Foundation
import Testing

/// What some suites need installed on the machine, and whether they may be skipped without it.
///
/// On a developer's machine a suite whose requirement is missing is skipped, with one line saying
/// what to install. With `CI` set (as `.ci/run` and CI services do), the requirements are required:
/// the suites run, and fail without them, so that a CI machine missing a package never passes by
/// skipping.
public enum MachineRequirements {
    /// Whether this is a CI run (`CI` set to anything but empty or `false`).
    public static let required: Bool = {
        guard let value = ProcessInfo.processInfo.environment["CI"] else { return false }
        return !value.isEmpty && value.lowercased() != "false"
    }()

    /// Whether the PostgreSQL server binaries (`initdb`, `postgres`) are installed.
    public static let hasPostgreSQL: Bool = {
        guard let folder = try? PostgresTestCluster.findBinaries() else { return false }
        return FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("initdb").path)
    }()

    /// Whether `python3` (with its `venv` module) is on the PATH.
    public static let hasPython: Bool = {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        guard let folder = paths.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/python3") }) else { return false }
        // Debian ships venv apart from python3 (python3-venv); its ensurepip is what it adds.
        let libraries = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib")) ?? []
        let hasEnsurepip = libraries.contains { $0.hasPrefix("python3") && FileManager.default.fileExists(atPath: "/usr/lib/\($0)/ensurepip") }
        return hasEnsurepip || !folder.hasPrefix("/usr/bin")
    }()

    /// Whether this process may mount a small tmpfs (``SmallDisk``): root on Linux.
    public static let canMountSmallDisks: Bool = {
        #if os(Linux)
        return getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/mount")
        #else
        return false
        #endif
    }()
}

extension Trait where Self == ConditionTrait {
    /// Runs the suite or test only where the PostgreSQL server binaries are installed (always with
    /// `CI` set: see ``MachineRequirements``).
    public static var needsPostgreSQL: Self {
        .enabled(
            if: MachineRequirements.hasPostgreSQL || MachineRequirements.required,
            "needs the PostgreSQL server binaries: apt-get install postgresql (or set KEEL_POSTGRES_BIN); required when CI is set")
    }

    /// Runs the suite or test only where a small tmpfs can be mounted (Linux, as root; always with
    /// `CI` set, whose machines run the tests as root).
    public static var needsSmallDisks: Self {
        .enabled(
            if: MachineRequirements.canMountSmallDisks || MachineRequirements.required,
            "needs to mount a small tmpfs: run the tests as root on Linux; required when CI is set")
    }

    /// Runs the suite or test only where Python 3 with `venv` is installed (always with `CI` set).
    public static var needsPython: Self {
        .enabled(
            if: MachineRequirements.hasPython || MachineRequirements.required,
            "needs Python 3 with venv: apt-get install python3 python3-venv; required when CI is set")
    }
}

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Folders for one test's files (stores, logs, a user's working directory), removed when the
/// test process exits.
///
/// ```swift
/// let work = try TemporaryFolder.make("keel-cli")  // /tmp/keel-cli-<UUID>/
/// ```
///
/// Removal waits for the process to end rather than the test, because a test's child processes
/// and background work may still be writing there when its last line runs. A process that
/// crashes leaves its folders behind for a person to look at.
public enum TemporaryFolder {
    private static let made = Mutex<[URL]>([])
    private static let cleanupRegistered = Mutex(false)

    /// Creates an empty folder named `prefix-<UUID>` in the temporary directory.
    public static func make(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        made.withLock { $0.append(url) }
        cleanupRegistered.withLock { registered in
            guard !registered else { return }
            registered = true
            atexit { TemporaryFolder.removeAll() }
        }
        return url
    }

    /// Removes every folder made so far.
    static func removeAll() {
        let folders = made.withLock { folders in defer { folders = [] }; return folders }
        for folder in folders { try? FileManager.default.removeItem(at: folder) }
    }
}

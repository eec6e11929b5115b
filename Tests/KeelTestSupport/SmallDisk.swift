import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small disk that fills up on demand: a tmpfs of a few megabytes mounted on a temporary
/// folder (Linux, as root), for tests of what happens when storage runs out. ``fill(leaving:)``
/// takes all but a little of its room with a filler file; ``makeRoom()`` deletes it.
///
/// ```swift
/// let disk = try await SmallDisk.mount(megabytes: 64)
/// defer { disk.unmount() }
/// try disk.fill(leaving: 512 << 10)
/// ```
public final class SmallDisk: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Where it is mounted.
    public let folder: URL
    private var filler: URL { folder.appendingPathComponent(".filler") }

    private init(folder: URL) {
        self.folder = folder
    }

    /// Mounts a tmpfs of `megabytes` on a new temporary folder, open to every user (a database
    /// server running as another user writes there).
    public static func mount(megabytes: Int) async throws -> SmallDisk {
        let folder = try TemporaryFolder.make("keel-small-disk")
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("keel-mount-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: log) }
        let mount = try SpawnedProcess("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=1777", "tmpfs", folder.path], output: log)
        let status = await mount.wait(timeout: .seconds(30))
        guard status == 0 else {
            throw Failure(description: "cannot mount a tmpfs on \(folder.path) (\(status.map { "exit \($0)" } ?? "no exit")): \(mount.outputText); the tests must run as root")
        }
        return SmallDisk(folder: folder)
    }

    /// Bytes free on the disk.
    public var freeBytes: Int {
        var info = statvfs()
        guard statvfs(folder.path, &info) == 0 else { return 0 }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Writes a filler file that leaves only `bytes` free (or fails if less is free already).
    public func fill(leaving bytes: Int) throws {
        let size = freeBytes - bytes
        guard size > 0 else { throw Failure(description: "only \(freeBytes) bytes are free on \(folder.path)") }
        guard FileManager.default.createFile(atPath: filler.path, contents: nil) else { throw Failure(description: "cannot create \(filler.path)") }
        let handle = try FileHandle(forWritingTo: filler)
        defer { try? handle.close() }
        let chunk = Data(count: 1 << 20)
        var written = 0
        while written < size {
            let piece = min(chunk.count, size - written)
            try handle.write(contentsOf: chunk.prefix(piece))
            written += piece
        }
    }

    /// Deletes the filler file: the room is back.
    public func makeRoom() throws {
        try FileManager.default.removeItem(at: filler)
    }

    /// Unmounts the disk (lazily, so that a server still holding files there cannot stop it).
    public func unmount() {
        _ = Glibc.umount2(folder.path, Int32(MNT_DETACH))
        try? FileManager.default.removeItem(at: folder)
    }
}

import Foundation

/// Where tasks' output files go: relative paths inside the crew's output directory, nothing else.
enum CrewFiles {
    /// `path` when it is relative, names a file, and never climbs out of its directory.
    static func relativePath(_ path: String) -> String? {
        let trimmed = path.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, !trimmed.hasPrefix("/"), !trimmed.hasPrefix("~"), !trimmed.contains("\0") else { return nil }
        let components = trimmed.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.isEmpty, !components.contains(where: { $0 == ".." }), components.last != "." else { return nil }
        return components.joined(separator: "/")
    }

    /// Writes `text` to `path` inside `directory` (creating the folders on the way), replacing the
    /// file whole — so a task written again after a crash leaves the same file.
    static func write(_ text: String, to path: String, in directory: String) throws {
        guard let relative = relativePath(path) else { throw CrewError("the output file \(path) is not a relative path inside \(directory)") }
        let url = URL(fileURLWithPath: directory, isDirectory: true).appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
    }
}

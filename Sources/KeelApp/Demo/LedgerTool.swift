import Foundation
import KeelCore
import Synchronization

/// The arguments of the ledger tool.
@Schema
public struct LedgerEntryArguments: Codable, Sendable {
    /// What to record.
    public var entry: String
}

/// A side-effecting tool that records entries in a ledger file, one line each, deduplicated by the
/// call's idempotency key — as a payment or a ticket system would. A call repeated with a key the
/// ledger holds records nothing more. Every call, repeated or not, is also counted in the file's
/// companion `PATH.calls`, so a test can see that repeats happened and were absorbed. Without a
/// file, entries are kept in memory.
public struct LedgerTool: Tool {
    public let name = "record"
    public let description = "Record an entry in the ledger."
    public var isSideEffecting: Bool { true }
    /// Where the entries go; `nil` keeps them in memory.
    public let path: String?
    private let memory = Recorded()

    /// The keys recorded in memory (a class: a `Mutex` cannot be copied with the tool).
    private final class Recorded: Sendable {
        let keys = Mutex<Set<String>>([])
    }

    public init(path: String? = nil) {
        self.path = path
    }

    /// Why an entry could not be recorded.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public func call(_ arguments: LedgerEntryArguments, context: ToolContext) async throws -> String {
        let key = context.idempotencyKey
        let line = key + "\t" + arguments.entry.replacingOccurrences(of: "\n", with: " ") + "\n"
        guard let path else {
            let inserted = memory.keys.withLock { $0.insert(key).inserted }
            return inserted ? "recorded" : "already recorded"
        }
        do {
            try Self.append(key + "\n", to: path + ".calls")
            let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if existing.split(separator: "\n").contains(where: { $0.hasPrefix(key + "\t") }) { return "already recorded" }
            try Self.append(line, to: path)
            return "recorded"
        } catch {
            throw Failure(description: "cannot write the ledger at \(path): \(error.localizedDescription)")
        }
    }

    private static func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw Failure(description: "cannot create \(path)") }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
    }
}

import Foundation
import KeelCore
import KeelRuntime

/// `keel batch`: a JSONL file of prompts, each line a durable agent run with an id derived from
/// the file and the line, so that running the same batch again skips what is done and resumes
/// what is not.
public enum Batch {
    /// One line of a batch file.
    public struct Line: Sendable, Hashable {
        /// The line's number in the file, from 1.
        public var number: Int
        public var runID: String
        public var prompt: String
        public var instructions: String?
        public var tenant: String?

        public init(number: Int, runID: String, prompt: String, instructions: String? = nil, tenant: String? = nil) {
            self.number = number
            self.runID = runID
            self.prompt = prompt
            self.instructions = instructions
            self.tenant = tenant
        }
    }

    /// The lines of a batch file named `name`, each checked: a JSON object with a `"prompt"`
    /// (and optionally `"id"`, `"instructions"`, `"tenant"`). Blank lines are skipped.
    ///
    /// - Throws: ``InputError`` naming the first bad lines; then nothing of the batch is run.
    public static func lines(of data: Data, name: String) throws -> [Line] {
        var lines: [Line] = []
        var problems: [String] = []
        for (offset, raw) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            guard !raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) else { continue }
            let object: JSONValue
            do {
                object = try JSONValue(parsing: raw)
            } catch {
                problems.append("line \(number) is not JSON (\(error.description))")
                continue
            }
            guard let prompt = object["prompt"]?.stringValue, !prompt.isEmpty else {
                problems.append("line \(number) has no \"prompt\" string")
                continue
            }
            let id = object["id"]?.stringValue ?? "\(name)-\(number)-\(fingerprint(raw))"
            lines.append(Line(number: number, runID: id, prompt: prompt, instructions: object["instructions"]?.stringValue, tenant: object["tenant"]?.stringValue))
        }
        guard problems.isEmpty else {
            throw InputError("\(problems.prefix(3).joined(separator: "; "))\(problems.count > 3 ? "; and \(problems.count - 3) more" : ""); nothing was run")
        }
        guard !lines.isEmpty else { throw InputError("no prompts") }
        let ids = lines.map(\.runID)
        if Set(ids).count != ids.count { throw InputError("the same \"id\" is given to two lines; nothing was run") }
        return lines
    }

    /// Eight hex digits of FNV-1a: the same for the same line in every process.
    public static func fingerprint(_ bytes: some Sequence<UInt8>) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return String(String(hash, radix: 16).suffix(8))
    }

    /// Runs the runs `runIDs` (already in the store) on `runtime`, `concurrency` at a time, and
    /// returns each one's outcome in the order given. A run that failed is read again from the
    /// store, so its record says why. `finished` is told of each as it ends.
    public static func run(
        _ runIDs: [String], on runtime: DurableRuntime, concurrency: Int,
        finished: @escaping @Sendable (Result<RunRecord, any Error>) -> Void = { _ in }
    ) async -> [Result<RunRecord, any Error>] {
        let store = runtime.store
        return await withTaskGroup(of: (Int, Result<RunRecord, any Error>).self) { group in
            var results = [Result<RunRecord, any Error>](repeating: .failure(CancellationError()), count: runIDs.count)
            var next = 0
            func startNext() {
                guard next < runIDs.count else { return }
                let index = next
                let runID = runIDs[index]
                group.addTask {
                    do {
                        var record = try await runtime.run(runID)
                        if record.status == .failed, let reread = try? await store.run(id: runID) { record = reread }
                        return (index, .success(record))
                    } catch {
                        return (index, .failure(error))
                    }
                }
                next += 1
            }
            for _ in 0..<min(max(concurrency, 1), runIDs.count) { startNext() }
            while let (index, result) = await group.next() {
                results[index] = result
                finished(result)
                startNext()
            }
            return results
        }
    }
}

import Foundation
import KeelTestSupport

/// The OTLP/HTTP receiver of Fixtures/otlp_receiver.py (opentelemetry-proto, in Python), run for
/// the length of a test.
enum OTLPReceiver {
    /// Runs the receiver, writing into `folder`, for the length of `body`, which gets its address.
    static func withReceiver<T>(folder: URL, _ body: (String) async throws -> T) async throws -> T {
        guard let script = Bundle.module.url(forResource: "Fixtures/otlp_receiver", withExtension: "py") else {
            throw PythonVirtualEnvironment.Failure(description: "the OTLP receiver's script is missing from the test bundle")
        }
        let python = try await PythonVirtualEnvironment.prepared(requirements: ["opentelemetry-proto==1.38.0"]).python
        let receiver = try SpawnedProcess(
            python.path, [script.path, folder.path], output: folder.appendingPathComponent("receiver.out"),
            errorOutput: folder.appendingPathComponent("receiver.err"))
        defer { receiver.send(SIGKILL) }
        let address = try await receiver.firstLine(what: "the OTLP receiver")
        return try await body(address.trimmingCharacters(in: .whitespaces))
    }

    /// One data point the receiver wrote to metrics.jsonl.
    struct DataPoint: Decodable {
        var name: String
        var kind: String
        var attributes: [String: String]
        var value: Double?
        var count: Int?
    }

    /// The data points received, in the order they came.
    static func dataPoints(in folder: URL) throws -> [DataPoint] {
        let text = (try? String(contentsOf: folder.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { try JSONDecoder().decode(DataPoint.self, from: Data($0.utf8)) }
    }
}

import Foundation
import KeelApp
import KeelCore
import KeelTestSupport
import KeelTesting
import Testing

/// A provider that leaves the usage out, through the real `keel` process: the CLI says so, and
/// `keel costs` marks the estimate.
@Suite(.timeLimit(.minutes(3))) struct UsageEstimateCommandTests {
    /// A whole Chat Completions reply with no `usage` field.
    static let replyWithoutUsage = ServerReply(body: .json([
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
        "choices": [["index": 0, "message": ["role": "assistant", "content": "Hello there, how can I help?"], "finish_reason": "stop"]],
    ]))

    @Test func theCLIWarnsOnStandardErrorAndCostsMarkTheEstimate() async throws {
        let work = try TemporaryFolder.make("keel-estimate")
        try await OpenAICompatibleServer.withServer(responder: .init { _ in Self.replyWithoutUsage }) { server in
            let run = try await KeelProcess.run(
                ["agent", "--db", "keel.db", "--run-id", "estimated", "--model", "openai:gpt-4o-mini", "--base-url", server.baseURL, "Say hello."],
                environment: ["OPENAI_API_KEY": "sk-estimate-test"], killAfter: nil, directory: work)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout == "Hello there, how can I help?\n")
            #expect(run.stderr.contains("1 of 1 model call carried no usage; their tokens are estimated"), "\(run.stderr)")

            // gpt-4o-mini counts with o200k_base: the reply's estimate is its count.
            let o200k = try BPETokenizer.o200kBase()
            let json = try await KeelProcess.run(["costs", "--by", "run", "--json", "--db", "keel.db"], killAfter: nil, directory: work)
            let rows = try JSONValue(parsing: json.stdout)
            #expect(rows[0]?["estimated_steps"]?.intValue == 1, "\(json.stdout)")
            #expect(rows[0]?["usage"]?["estimated"] == true)
            #expect(rows[0]?["usage"]?["output_tokens"]?.intValue == o200k.count("Hello there, how can I help?"))
            #expect((rows[0]?["usage"]?["input_tokens"]?.intValue ?? 0) > 0)
            #expect((rows[0]?["cost_usd"]?.doubleValue ?? 0) > 0)

            let table = try await KeelProcess.run(["costs", "--by", "run", "--db", "keel.db"], killAfter: nil, directory: work)
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains("~\(o200k.count("Hello there, how can I help?"))"), "\(table.stdout)")
            #expect(table.stderr.contains("1 of 1 calls carried no usage"), "\(table.stderr)")
        }
    }
}

import KeelApp
import KeelCore
import KeelOpenAI
import KeelTesting
import Testing

/// Whether a failed call may have cost money, as the provider client classifies it over real HTTP.
@Suite(.timeLimit(.minutes(5))) struct BillingTests {
    let request = ChatRequest(messages: [.user("go")], maxOutputTokens: 50)

    @Test func aStreamCutAfterItsUsageIsBilledAtThatUsage() async throws {
        let events = [
            #"{"id":"x","choices":[{"index":0,"delta":{"content":"Half an ans"},"finish_reason":null}]}"#,
            #"{"id":"x","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}}"#,
        ]
        try await withLocalModel(.scripted([ServerReply(body: .events(events, done: false))])) { model, _ in
            let error = await expectModelError { _ = try await model.stream(request) { _ in } }
            #expect(error?.code == .malformedResponse)
            #expect(error?.billing == .usage(Usage(inputTokens: 30, outputTokens: 12)))
        }
    }

    @Test func aStreamCutBeforeItsUsageIsBilledAtAnUnknownAmount() async throws {
        let reply = ChatResponse(message: AssistantMessage(text: "a longer answer than the cut lets through"), usage: Usage(inputTokens: 3, outputTokens: 9))
        try await withLocalModel(.scripted([ServerReply(body: .truncatedStream(reply, chunks: 2))])) { model, _ in
            let error = await expectModelError { _ = try await model.stream(request) { _ in } }
            #expect(error?.billing == .unknown, "\(String(describing: error))")
        }
    }

    @Test func aReplyThatIsNotJSONAfterASuccessIsBilled() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .text("<html>gateway page</html>", contentType: "text/html"))])) { model, _ in
            let error = await expectModelError { _ = try await model.respond(to: request) }
            #expect(error?.code == .malformedResponse)
            #expect(error?.billing == .unknown)
        }
    }

    @Test func refusalsAreNotBilled() async throws {
        let refusals = [
            ServerReply.error(status: 429, message: "slow down", type: "rate_limit_error", code: "rate_limit_exceeded"),
            ServerReply.error(status: 400, message: "bad", type: "invalid_request_error", code: nil),
            ServerReply.error(status: 503, message: "busy", type: "server_error", code: nil),
        ]
        for refusal in refusals {
            try await withLocalModel(.scripted([refusal, refusal])) { model, _ in
                let plain = await expectModelError { _ = try await model.respond(to: request) }
                #expect(plain?.billing == .notBilled, "\(String(describing: plain))")
                let streamed = await expectModelError { _ = try await model.stream(request) { _ in } }
                #expect(streamed?.billing == .notBilled, "\(String(describing: streamed))")
            }
        }
    }
}

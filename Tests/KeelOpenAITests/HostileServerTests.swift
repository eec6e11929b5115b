import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// A server that answers with what no honest provider sends — absurd headers, endless streams, a
/// line that never ends, thousands of tool calls, impossible usage — over real HTTP. Each is a
/// classified error or a bounded value, never a crash or a hang.
@Suite(.timeLimit(.minutes(5)), .heavy) struct HostileServerTests {
    static let chat = ChatRequest(messages: [.user("go")])

    @Test func absurdRateLimitHeadersAreIgnoredOrBounded() async throws {
        let headers = [
            ("retry-after-ms", "inf"), ("retry-after", "1e21"), ("x-ratelimit-reset-tokens", "1e300"),
            ("x-ratelimit-remaining-requests", "-5"), ("x-ratelimit-remaining-tokens", "-1"),
        ]
        let fine = ChatResponse(message: AssistantMessage(text: "fine"), usage: Usage(inputTokens: 1, outputTokens: 1), finishReason: .stop)
        try await withLocalModel(.scripted([.chat(fine, headers: headers),
            .rateLimited(retryAfter: 1, headers: [("retry-after-ms", "inf")])])) { model, _ in
            let response = try await model.respond(to: Self.chat)
            #expect(response.message.text == "fine")
            #expect(response.rateLimit?.retryAfter == nil)
            #expect(response.rateLimit?.tokensReset == nil)
            #expect(response.rateLimit?.remainingRequests == 0)
            #expect(response.rateLimit?.remainingTokens == 0)
            let error = await expectModelError { _ = try await model.respond(to: Self.chat) }
            #expect(error?.code == .rateLimited)
            #expect(error?.retryAfter == .seconds(1), "the valid retry-after is used when retry-after-ms is absurd")
        }
    }

    @Test func aYearLongRetryAfterPausesALimiterForTwoMinutesAtMost() async throws {
        try await withLocalModel(.scripted([.rateLimited(retryAfter: 31_536_000)])) { model, _ in
            let limiter = RateLimiter(limits: RateLimits(requestsPerMinute: 600))
            let limited = RateLimitedModel(model, limiter: limiter)
            let error = await expectModelError { _ = try await limited.respond(to: Self.chat) }
            #expect(error?.code == .rateLimited)
            #expect(limiter.currentWait(tokens: 1) <= .seconds(120))
            #expect(limiter.currentWait(tokens: 1) > .seconds(100))
        }
    }

    @Test(arguments: [false, true])
    func tenThousandToolCallsAreAMalformedReply(streamed: Bool) async throws {
        let calls = (0..<10_000).map { ToolCall(id: "c\($0)", name: "lookup", arguments: "{}") }
        try await withLocalModel(.scripted([.toolCalls(calls)])) { model, _ in
            let error = await expectModelError {
                if streamed { _ = try await model.stream(Self.chat) { _ in } } else { _ = try await model.respond(to: Self.chat) }
            }
            #expect(error?.code == .malformedResponse)
            #expect(error?.message.contains("tool calls") == true)
        }
    }

    @Test(arguments: [false, true])
    func impossibleUsageIsAMalformedReply(streamed: Bool) async throws {
        let usage = Usage(inputTokens: 9_007_199_254_740_992, outputTokens: 5)
        try await withLocalModel(.scripted([.text("hi", usage: usage)])) { model, _ in
            let error = await expectModelError {
                if streamed { _ = try await model.stream(Self.chat) { _ in } } else { _ = try await model.respond(to: Self.chat) }
            }
            #expect(error?.code == .malformedResponse)
            #expect(error?.message.contains("usage") == true)
        }
    }

    @Test func anEndlessStreamStopsAtItsSizeLimit() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .endlessEvents)]), configure: { $0.maximumStreamBytes = 4 << 20 }) { model, _ in
            let error = await expectModelError { _ = try await model.stream(Self.chat) { _ in } }
            #expect(error?.code == .malformedResponse)
            #expect(error?.message.contains("too large") == true)
        }
    }

    @Test func aLineThatNeverEndsStopsAtTheLineLimit() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .endlessLine)])) { model, _ in
            let error = await expectModelError { _ = try await model.stream(Self.chat) { _ in } }
            #expect(error?.code == .malformedResponse)
            #expect(error?.message.contains("line") == true)
        }
    }

    @Test func anEndlessPlainBodyStopsAtItsSizeLimit() async throws {
        try await withLocalModel(.scripted([ServerReply(body: .endlessLine)]), configure: { $0.maximumResponseBytes = 1 << 20 }) { model, _ in
            let error = await expectModelError { _ = try await model.respond(to: Self.chat) }
            #expect(error?.code == .malformedResponse)
        }
    }
}

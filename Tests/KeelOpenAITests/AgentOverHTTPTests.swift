import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime
import KeelTesting
import Testing

/// The agent loop against the provider over loopback HTTP.
@Suite(.timeLimit(.minutes(5))) struct AgentOverHTTPTests {
    @Test func toolArgumentsThatAreNotJSONReachTheModelAsAToolError() async throws {
        let replies: [ServerReply] = [
            .toolCalls([ToolCall(id: "c1", name: "add", arguments: "{\"a\": 1, \"b\": ")]),
            .toolCalls([ToolCall(id: "c2", name: "add", arguments: #"{"a": 1, "b": 2}"#)]),
            .text("3"),
        ]
        try await withLocalModel(.scripted(replies)) { model, server in
            let result = await Agent(model: model, tools: Calculator.tools).run("1+2")
            #expect(result.outcome == .completed(answer: "3"))
            #expect(result.steps[0].toolResults[0].isError)
            #expect(result.steps[0].toolResults[0].content.hasPrefix("Error: the arguments are not valid JSON"))
            // The error went back to the server as the tool message.
            let second = try #require(server.chatRequests.dropFirst().first?.json)
            #expect(second["messages"]?[2]?["role"] == "tool")
            #expect(second["messages"]?[2]?["content"]?.stringValue?.hasPrefix("Error: the arguments are not valid JSON") == true)
        }
    }

    @Test func anUnknownToolFromTheServerReachesTheModelAsAToolError() async throws {
        let replies: [ServerReply] = [.toolCalls([ToolCall(id: "c1", name: "sqrt", arguments: #"{"x": 4}"#)]), .text("sorry")]
        try await withLocalModel(.scripted(replies)) { model, server in
            let result = await Agent(model: model, tools: Calculator.tools).run("sqrt 4")
            #expect(result.outcome == .completed(answer: "sorry"))
            #expect(result.steps[0].toolResults[0].content.hasPrefix("Error: there is no tool named 'sqrt'"))
            #expect(server.chatRequests.count == 2)
        }
    }

    @Test func usageReportedByTheServerAddsUpOverSteps() async throws {
        let replies: [ServerReply] = [
            .toolCalls([ToolCall(id: "c1", name: "add", arguments: #"{"a": 1, "b": 2}"#)], usage: Usage(inputTokens: 100, outputTokens: 20)),
            .text("3", usage: Usage(inputTokens: 130, cachedInputTokens: 100, outputTokens: 5)),
        ]
        try await withLocalModel(.scripted(replies)) { model, _ in
            var configuration = AgentConfiguration()
            configuration.streaming = true
            let result = await Agent(model: model, tools: Calculator.tools, configuration: configuration).run("1+2")
            #expect(result.answer == "3")
            #expect(result.usage == Usage(inputTokens: 230, cachedInputTokens: 100, outputTokens: 25))
        }
    }

    @Test func aTypedAnswerIsAskedForWithAStrictJSONSchemaAndRepairedOverHTTP() async throws {
        let replies: [ServerReply] = [
            .text("```\n{\"sum\": \"three\"}\n```", usage: Usage(inputTokens: 40, outputTokens: 9)),
            .text(#"{"sum": 3}"#, usage: Usage(inputTokens: 90, outputTokens: 6)),
        ]
        try await withLocalModel(.scripted(replies)) { model, server in
            var configuration = AgentConfiguration()
            configuration.streaming = true
            let output = await Agent(model: model, configuration: configuration).run("1+2", returning: Sum.self)
            #expect(output.value == Sum(sum: 3))
            #expect(output.result.usage == Usage(inputTokens: 130, outputTokens: 15))
            let first = try #require(server.chatRequests.first?.json)
            #expect(first["response_format"]?["type"] == "json_schema")
            #expect(first["response_format"]?["json_schema"]?["name"] == "Sum")
            #expect(first["response_format"]?["json_schema"]?["strict"] == true)
            #expect(first["response_format"]?["json_schema"]?["schema"] == Sum.jsonSchema.jsonValue)
            let repair = try #require(server.chatRequests.last?.json?["messages"]?.arrayValue?.last)
            #expect(repair["role"] == "user")
            #expect(repair["content"]?.stringValue?.contains("sum") == true)
        }
    }
}

/// A typed answer for the structured-output test.
@Schema struct Sum: Codable, Sendable, Equatable {
    var sum: Int
}

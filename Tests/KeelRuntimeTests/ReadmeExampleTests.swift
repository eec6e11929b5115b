import KeelApp
import KeelCore
import KeelRuntime
import KeelTesting
import Testing

// The README's tool, verbatim, so the README cannot drift from what compiles.
@Schema struct WeatherArguments: Decodable, Sendable {
    /// The city, such as "Lisbon".
    var city: String
}
struct Weather: Tool {
    let name = "weather", description = "Current weather for a city."
    func call(_ arguments: WeatherArguments, context: ToolContext) async throws -> String { "Sunny in \(arguments.city)" }
}

@Suite(.timeLimit(.minutes(5))) struct ReadmeExampleTests {
    @Test func theReadmeAgentRuns() async throws {
        let result = await Agent(model: TestModel(), tools: [Weather()]).run("What's the weather in Lisbon?")
        #expect(result.answer == "weather: Sunny in a")
        #expect(Weather().definition.parameters[property: "city"]?.description == "The city, such as \"Lisbon\".")
    }
}

@Suite(.timeLimit(.minutes(5))) struct ReadmeGovernanceExampleTests {
    @Test func theReadmePolicyRefusesAndAsks() async throws {
        var controls = AgentControls()
        // The README's policy, verbatim.
        var transfer = ToolPolicy(permissions: [.spend], approval: .when("a transfer over 1,000") { ($0["amount"]?.doubleValue ?? 0) > 1_000 })
        transfer.argumentRules = [.allow("/currency", values: ["EUR", "USD"]), .require("/amount", "positive") { ($0?.doubleValue ?? 0) > 0 }]
        transfer.maxCallsPerRun = 5
        transfer.callsPerMinute = 10
        transfer.approvalTimeout = .seconds(3_600)                            // then deny, escalate or fail
        controls.governance = ToolGovernance(policies: ["transfer": transfer], defaultPolicy: ToolPolicy(), granted: [.read, .spend])

        let moved = Locked<[String]>([])
        let tool = AnyTool(
            definition: ToolDefinition(name: "transfer", description: "Moves money.", parameters: JSONSchema(jsonValue: ["type": "object"])),
            isSideEffecting: true
        ) { arguments, _ in
            moved.withLock { $0.append(arguments.serialized()) }
            return "moved"
        }
        let model = ScriptedModel([
            .toolCalls([
                ToolCall(id: "a", name: "transfer", arguments: #"{"amount":10,"currency":"EUR"}"#),
                ToolCall(id: "b", name: "transfer", arguments: #"{"amount":10,"currency":"GBP"}"#),
                ToolCall(id: "c", name: "transfer", arguments: #"{"amount":5000,"currency":"EUR"}"#),
            ], text: nil),
            .text("done"),
        ])
        let result = await Agent(model: model, tools: [tool], controls: controls).run("pay")
        let contents = result.transcript.messages.compactMap { message -> String? in
            if case .tool(let result) = message { return result.content }
            return nil
        }
        #expect(contents.count == 3)
        #expect(contents.first == "moved")
        #expect(contents[1].hasPrefix("Refused by policy: /currency must be one of"))
        // In memory, with no approver, a call that needs approval is denied with the reason.
        #expect(contents[2].hasPrefix("Denied by policy: this call needs approval (a transfer over 1,000)"))
        #expect(moved.value == [#"{"amount":10,"currency":"EUR"}"#])
    }
}

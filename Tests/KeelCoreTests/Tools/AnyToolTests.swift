import KeelCore
import Testing

@Schema
struct GreetArguments: Decodable, Sendable {
    /// Who to greet.
    var name: String
    @Field(minimum: 1, maximum: 3)
    var times: Int?
}

struct Greet: Tool {
    let name = "greet"
    let description = "Greets someone."
    func call(_ arguments: GreetArguments, context: ToolContext) async throws -> String {
        Array(repeating: "Hello, \(arguments.name)!", count: arguments.times ?? 1).joined(separator: " ")
    }
}

struct Stats: Tool {
    struct Output: Encodable, Sendable { var length: Int; var upper: String }
    let name = "stats"
    let description = "Measures a name."
    func call(_ arguments: GreetArguments, context: ToolContext) async throws -> Output {
        Output(length: arguments.name.count, upper: arguments.name.uppercased())
    }
}

@Suite(.timeLimit(.minutes(5))) struct AnyToolTests {
    let context = ToolContext(callID: "c1", toolName: "greet")

    @Test func decodesValidatedArgumentsAndCalls() async throws {
        let tool = AnyTool(Greet())
        #expect(try await tool.call(arguments: #"{"name": "Ana", "times": 2}"#, context: context) == "Hello, Ana! Hello, Ana!")
        #expect(tool.definition.parameters == GreetArguments.jsonSchema)
    }

    @Test func encodesNonStringOutputAsJSON() async throws {
        #expect(try await AnyTool(Stats()).call(arguments: #"{"name": "ana"}"#, context: context) == #"{"length":3,"upper":"ANA"}"#)
    }

    @Test func refusesArgumentsThatAreNotJSON() async {
        await #expect {
            try await AnyTool(Greet()).call(arguments: "{name: Ana}", context: context)
        } throws: { error in
            (error as? ToolCallError)?.code == .invalidJSON
        }
    }

    @Test func refusesArgumentsThatBreakTheSchemaBeforeCalling() async throws {
        do {
            _ = try await AnyTool(Greet()).call(arguments: #"{"name": "Ana", "times": 9}"#, context: context)
            Issue.record("expected a schema violation")
        } catch let error as ToolCallError {
            #expect(error.code == .invalidArguments)
            #expect(error.modelText == "Error: the arguments break the tool's schema: /times: 9 is greater than the maximum 3.")
        }
    }

    @Test func emptyArgumentsCountAsAnEmptyObject() throws {
        let noArguments = AnyTool(definition: ToolDefinition(name: "now", description: "", parameters: .object(properties: [], required: []))) { _, _ in "" }
        #expect(try noArguments.validatedArguments("  ") == [:])
        #expect(throws: ToolCallError.self) { try AnyTool(Greet()).validatedArguments("") }  // `name` is required
    }
}

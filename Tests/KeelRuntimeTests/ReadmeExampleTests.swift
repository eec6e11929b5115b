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

@Suite struct ReadmeExampleTests {
    @Test func theReadmeAgentRuns() async throws {
        let result = await Agent(model: TestModel(), tools: [Weather()]).run("What's the weather in Lisbon?")
        #expect(result.answer == "weather: Sunny in a")
        #expect(Weather().definition.parameters[property: "city"]?.description == "The city, such as \"Lisbon\".")
    }
}

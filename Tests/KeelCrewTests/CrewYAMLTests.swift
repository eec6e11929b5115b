import Foundation
import KeelApp
import KeelCore
import KeelCrew
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

@Suite(.timeLimit(.minutes(2)))
struct CrewYAMLTests {
    static func docsExample() throws -> String {
        guard let url = Bundle.module.url(forResource: "Fixtures/crewai-docs/agents", withExtension: "yaml") else {
            throw CrewError("the fixture crewai-docs/agents.yaml is missing from the test bundle")
        }
        return url.deletingLastPathComponent().path
    }

    /// CrewAI's own documentation example, unchanged, runs offline.
    @Test func crewAIsDocumentedExampleLoadsAndRunsOffline() async throws {
        let definition = try CrewDefinition.load(directory: try Self.docsExample())
        #expect(definition.agents.map(\.key) == ["researcher", "reporting_analyst"])
        #expect(definition.tasks.map(\.name) == ["research_task", "reporting_task"])
        #expect(definition.agents[0].role == "{topic} Senior Data Researcher")
        #expect(definition.tasks[1].outputFile == "report.md")
        let inputs = ["topic": "AI LLMs", "current_year": "2026"]
        #expect(definition.problems(inputs: inputs, tools: CrewWorkflow.toolNames).isEmpty)
        #expect(definition.problems(inputs: ["topic": "AI LLMs"], tools: []) == [
            "tasks.yaml:3: research_task.description: uses {current_year}, which the inputs do not give (--input current_year=…)"
        ])

        let output = try TemporaryFolder.make("keel-crew-yaml").path
        let crew = try definition.crew(
            inputs: inputs, toolNames: [], tools: { _ in [] }, model: { _ in CrewModel() }, outputDirectory: output)
        let result = try await crew.kickoff(inputs: inputs)
        #expect(result.isCompleted)
        let bullets = try #require(result.tasks.first).raw.split(separator: "\n")
        #expect(bullets.count == 10)
        #expect(bullets.allSatisfy { $0.hasPrefix("- Conduct a thorough research about AI LLMs") })
        let report = try String(contentsOfFile: output + "/report.md", encoding: .utf8)
        #expect(report == result.output)
        #expect(report.hasPrefix("# Review the context you got"))
        #expect(report.components(separatedBy: "\n## ").count == 11)
        #expect(result.usageByAgent.keys.sorted() == ["reporting_analyst", "researcher"])
    }

    @Test func errorsNameTheFileTheLineAndTheField() throws {
        let agents = """
            writer:
              role: Writer
              goal: Write
              backstory: You write.
            """
        func problem(tasks: String, agents: String = agents, crew: String? = nil) -> String {
            do {
                let definition = try CrewDefinition.parse(agents: agents, tasks: tasks, crew: crew)
                return definition.problems(inputs: [:], tools: ["calculator"]).joined(separator: "\n")
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(tasks: "draft:\n  description: Draft.\n  expected_output: A draft.\n  agent: ghost\n")
            == "tasks.yaml:4: draft.agent: the agent 'ghost' is not defined in agents.yaml (agents: writer)")
        #expect(problem(tasks: "draft:\n  description: Draft.\n  agent: writer\n") == "tasks.yaml:1: draft.expected_output: missing; it is required")
        #expect(problem(tasks: "draft:\n  description: Draft.\n  expected_output: x\n  agent: writer\n  colour: blue\n").hasPrefix(
            "tasks.yaml:5: draft.colour: unknown field"))
        #expect(problem(tasks: "draft:\n  description: Draft.\n  expected_output: x\n  agent: writer\n  context: [later]\n")
            == "tasks.yaml:5: draft.context: the task 'later' is not defined in tasks.yaml")
        #expect(problem(tasks: "draft:\n  description: Draft.\n  expected_output: x\n  agent: writer\n  output_file: ../../etc/passwd\n")
            == "tasks.yaml:5: draft.output_file: '../../etc/passwd' must be a relative path inside the crew's folder")
        #expect(problem(tasks: "draft:\n  description: [unclosed\n").hasPrefix("tasks.yaml: not valid YAML"))
        let badAgent = "writer:\n  role: Writer\n  goal: Write\n  backstory: You write.\n  max_iter: lots\n  tools: [calculator, browser]\n"
        #expect(problem(tasks: "draft:\n  description: x\n  expected_output: x\n  agent: writer\n", agents: badAgent)
            == "agents.yaml:5: writer.max_iter: must be a whole number from 1 to 500")
        let unknownTool = "writer:\n  role: Writer\n  goal: Write\n  backstory: You write.\n  tools: [calculator, browser]\n  verbose: true\n"
        #expect(problem(tasks: "draft:\n  description: x\n  expected_output: x\n  agent: writer\n", agents: unknownTool)
            == "agents.yaml:5: writer.tools: no tool named 'browser' (tools: calculator)")
        #expect(problem(tasks: "draft:\n  description: x\n  expected_output: x\n", crew: "process: parallel\n")
            == "crew.yaml:1: crew.process: must be sequential or hierarchical, not 'parallel'")
        #expect(problem(tasks: "draft:\n  description: x\n  expected_output: x\n")
            == "tasks.yaml:1: draft.agent: missing; a sequential crew needs an agent for every task")
    }

    @Test func aHierarchicalCrewFromYAMLDelegatesThroughItsManager() async throws {
        let definition = try CrewDefinition.parse(
            agents: """
                researcher:
                  role: Researcher
                  goal: Find facts about {topic}
                  backstory: You dig.
                writer:
                  role: Writer
                  goal: Write about {topic}
                  backstory: You write.
                """,
            tasks: """
                report:
                  description: A report on {topic}
                  expected_output: A short report in sections.
                  output_schema:
                    type: object
                    properties:
                      title: {type: string}
                      sections: {type: array, items: {type: string}}
                    required: [title, sections]
                """,
            crew: "process: hierarchical\nmanager_llm: crew\n")
        #expect(definition.problems(inputs: ["topic": "tides"], tools: []).isEmpty)
        let crew = try definition.crew(inputs: ["topic": "tides"], toolNames: [], tools: { _ in [] }, model: { _ in CrewModel() }, outputDirectory: nil)
        let result = try await crew.kickoff(inputs: ["topic": "tides"])
        #expect(result.isCompleted)
        #expect(result.usageByAgent.keys.sorted() == ["manager", "researcher", "writer"])
        #expect(result.usageByAgent["researcher"]?.modelCalls == 1)
        #expect(result.usageByAgent["writer"]?.modelCalls == 1)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct CrewTemplateTests {
    @Test func placeholdersAreFilledInOnePassAndBracesThatAreNotNamesStay() throws {
        #expect(CrewTemplate.placeholders(in: #"About {topic} in {year}; JSON like {"a": 1} and {} stay."#) == ["topic", "year"])
        let filled = try CrewTemplate.render(#"About {topic} in {year}: {"a": 1}"#, ["topic": "{year} tides", "year": "2026"], field: "f")
        #expect(filled == #"About {year} tides in 2026: {"a": 1}"#)
        #expect(throws: CrewError.self) { try CrewTemplate.render("{missing}", [:], field: "f") }
    }
}

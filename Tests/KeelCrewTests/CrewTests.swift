import Foundation
import KeelApp
import KeelCore
import KeelCrew
import KeelRuntime
import KeelSQLite
import KeelTestSupport
import KeelTesting
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(2)))
struct CrewTests {
    @Test func aSequentialCrewPassesEachTasksOutputAsTheNextOnesContext() async throws {
        let researcherModel = ScriptedModel(name: "r", [.text("- fact one\n- fact two")])
        let writerModel = ScriptedModel(name: "w", [.text("# Report\nfact one and fact two, explained.")])
        let criticModel = ScriptedModel(name: "c", [.text("Approved: the report covers both facts.")])
        let crew = Crew(
            agents: [member("researcher", researcherModel), member("writer", writerModel), member("critic", criticModel)],
            tasks: [
                CrewTask(name: "research", description: "Research {topic}.", expectedOutput: "Two bullet points.", agent: "researcher"),
                CrewTask(name: "write", description: "Write about {topic}.", expectedOutput: "A report.", agent: "writer"),
                CrewTask(name: "review", description: "Review the report.", expectedOutput: "A verdict.", agent: "critic", context: ["write"]),
            ], model: ScriptedModel(name: "unused", []))
        let (store, runtime) = try crewRuntime(crew)
        let record = try await runtime.start(CrewFlow(crew: crew), input: ["topic": "tides"], runID: "seq")
        let result = try #require(try record.output?.decode(as: CrewResult.self))

        #expect(result.isCompleted)
        #expect(result.tasks.map(\.task) == ["research", "write", "review"])
        #expect(result.output == "Approved: the report covers both facts.")
        // Placeholders filled; the writer read the research, the critic only the report (its context).
        let researcherRequest = try #require(researcherModel.requests.first)
        #expect(userText(researcherRequest).hasPrefix("Research tides."))
        #expect(researcherRequest.messages.first == .system("You are Researcher of tides.\nYou are a careful researcher.\n\nYour personal goal is: Do the researcher work on tides"))
        #expect(userText(try #require(writerModel.requests.first)).contains("This is the context you're working with:\n- fact one\n- fact two"))
        let criticPrompt = userText(try #require(criticModel.requests.first))
        #expect(criticPrompt.contains("fact one and fact two, explained."))
        #expect(!criticPrompt.contains("- fact one"))
        // Each task is a step; its agent's steps are in the task's scope; usage sums exactly.
        let journal = try await store.journal(runID: "seq")
        #expect(journal.filter { $0.scope.isEmpty }.map(\.name) == ["task:research", "task:write", "task:review"])
        #expect(Set(journal.map(\.scope)) == ["", "task-1-research@researcher", "task-2-write@writer", "task-3-review@critic"])
        #expect(result.usageByAgent.keys.sorted() == ["critic", "researcher", "writer"])
        #expect(result.usageByTask.keys.sorted() == ["research", "review", "write"])
        let total = UsageByAgent.total(of: journal)
        #expect(result.usage == total)
        #expect(result.usageByAgent.values.reduce(0) { $0 + $1.usage.totalTokens } == total.usage.totalTokens)
        #expect(result.usageByTask.values.reduce(0) { $0 + $1.modelCalls } == 3)
    }

    @Test func aHierarchicalManagerDelegatesToTwoMembersAndNeverToItself() async throws {
        let researcherModel = ScriptedModel(name: "r", [.text("- tides follow the moon")])
        let writerModel = ScriptedModel(name: "w", [.text("# Tides\nThe moon pulls the sea.")])
        let managerModel = ScriptedModel(name: "m", [
            .toolCall("delegate_work", arguments: ["task": "Research tides.", "context": "For a report.", "coworker": "researcher"], id: "d1"),
            .toolCall("ask_question", arguments: ["question": "Who are you?", "context": "", "coworker": "manager"], id: "d2"),
            .toolCall("delegate_work", arguments: ["task": "Write the report.", "context": "- tides follow the moon", "coworker": "writer"], id: "d3"),
            .text("# Tides\nThe moon pulls the sea. (Reviewed.)"),
        ])
        let crew = Crew(
            agents: [member("researcher", researcherModel), member("writer", writerModel)],
            tasks: [CrewTask(name: "report", description: "A report on {topic}.", expectedOutput: "A short report.")],
            process: .hierarchical(CrewManager(model: managerModel)), model: ScriptedModel(name: "unused", []))
        let (store, runtime) = try crewRuntime(crew)
        let record = try await runtime.start(CrewFlow(crew: crew), input: ["topic": "tides"], runID: "hier")
        let result = try #require(try record.output?.decode(as: CrewResult.self))

        #expect(result.output == "# Tides\nThe moon pulls the sea. (Reviewed.)")
        #expect(result.tasks.first?.agent == "manager")
        // The manager may name only the members; naming itself is refused, and it runs nothing.
        let delegate = try #require(managerModel.requests.first?.tools.first { $0.name == "delegate_work" })
        #expect(delegate.parameters[property: "coworker"]?.allowedValues == [.string("researcher"), .string("writer")])
        let refusal = managerModel.requests[2].messages.compactMap { if case .tool(let result) = $0, result.callID == "d2" { result } else { nil } }.first
        #expect(refusal?.isError == true)
        #expect(refusal?.content.contains("coworker") == true)
        #expect(researcherModel.requests.count == 1)
        #expect(writerModel.requests.count == 1)
        #expect(userText(try #require(writerModel.requests.first)).contains("- tides follow the moon"))
        // The members' steps are in the manager's calls' scopes, attributed to them.
        let journal = try await store.journal(runID: "hier")
        let scopes = Set(journal.map(\.scope))
        #expect(scopes.contains { $0.hasPrefix("task-1-report@manager/call-") && $0.hasSuffix("@researcher") })
        #expect(scopes.contains { $0.hasPrefix("task-1-report@manager/call-") && $0.hasSuffix("@writer") })
        #expect(!scopes.contains { $0.contains("call-") && $0.hasSuffix("@manager") })
        #expect(result.usageByAgent["manager"]?.modelCalls == 4)
        #expect(result.usageByAgent["researcher"]?.modelCalls == 1)
        #expect(result.usageByAgent["writer"]?.modelCalls == 1)
        #expect(result.usage == UsageByAgent.total(of: journal))
    }

    @Test func aTaskGuardrailThatFailsTwiceThenPassesKeepsTheThirdAnswer() async throws {
        let model = ScriptedModel(name: "w", [.text("too short"), .text("still short"), .text("A summary of tides, long enough to pass the check.")])
        let checked = Mutex(0)
        let guardrail = OutputGuardrail("length", maxRetries: 2) { answer in
            checked.withLock { $0 += 1 }
            return answer.count >= 30 ? .pass : .retry("it must be at least 30 characters long")
        }
        let crew = Crew(
            agents: [member("writer", model)],
            tasks: [CrewTask(name: "summary", description: "Summarise {topic}.", expectedOutput: "A summary.", agent: "writer", guardrail: guardrail)],
            model: model)
        let result = try await crew.kickoff(inputs: ["topic": "tides"])
        #expect(result.isCompleted)
        #expect(result.output == "A summary of tides, long enough to pass the check.")
        #expect(checked.withLock { $0 } == 3)
        #expect(model.requests.count == 3)
        #expect(userText(model.requests[2]).components(separatedBy: "it must be at least 30 characters long").count == 3)

        // With one retry left it stops the crew, with the guardrail's reason.
        let strict = Crew(
            agents: [member("writer", ScriptedModel(name: "w", [.text("short"), .text("short again")]))],
            tasks: [
                CrewTask(name: "summary", description: "Summarise.", expectedOutput: "A summary.", agent: "writer", guardrail: OutputGuardrail("length", maxRetries: 1) { $0.count >= 30 ? .pass : .retry("too short") }),
                CrewTask(name: "after", description: "Never run.", expectedOutput: "Nothing.", agent: "writer"),
            ], model: model)
        let stopped = try await strict.kickoff(inputs: ["topic": "tides"])
        #expect(!stopped.isCompleted)
        #expect(stopped.tasks.count == 1)
        #expect(stopped.tasks.first?.problem?.contains("too short") == true)
    }

    @Test func aTaskWithAnOutputSchemaKeepsItsAnswerAsJSON() async throws {
        let model = ScriptedModel(name: "w", [.text("not json"), .text(#"{"title": "Tides", "points": 3}"#)])
        let schema = JSONSchema.object(properties: [("title", .string()), ("points", .integer())], required: ["title", "points"])
        let crew = Crew(
            agents: [member("writer", model)],
            tasks: [CrewTask(name: "outline", description: "Outline {topic}.", expectedOutput: "A title and a count.", agent: "writer", outputSchema: schema)],
            model: model)
        let result = try await crew.kickoff(inputs: ["topic": "tides"])
        #expect(result.tasks.first?.json == .object(["title": .string("Tides"), "points": .number(3)]))
        if case .jsonSchema(let name, _, _) = model.requests.first?.responseFormat { #expect(name == "outline") } else { Issue.record("no schema asked for") }
    }

    @Test func asynchronousTasksRunSideBySideAndTheNextTaskReadsBoth() async throws {
        final class Meeting: Sendable {
            let started = Mutex(0)
            let both = Mutex(false)
        }
        struct Gate: ChatModel {
            let provider = "test"
            let name: String
            let meeting: Meeting
            func respond(to request: ChatRequest) async throws -> ChatResponse {
                meeting.started.withLock { $0 += 1 }
                // Each waits for the other: only tasks that run side by side get past this together.
                for _ in 0..<400 where meeting.started.withLock({ $0 }) < 2 { try await Task.sleep(for: .milliseconds(5)) }
                if meeting.started.withLock({ $0 }) >= 2 { meeting.both.withLock { $0 = true } }
                return ChatResponse(model: name, message: AssistantMessage(text: "- found by \(name)"), usage: Usage(inputTokens: 10, outputTokens: 5), finishReason: .stop)
            }
        }
        let meeting = Meeting()
        let editor = ScriptedModel(name: "e", [.text("merged")])
        let crew = Crew(
            agents: [
                member("north", Gate(name: "north", meeting: meeting)), member("south", Gate(name: "south", meeting: meeting)),
                member("editor", editor),
            ],
            tasks: [
                CrewTask(name: "north", description: "Survey the north.", expectedOutput: "Findings.", agent: "north", isAsync: true),
                CrewTask(name: "south", description: "Survey the south.", expectedOutput: "Findings.", agent: "south", isAsync: true),
                CrewTask(name: "merge", description: "Merge the surveys.", expectedOutput: "One list.", agent: "editor"),
            ], model: editor)
        let result = try await crew.kickoff(inputs: ["topic": "tides"])
        #expect(meeting.both.withLock { $0 })
        #expect(result.tasks.map(\.task) == ["north", "south", "merge"])
        let prompt = userText(try #require(editor.requests.first))
        #expect(prompt.contains("- found by north") && prompt.contains("- found by south"))
    }

    @Test func aTaskWithHumanInputWaitsDurablyAndTakesFeedback() async throws {
        let model = ScriptedModel(name: "w", [.text("First draft."), .text("Second draft, with sources.")])
        let events = Mutex<[CrewEvent]>([])
        var crew = Crew(
            agents: [member("writer", model)],
            tasks: [CrewTask(name: "draft", description: "Draft.", expectedOutput: "A draft.", agent: "writer", humanInput: true)], model: model)
        crew.observer = { event in events.withLock { $0.append(event) } }
        let (store, runtime) = try crewRuntime(crew)
        let first = try await runtime.start(CrewFlow(crew: crew), input: ["topic": "tides"], runID: "review")
        #expect(first.status == .waiting)
        let signal = try #require(events.withLock { $0 }.compactMap { if case .awaitingReview(_, let signal) = $0 { signal } else { nil } }.first)
        #expect(signal == "review:task-1-draft@writer#1")
        _ = try await store.signal(runID: "review", name: signal, payload: ["feedback": "Add sources."], idempotencyKey: nil)
        let second = try await runtime.run("review")
        #expect(second.status == .waiting)
        #expect(userText(model.requests[1]).contains("a person reviewed it and said: Add sources."))
        _ = try await store.signal(runID: "review", name: "review:task-1-draft@writer#2", payload: ["approved": true], idempotencyKey: nil)
        let done = try await runtime.run("review")
        let result = try #require(try done.output?.decode(as: CrewResult.self))
        #expect(result.output == "Second draft, with sources.")
        #expect(result.tasks.first?.revisions == 1)
        #expect(model.requests.count == 2)
    }

    @Test func kickoffForEachRunsOneCrewPerInputInItsOwnScope() async throws {
        let crew = Crew(
            agents: [CrewAgent(key: "writer", role: "Writer", goal: "Write", backstory: "You write.")],
            tasks: [CrewTask(name: "note", description: "A note on {topic}.", expectedOutput: "One line.", agent: "writer")],
            model: CrewModel())
        let results = try await RunContext.inMemory { context in
            try await crew.kickoff(forEach: [["topic": "tides"], ["topic": "winds"], ["topic": "waves"]], limit: 2, in: context)
        }
        #expect(results.count == 3)
        #expect(results.map { $0.output.hasPrefix("# A note on ") } == [true, true, true])
        #expect(results[1].output.contains("winds"))
        #expect(results.allSatisfy { $0.usageByTask.keys.sorted() == ["note"] })
    }

    @Test func aCrewWithAWrongDefinitionNamesEveryProblemBeforeAnyWork() async throws {
        let model = ScriptedModel(name: "m", [])
        let crew = Crew(
            agents: [member("writer", model)],
            tasks: [
                CrewTask(name: "a", description: "Uses {missing}.", expectedOutput: "x", agent: "writer", context: ["b"]),
                CrewTask(name: "b", description: "x", expectedOutput: "x", agent: "ghost"),
            ], model: model)
        await #expect(throws: CrewError.self) { try await crew.kickoff(inputs: ["topic": "tides"]) }
        #expect(crew.problems().contains("the task a reads the context of b, which comes after it"))
        #expect(crew.problems().contains { $0.hasPrefix("the task b names the agent ghost") })
        var fixed = crew
        fixed.tasks = [CrewTask(name: "a", description: "Uses {missing}.", expectedOutput: "x", agent: "writer")]
        do {
            _ = try await fixed.kickoff(inputs: ["topic": "tides"])
            Issue.record("a missing input must be refused")
        } catch let error as CrewError {
            #expect(error.description == "task a: description uses {missing}, which the inputs do not give; give it as an input (--input missing=…)")
        }
        #expect(model.requests.isEmpty)
    }
}

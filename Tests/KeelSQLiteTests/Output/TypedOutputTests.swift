import Foundation
import KeelCore
import KeelRuntime
import KeelSQLite
import KeelTesting
import Testing

/// A typed result, as a caller asks for one.
@Schema struct Invoice: Codable, Sendable, Equatable {
    /// The customer's name.
    var customer: String
    @Field(minimum: 0)
    var totalCents: Int
    var paid: Bool
}

/// An answer with an optional field: not allowed in a provider's strict mode.
@Schema struct Summary: Codable, Sendable, Equatable {
    var title: String
    var tags: [String]?
}

/// A workflow that asks an agent for an ``Invoice``.
struct InvoiceWorkflow: Workflow {
    let name = "invoice"
    let model: any ChatModel
    func run(_ input: String, context: RunContext) async throws -> AgentOutput<Invoice> {
        var controls = AgentControls()
        controls.retry = .none  // so that a scripted failure fails the run
        return try await Agent(model: model, instructions: "Extract the invoice.", controls: controls).run(input, returning: Invoice.self, in: context)
    }
}

@Suite(.timeLimit(.minutes(2))) struct TypedOutputTests {
    static let valid = #"{"customer": "Ada", "totalCents": 12900, "paid": false}"#

    /// Not JSON, then JSON that breaks the schema, then a valid object.
    static func twoBadAnswersThenAGoodOne() -> ScriptedModel {
        ScriptedModel([
            .text("Sure! The invoice is for Ada, 129 euros, unpaid."),
            .text(#"{"customer": "Ada", "totalCents": -5, "paid": "no"}"#),
            .text(valid),
        ])
    }

    @Test func theCallerGetsTheTypedValueAfterTwoRepairsWithEveryCallMeteredInTheStore() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        let model = Self.twoBadAnswersThenAGoodOne()
        let workflow = InvoiceWorkflow(model: model)
        let record = try await DurableRuntime(store: store, workflows: [AnyWorkflow(workflow)]).start(workflow, input: "Invoice 7: Ada owes 129.00", runID: "typed-1")
        #expect(record.status == .completed)
        let output = try #require(try record.output?.decode(as: AgentOutput<Invoice>.self))
        #expect(output.value == Invoice(customer: "Ada", totalCents: 12900, paid: false))
        #expect(output.result.steps.count == 3)

        // Each failed answer went back with what was wrong with it.
        let requests = model.requests
        #expect(requests.count == 3)
        let repairs = requests.dropFirst().compactMap { $0.messages.last?.text }
        #expect(repairs.count == 2)
        #expect(repairs[0].contains("it is not JSON"))
        #expect(repairs[1].contains("totalCents") && repairs[1].contains("paid") && repairs[1].contains("does not match the schema"))
        // The provider was asked for the schema, strictly (every field is required).
        #expect(requests.allSatisfy { $0.responseFormat == .jsonSchema(name: "Invoice", schema: Invoice.jsonSchema, strict: true) })

        // All three calls are metered steps: in the journal and in the costs.
        let metered = try await store.journal(runID: "typed-1").compactMap(\.metering)
        #expect(metered.count == 3)
        let costs = try await store.costs(CostQuery(groupBy: .run, runID: "typed-1"))
        #expect(costs.first?.steps == 3)
        #expect(costs.first?.usage == output.result.usage)
        #expect(output.result.usage.inputTokens > 0)
    }

    @Test func aRunInMemoryRepairsTheSameWay() async throws {
        let output = await Agent(model: Self.twoBadAnswersThenAGoodOne()).run("Invoice 7", returning: Invoice.self)
        #expect(output.value?.totalCents == 12900)
        #expect(output.outcome.isCompleted)
        #expect(output.result.usage == output.result.steps.reduce(Usage.zero) { $0 + $1.response.usage })
    }

    @Test func whenRepairsRunOutTheRunEndsWithInvalidOutputAndTheRawText() async throws {
        var configuration = AgentConfiguration()
        configuration.maxOutputRepairs = 1
        let model = ScriptedModel([.text("no idea"), .text(#"{"customer": "Ada"}"#)])
        let output = await Agent(model: model, configuration: configuration).run("Invoice 7", returning: Invoice.self)
        #expect(output.value == nil)
        guard case .invalidOutput(let invalid) = output.outcome else {
            Issue.record("expected invalid output, got \(output.outcome)")
            return
        }
        #expect(invalid.raw == #"{"customer": "Ada"}"#)
        #expect(invalid.repairs == 1)
        #expect(invalid.problem.contains("totalCents"))
        #expect(output.outcome.kind == "invalid_output")
        #expect(model.remainingReplies == 0)
    }

    @Test func anAnswerInACodeFenceIsAccepted() async throws {
        let output = await Agent(model: ScriptedModel([.text("```json\n\(Self.valid)\n```")])).run("Invoice 7", returning: Invoice.self)
        #expect(output.value?.customer == "Ada")
        #expect(output.result.steps.count == 1)
    }

    @Test func aSchemaWithAnOptionalFieldIsNotAskedForStrictly() async throws {
        let model = ScriptedModel([.text(#"{"title": "Q3"}"#)])
        let output = await Agent(model: model).run("Summarize", returning: Summary.self)
        #expect(output.value == Summary(title: "Q3", tags: nil))
        #expect(model.requests.first?.responseFormat == .jsonSchema(name: "Summary", schema: Summary.jsonSchema, strict: false))
    }

    @Test func theRepairsOfAResumedRunAreNotAskedAgain() async throws {
        let store = try SQLiteRunStore(path: try temporaryStorePath())
        // The provider fails after the first bad answer; the run fails at the repair.
        let first = ScriptedModel([.text("not json"), .error(ModelError(.server, message: "down", statusCode: 500))])
        let failing = InvoiceWorkflow(model: first)
        let crashed = try await DurableRuntime(store: store, workflows: [AnyWorkflow(failing)]).start(failing, input: "Invoice 7", runID: "typed-2")
        #expect(crashed.status == .failed)

        let second = ScriptedModel([.text(Self.valid)])
        _ = try await store.reopen(runID: "typed-2")
        let done = try await DurableRuntime(store: store, workflows: [AnyWorkflow(InvoiceWorkflow(model: second))]).run("typed-2")
        let output = try #require(try done.output?.decode(as: AgentOutput<Invoice>.self))
        #expect(output.value?.customer == "Ada")
        #expect(second.requests.count == 1)
        #expect(second.requests[0].messages.last?.text?.contains("it is not JSON") == true)
    }
}

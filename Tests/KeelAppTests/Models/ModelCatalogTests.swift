import KeelApp
import KeelCore
import Testing

/// Spec strings to models: the one place a provider registers.
@Suite(.timeLimit(.minutes(2))) struct ModelCatalogTests {
    @Test func theStandardCatalogKnowsTheOfflineModelsAndOpenAI() throws {
        let catalog = ModelCatalog.standard
        #expect(try catalog.model(for: "writer", baseURL: nil).identifier == ReportWriterModel().identifier)
        #expect(try catalog.model(for: "arithmetic", baseURL: nil) is ArithmeticModel)
        let openai = try catalog.model(for: "openai:gpt-4o-mini", baseURL: "http://127.0.0.1:9/v1", environment: [:])
        #expect(openai.identifier == "openai:gpt-4o-mini")
        #expect(catalog.isOffline("test") && !catalog.isOffline("openai:gpt-4o"))
        #expect(ModelSpec(spec: "writer").isOffline)
    }

    @Test func aBadSpecIsAClearError() throws {
        let catalog = ModelCatalog.standard
        #expect(throws: ModelCatalog.SpecError.self) { try catalog.model(for: "openai", baseURL: nil, environment: [:]) }
        #expect(throws: ModelCatalog.SpecError.self) { try catalog.model(for: "anthropic:", baseURL: nil, environment: [:]) }
        #expect {
            _ = try catalog.model(for: "anthropic:claude-x", baseURL: "file:///etc/passwd", environment: [:])
        } throws: { error in
            "\(error)" == "--base-url must be an http or https URL, got 'file:///etc/passwd'"
        }
        #expect {
            _ = try catalog.model(for: "openai:gpt-4o", baseURL: "ftp://example", environment: [:])
        } throws: { error in
            "\(error)" == "--base-url must be an http or https URL, got 'ftp://example'"
        }
        #expect {
            _ = try catalog.model(for: "mystery:model", baseURL: nil)
        } throws: { error in
            "\(error)" == "unknown model 'mystery:model': use anthropic:NAME, arithmetic, crew, editor, openai:NAME, test, writer"
        }
    }

    @Test func aRegisteredProviderIsKnownByItsSpec() throws {
        var catalog = ModelCatalog()
        catalog.register("echo", offline: true) { name, _, _ in TestModel(name: name ?? "echo") }
        #expect(try catalog.model(for: "echo:loud", baseURL: nil).identifier == "test:loud")
        #expect(catalog.isOffline("echo:loud"))
        #expect(throws: ModelCatalog.SpecError.self) { try catalog.model(for: "writer", baseURL: nil) }
    }
}

import Foundation
import KeelCore
import KeelTestSupport
import Testing

/// The API's OpenAPI document, served by the real `keel serve`: valid (openapi-spec-validator),
/// and schemathesis, run against the live server, finds no 5xx answer and no answer that breaks
/// the document.
@Suite(.timeLimit(.minutes(5))) struct OpenAPITests {
    @Test func theDocumentIsValidAndSchemathesisFindsNothing() async throws {
        let work = try TemporaryFolder.make("keel-openapi")
        let db = work.appendingPathComponent("keel.db").path
        let made = try await KeelProcess.run(["keys", "create", "--db", db, "--tenant", "acme", "--name", "fuzz", "--role", "admin"], killAfter: nil, directory: work)
        let key = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // Something to find: a run waiting for an approval, made by the offline agent.
        let waiting = try await KeelProcess.run(
            ["agent", "--db", db, "--tenant", "acme", "--run-id", "seeded", "--tools", "calculator", "--require-approval", "multiply", "What is 6 times 7?"],
            killAfter: nil, directory: work)
        #expect(waiting.status == 0 || waiting.stdout.contains("waits"), "\(waiting.stderr)")

        let environment = try await PythonVirtualEnvironment.prepared(requirements: ["schemathesis==4.32.5", "openapi-spec-validator==0.9.0"])
        // Run through the environment's python: its scripts' first lines name the folder it was
        // built in, not the one it was moved to.
        let python = environment.python.path
        let server = try BackgroundKeel(["serve", "--db", db, "--port", "0", "--requests-per-second", "100000"], log: work.appendingPathComponent("serve.log"))
        let base = "http://127.0.0.1:\(try await server.port(after: "listening on"))"
        let api = LoopbackHTTP(baseURL: base)
        let document = try await api.request(.GET, "/v1/openapi.json")
        #expect(document.status == 200 && document.json?["openapi"] == "3.1.0")
        let file = work.appendingPathComponent("openapi.json")
        try Data(document.body.utf8).write(to: file)
        try await api.shutdown()

        let validated = try await KeelProcess.run(executable: python, ["-m", "openapi_spec_validator", file.path], timeout: .seconds(120), directory: work)
        #expect(validated.status == 0, "\(validated.stdout)\(validated.stderr)")

        // The checks that a server error or an answer off the document would fail. Live events
        // stream until a run finishes, so they are left out.
        let fuzzed = try await KeelProcess.run(
            executable: python,
            ["-m", "schemathesis.cli", "run", base + "/v1/openapi.json", "-H", "Authorization: Bearer \(key)",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
             "--exclude-path-regex", "events", "--max-examples", "25", "--workers", "1", "--seed", "20261201"],
            environment: ["NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"], timeout: .seconds(240), directory: work)
        #expect(fuzzed.status == 0, "\(fuzzed.stdout.suffix(6_000))\(fuzzed.stderr.suffix(2_000))")
        #expect(fuzzed.stdout.contains("passed"), "\(fuzzed.stdout.suffix(2_000))")
        #expect(!server.output.contains("request failed"), "\(server.output.suffix(2_000))")
        #expect(await server.terminate(timeout: .seconds(20)) == 0)
    }
}

import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelTesting
import Testing

/// Secrets never reach an error message, a description or another origin.
@Suite(.timeLimit(.minutes(5))) struct SecretRedactionTests {
    static let chat = ChatRequest(messages: [.user("go")])

    @Test func aConfigurationDescribesItselfWithoutSecrets() {
        var configuration = OpenAIConfiguration(baseURL: "https://gateway-user:gateway-pass@llm.example/v1", apiKey: "sk-live-secret")
        configuration.extraHeaders = [("X-Gateway-Key", "gk-very-secret")]
        let text = configuration.description
        for secret in ["sk-live-secret", "gateway-pass", "gk-very-secret"] { #expect(!text.contains(secret), "\(text)") }
        #expect(text.contains("llm.example"))
    }

    @Test(arguments: [false, true])
    func secretsEchoedInA200ReplyAreRedacted(streamed: Bool) async throws {
        let echo = #"{"error":{"message":"bad key sk-test-key and header gk-header-secret","type":"server_error","code":"server_error"}}"#
        let reply = streamed ? ServerReply(body: .events([echo], done: false)) : ServerReply(body: .text(echo, contentType: "application/json"))
        try await withLocalModel(.scripted([reply]), configure: { $0.extraHeaders = [("X-Gateway-Key", "gk-header-secret")] }) { model, _ in
            let error = await expectModelError {
                if streamed { _ = try await model.stream(Self.chat) { _ in } } else { _ = try await model.respond(to: Self.chat) }
            }
            let message = try #require(error?.message)
            #expect(!message.contains("sk-test-key") && !message.contains("gk-header-secret"), "\(message)")
            #expect(message.contains("<redacted>"))
        }
    }

    @Test func aPasswordInTheBaseURLIsNotInTheError() async {
        let model = OpenAIChatModel(name: "m", configuration: OpenAIConfiguration(baseURL: "http://someone:url-password@127.0.0.1:1/v1"))
        let error = await expectModelError { _ = try await model.respond(to: Self.chat) }
        #expect(error?.code == .connection)
        #expect(error?.message.contains("url-password") == false, "\(String(describing: error?.message))")
    }

    @Test func aRedirectIsNotFollowedWithTheKey() async throws {
        try await OpenAICompatibleServer.withServer(responder: .scripted([.text("stolen")])) { elsewhere in
            let redirect = ServerReply(
                status: 307, headers: [("location", elsewhere.baseURL + "/chat/completions")], body: .text("", contentType: "text/plain"))
            try await withLocalModel(.scripted([redirect])) { model, _ in
                let error = await expectModelError { _ = try await model.respond(to: Self.chat) }
                #expect(error != nil)
                #expect(elsewhere.requests.isEmpty, "the request (and its Authorization) followed the redirect")
            }
        }
    }
}

import Foundation
import KeelCore

/// A model as a durable run remembers it: the spec and base URL, never the key (which is read
/// from the environment of whichever process resumes the run).
struct ModelSpec: Codable, Sendable, Hashable {
    var spec: String
    var baseURL: String?

    func makeModel() throws -> any ChatModel {
        try ModelOptions.model(for: spec, baseURL: baseURL, environment: ProcessInfo.processInfo.environment)
    }

    var isOffline: Bool { !spec.hasPrefix("openai:") }
}

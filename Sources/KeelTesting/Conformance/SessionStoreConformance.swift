import Foundation
import KeelCore
import KeelRuntime

/// The checks every ``KeelRuntime/SessionStore`` must pass: claims refuse a second run, saves
/// version and release, a save repeated by the same run changes nothing, and scopes never mix.
public enum SessionStoreConformance {
    public struct Check: Sendable, CustomStringConvertible {
        public let name: String
        public let run: @Sendable (any SessionStore) async throws -> Void
        public var description: String { name }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw RunStoreConformance.Failure(description: message()) }
    }

    static let scope = MemoryScope(tenant: "acme", user: "ann", agent: "host")

    static func busy(_ body: () async throws -> Void) async throws -> Bool {
        do {
            try await body()
            return false
        } catch let error as MemoryError {
            return error.code == .sessionBusy
        }
    }

    public static let checks: [Check] = [
        Check(name: "a claimed session refuses another run until it is saved") { store in
            let claimed = try await store.claimSession("s1", in: scope, by: "run-a")
            try expect(claimed.version == 0 && claimed.messages.isEmpty && claimed.heldBy == "run-a", "a new session starts empty, held")
            try expect(try await store.claimSession("s1", in: scope, by: "run-a").heldBy == "run-a", "the holder may claim again (a resumed run)")
            try expect(try await busy { _ = try await store.claimSession("s1", in: scope, by: "run-b") }, "a second run is refused")
            let version = try await store.saveSession("s1", in: scope, messages: [.user("hi"), .assistant(AssistantMessage(text: "hello"))], summary: nil, by: "run-a")
            try expect(version == 1, "the first save is version 1")
            let next = try await store.claimSession("s1", in: scope, by: "run-b")
            try expect(next.messages.count == 2 && next.version == 1, "the next run sees the saved turn")
        },
        Check(name: "a save repeated by the run that made it changes nothing; others may not save") { store in
            _ = try await store.claimSession("s2", in: scope, by: "run-a")
            try expect(try await store.saveSession("s2", in: scope, messages: [.user("one")], summary: "s", by: "run-a") == 1, "saved")
            try expect(try await store.saveSession("s2", in: scope, messages: [.user("one"), .user("twice")], summary: "s", by: "run-a") == 1, "saved again: no change")
            try expect(try await store.session("s2", in: scope)?.messages == [.user("one")], "the repeated save did not write")
            try expect(try await busy { _ = try await store.saveSession("s2", in: scope, messages: [], summary: nil, by: "run-c") }, "an unheld save is refused")
            try expect(try await store.session("s2", in: scope)?.summary == "s", "the summary is kept")
        },
        Check(name: "release, list and delete") { store in
            _ = try await store.claimSession("s3", in: scope, by: "lost-run")
            try expect(try await store.releaseSession("s3", in: scope), "a held session is released")
            try expect(try await !store.releaseSession("s3", in: scope), "a free one is not")
            _ = try await store.claimSession("s3", in: scope, by: "run-b")
            _ = try await store.saveSession("s3", in: scope, messages: [.user("x")], summary: nil, by: "run-b")
            _ = try await store.claimSession("s4", in: scope, by: "run-c")
            try expect(Set(try await store.sessions(in: scope).map(\.id)).isSuperset(of: ["s3", "s4"]), "listed")
            try expect(try await store.deleteSession("s3", in: scope), "deleted")
            try expect(try await store.session("s3", in: scope) == nil, "gone")
            try expect(try await !store.deleteSession("s3", in: scope), "deleting again deletes nothing")
        },
        Check(name: "isolation: one id in many scopes is many sessions") { store in
            let scopes = ["acme", "globex"].flatMap { tenant in [nil, "ann", "bob"].map { MemoryScope(tenant: tenant, user: $0, agent: "host") } }
            for scope in scopes {
                _ = try await store.claimSession("chat", in: scope, by: "run-\(scope)")
                _ = try await store.saveSession("chat", in: scope, messages: [.user("I am \(scope)")], summary: nil, by: "run-\(scope)")
            }
            for scope in scopes {
                let session = try await store.session("chat", in: scope)
                try expect(session?.messages == [.user("I am \(scope)")] && session?.scope == scope, "\(scope) reads its own session")
                try expect(try await store.sessions(in: scope).map(\.id) == ["chat"], "\(scope) lists its own session")
            }
        },
    ]
}

import Foundation
import KeelCore
import KeelRuntime

/// The checks every ``KeelRuntime/FactStore`` must pass: versions and their history, deletion,
/// time to live, prefixes, bounded input and isolation between scopes.
public enum FactStoreConformance {
    public struct Check: Sendable, CustomStringConvertible {
        public let name: String
        public let run: @Sendable (any FactStore) async throws -> Void
        public var description: String { name }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw RunStoreConformance.Failure(description: message()) }
    }

    static let scope = MemoryScope(tenant: "acme", user: "ann", agent: "helper")

    public static let checks: [Check] = [
        Check(name: "a new value is a new version; the old ones stay as history") { store in
            let first = try await store.setFact("plan", to: "basic", in: scope, timeToLive: nil)
            let second = try await store.setFact("plan", to: "pro", in: scope, timeToLive: nil)
            try expect(first.version == 1 && second.version == 2, "versions 1 and 2, got \(first.version) and \(second.version)")
            try expect(try await store.fact("plan", in: scope)?.value == "pro", "the newest value is current")
            let history = try await store.history(of: "plan", in: scope)
            try expect(history.map(\.value) == ["basic", "pro"] && history.map(\.version) == [1, 2], "history oldest first, got \(history.map(\.value))")
            try expect(try await store.fact("missing", in: scope) == nil, "an unknown key has no fact")
        },
        Check(name: "deleting keeps the history and can be undone by setting again") { store in
            _ = try await store.setFact("city", to: "Oslo", in: scope, timeToLive: nil)
            try expect(try await store.deleteFact("city", in: scope), "deleting a current fact")
            try expect(try await store.fact("city", in: scope) == nil, "a deleted fact is gone")
            try expect(try await !store.deleteFact("city", in: scope), "deleting it again deletes nothing")
            try expect(try await store.history(of: "city", in: scope).map(\.value) == ["Oslo", nil], "the deletion is a version")
            let again = try await store.setFact("city", to: "Bergen", in: scope, timeToLive: nil)
            let current = try await store.fact("city", in: scope)
            try expect(again.version == 3 && current?.value == "Bergen", "set again after a deletion")
        },
        Check(name: "a fact with a time to live expires") { store in
            // However slow the machine: the long-lived fact is current, the short-lived one is
            // checked only once it must have expired.
            let set = try await store.setFact("code", to: "1234", in: scope, timeToLive: .milliseconds(300))
            try expect(set.expiresAt.map { abs($0.timeIntervalSince(set.setAt) - 0.3) < 0.001 } == true, "it expires 300 ms after it was set")
            _ = try await store.setFact("name", to: "Ann", in: scope, timeToLive: .seconds(3_600))
            try expect(try await store.fact("name", in: scope)?.value == "Ann", "current before it expires")
            try await Task.sleep(for: .milliseconds(450))
            try expect(try await store.fact("code", in: scope) == nil, "gone after it expires")
            try expect(try await store.facts(in: scope, prefix: "").map(\.key) == ["name"], "an expired fact is not listed")
            try expect(try await store.history(of: "code", in: scope).count == 1, "its history stays")
        },
        Check(name: "listing by prefix gives the current facts, by key") { store in
            for (key, value) in [("pref.theme", "dark"), ("pref.lang", "nb"), ("name", "Ann")] {
                _ = try await store.setFact(key, to: value, in: scope, timeToLive: nil)
            }
            _ = try await store.setFact("pref.lang", to: "en", in: scope, timeToLive: nil)
            let prefs = try await store.facts(in: scope, prefix: "pref.")
            try expect(prefs.map(\.key) == ["pref.lang", "pref.theme"] && prefs.map(\.value) == ["en", "dark"], "got \(prefs.map(\.key)) \(prefs.map(\.value))")
            try expect(try await store.facts(in: scope, prefix: "").count == 3, "every current fact")
        },
        Check(name: "bad input is refused with a clear error") { store in
            for (key, value, ttl) in [("", "x", nil), (String(repeating: "k", count: 201), "x", nil), ("k", "x", Duration.zero)] as [(String, String, Duration?)] {
                do {
                    _ = try await store.setFact(key, to: value, in: scope, timeToLive: ttl)
                    throw RunStoreConformance.Failure(description: "setting '\(key.prefix(10))' with \(String(describing: ttl)) must be refused")
                } catch let error as MemoryError {
                    try expect(error.code == .invalidRecord, "refused as an invalid record")
                }
            }
            do {
                _ = try await store.fact("k", in: MemoryScope(tenant: ""))
                throw RunStoreConformance.Failure(description: "a scope without a tenant must be refused")
            } catch let error as MemoryError {
                try expect(error.code == .invalidScope, "refused as an invalid scope")
            }
        },
        Check(name: "isolation: the same key in every scope keeps its own value") { store in
            let scopes = ["acme", "globex"].flatMap { tenant in
                [nil, "ann", "bob"].flatMap { user in [nil, "helper"].map { MemoryScope(tenant: tenant, user: user, agent: $0) } }
            }
            for scope in scopes { _ = try await store.setFact("secret", to: "of \(scope)", in: scope, timeToLive: nil) }
            _ = try await store.deleteFact("secret", in: scopes[1])
            for (index, scope) in scopes.enumerated() {
                let value = try await store.fact("secret", in: scope)?.value
                try expect(value == (index == 1 ? nil : "of \(scope)"), "\(scope) reads \(value ?? "nothing")")
                let listed = try await store.facts(in: scope, prefix: "")
                try expect(listed.allSatisfy { $0.scope == scope && $0.value == "of \(scope)" }, "\(scope) lists another scope's fact")
                try expect(try await store.history(of: "secret", in: scope).count == (index == 1 ? 2 : 1), "\(scope)'s history is its own")
            }
        },
    ]
}

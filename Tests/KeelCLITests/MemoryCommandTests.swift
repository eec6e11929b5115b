import Foundation
import KeelTestSupport
import Testing

@Suite(.timeLimit(.minutes(3)))
struct MemoryCommandTests {
    @Test func passagesAndFactsAreKeptAndSearchedPerScope() async throws {
        let work = try TemporaryFolder.make("keel-memory-cli")
        let db = work.appendingPathComponent("keel.db").path
        func keel(_ arguments: [String]) async throws -> KeelProcess.Output {
            try await KeelProcess.run(["memory"] + arguments + ["--db", db], killAfter: nil, timeout: .seconds(60), directory: work)
        }
        let ann = ["--tenant", "acme", "--user", "ann"]
        for text in ["Invoices are due thirty days after delivery.", "The office closes at six on Fridays.", "Refunds take five working days."] {
            let added = try await keel(["add"] + ann + ["--meta", "source=handbook", text])
            #expect(added.status == 0, "\(added.stderr)")
        }
        let found = try await keel(["search"] + ann + ["--limit", "1", "When are invoices due?"])
        #expect(found.status == 0, "\(found.stderr)")
        #expect(found.stdout.hasSuffix("\tInvoices are due thirty days after delivery.\n"))
        // Bob, in the same tenant, finds nothing of Ann's.
        let bob = try await keel(["search", "--tenant", "acme", "--user", "bob", "When are invoices due?"])
        #expect(bob.status == 0 && bob.stdout.isEmpty)
        let filtered = try await keel(["search"] + ann + ["--where", "source=chat", "invoices"])
        #expect(filtered.stdout.isEmpty)

        #expect(try await keel(["facts", "set"] + ann + ["plan", "basic"]).stdout == "plan = basic (version 1)\n")
        #expect(try await keel(["facts", "set"] + ann + ["plan", "pro"]).stdout == "plan = pro (version 2)\n")
        #expect(try await keel(["facts", "get"] + ann + ["plan"]).stdout == "pro\n")
        #expect(try await keel(["facts", "list"] + ann).stdout == "plan\tpro\tversion 2\n")
        #expect(try await keel(["facts", "delete"] + ann + ["plan"]).status == 0)
        let gone = try await keel(["facts", "get"] + ann + ["plan"])
        #expect(gone.status != 0)
        #expect(gone.stderr.contains("no fact 'plan' in acme/ann/-"))
        let history = try await keel(["facts", "get", "--history"] + ann + ["plan"])
        #expect(history.stdout.split(separator: "\n").map { $0.split(separator: "\t").last.map(String.init) ?? "" } == ["basic", "pro", "(deleted)"])
        let badTTL = try await keel(["facts", "set"] + ann + ["--ttl", "soon", "code", "1"])
        #expect(badTTL.status != 0 && badTTL.stderr.contains("--ttl"))
    }
}

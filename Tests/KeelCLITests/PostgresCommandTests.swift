import Foundation
import KeelCore
import KeelTestSupport
import KeelTesting
import Testing

/// The commands that keep runs, on a PostgreSQL store given with `--store`.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct PostgresCommandTests {
    @Test func theRunCommandsWorkOnAPostgresStore() async throws {
        let url = try await PostgresTestCluster.shared().createDatabase("commands")
        let agent = try await KeelProcess.run(
            ["agent", "--store", url, "--run-id", "pg-agent", "--tools", "calculator", "--require-approval", "multiply", "What is 6 times 7?"])
        #expect(agent.status == 4, "\(agent.stderr)")
        #expect(agent.stdout.contains("approval pg-agent:"))

        let approvals = try await KeelProcess.run(["approvals", "--store", url, "--json"])
        let pending = try #require(try JSONValue(parsing: approvals.stdout).arrayValue)
        let id = try #require(pending.first?["id"]?.stringValue)
        let approved = try await KeelProcess.run(["approve", id, "--store", url, "--by", "alice", "--resume"])
        #expect(approved.status == 0, "\(approved.stderr)")
        #expect(approved.stdout.contains("run pg-agent is completed"))

        let list = try await KeelProcess.run(["runs", "list", "--store", url])
        #expect(list.status == 0 && list.stdout.contains("pg-agent"), "\(list.stderr)")
        let show = try await KeelProcess.run(["runs", "show", "pg-agent", "--store", url, "--json"])
        #expect(try JSONValue(parsing: show.stdout)["status"] == "completed")
        let costs = try await KeelProcess.run(["costs", "--store", url, "--by", "run", "--json"])
        #expect(try JSONValue(parsing: costs.stdout)[0]?["key"] == "pg-agent", "\(costs.stdout)")
        let audit = try await KeelProcess.run(["audit", "verify", "--store", url])
        #expect(audit.status == 0 && audit.stdout.hasPrefix("audit log intact: "), "\(audit.stderr)")
        let submitted = try await KeelProcess.run(["submit", "agent", "--store", url, "--tools", "calculator", "--run-id", "queued", "What is 2 plus 3?"])
        #expect(submitted.status == 0 && submitted.stdout == "queued\n", "\(submitted.stderr)")
        let queued = try await KeelProcess.run(["runs", "show", "queued", "--store", url, "--json"])
        #expect(try JSONValue(parsing: queued.stdout)["status"] == "pending")
        let letters = try await KeelProcess.run(["dead-letters", "list", "--store", url])
        #expect(letters.status == 0 && letters.stdout.contains("no dead letters"), "\(letters.stdout)\(letters.stderr)")
    }

    @Test func anUnreachableOrMalformedStoreIsAOneLineError() async throws {
        let port = try await PostgresTestCluster.shared().port
        let unreachable = try await KeelProcess.run(["runs", "list", "--store", "postgres://keel@127.0.0.1:9/none", "--lock-timeout", "2s"])
        #expect(unreachable.status != 0)
        #expect(unreachable.stderrLines.count == 1, "\(unreachable.stderr)")
        #expect(unreachable.stderr.contains("PostgreSQL at postgres://keel@127.0.0.1:9/none"))
        let malformed = try await KeelProcess.run(["runs", "list", "--store", "postgres://127.0.0.1:\(port)"])
        #expect(malformed.status != 0)
        #expect(malformed.stderrLines.count == 1)
        #expect(malformed.stderr.contains("needs a user and a database"))
        let noDatabase = try await KeelProcess.run(["runs", "list", "--store", "postgres://keel@127.0.0.1:\(port)/missing"])
        #expect(noDatabase.status != 0)
        #expect(noDatabase.stderrLines.count == 1, "\(noDatabase.stderr)")
        #expect(noDatabase.stderr.contains("refused the connection"))
        // A worker waits for a database that is down, but not for one that does not exist.
        let worker = try await KeelProcess.run(["worker", "--store", "postgres://keel@127.0.0.1:\(port)/missing"], timeout: .seconds(30))
        #expect(worker.status == 1, "\(worker.stderr)")
        #expect(worker.stderr.contains("does not exist"))
    }
}

import Foundation
import KeelCore
import KeelPostgres
import KeelRuntime
import KeelTestSupport
import KeelTesting
import Testing

/// TLS and passwords against a cluster that refuses connections without TLS and has a
/// self-signed certificate, with libpq's `sslmode`, `sslrootcert`, `PGPASSWORD` and password files.
@Suite(.serialized, .timeLimit(.minutes(10)), .heavy, .needsPostgreSQL) struct PostgresTLSTests {
    static let cluster = Task { try await PostgresTestCluster.start(fsync: false, tls: true) }

    /// A fresh database on the TLS cluster, owned by `owner`.
    static func database(owner: String = "keel") async throws -> (PostgresTestCluster, String) {
        let cluster = try await Self.cluster.value
        let url = try await cluster.createDatabase("tls")
        let name = String(url.split(separator: "/").last ?? "")
        if owner != "keel" { try await cluster.psql(cluster.adminURL, "ALTER DATABASE \(name) OWNER TO \(owner)") }
        return (cluster, url)
    }

    /// Whether the server sees a TLS connection of `user` to `database`.
    static func sslConnections(_ cluster: PostgresTestCluster, database: String, user: String) async throws -> Int {
        let count = try await cluster.psql(
            cluster.adminURL,
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.datname = '\(database)' AND a.usename = '\(user)'")
        return Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    @Test func requireConnectsOverTLSAndDisableIsRefused() async throws {
        let (cluster, url) = try await Self.database()
        let name = String(url.split(separator: "/").last ?? "")
        let store = try await PostgresRunStore.connect(url + "?sslmode=require")
        _ = try await store.createRun(NewRun(id: "r", workflow: "w", input: nil))
        #expect(try await Self.sslConnections(cluster, database: name, user: "keel") >= 1)
        await store.close()
        // prefer takes TLS where it is offered.
        let preferring = try await PostgresRunStore.connect(url + "?sslmode=prefer")
        #expect(try await preferring.run(id: "r") != nil)
        await preferring.close()
        // disable — the default — is refused by this server, and the message says what to do.
        for plain in [url + "?sslmode=disable", url] {
            await #expect {
                _ = try await PostgresRunStore.connect(plain)
            } throws: { error in
                (error as? StoreError)?.code == .refused && "\(error)".contains("no encryption") && "\(error)".contains("sslmode=require")
            }
        }
    }

    @Test func verifyFullTrustsTheGivenRootAndNothingElse() async throws {
        let (cluster, url) = try await Self.database()
        let certificate = try #require(cluster.certificate)
        let store = try await PostgresRunStore.connect(url + "?sslmode=verify-full&sslrootcert=\(certificate.path)")
        #expect(try await store.listRuns(RunQuery()).isEmpty)
        await store.close()
        // Without the root, the self-signed certificate is not trusted.
        await #expect(throws: StoreError.self) { _ = try await PostgresRunStore.connect(url + "?sslmode=verify-full") }
        #expect(throws: StoreError.self) { _ = try PostgresRunStore.Configuration(url: url + "?sslmode=sometimes") }
    }

    @Test func thePasswordComesFromTheEnvironmentOrAPasswordFile() async throws {
        let (cluster, url) = try await Self.database(owner: "secret")
        let secretURL = url.replacingOccurrences(of: "keel@", with: "secret@") + "?sslmode=require"
        let noHome = ["HOME": "/nonexistent"]
        // No password anywhere: refused.
        await #expect {
            _ = try await PostgresRunStore.connect(try PostgresRunStore.Configuration(url: secretURL, environment: noHome))
        } throws: { error in
            (error as? StoreError)?.code == .refused && "\(error)".contains("PGPASSWORD")
        }
        let fromVariable = try await PostgresRunStore.connect(try PostgresRunStore.Configuration(url: secretURL, environment: ["PGPASSWORD": "s3cret"]))
        #expect(try await fromVariable.listRuns(RunQuery()).isEmpty)
        await fromVariable.close()

        let folder = try TemporaryFolder.make("keel-pgpass")
        let passfile = folder.appendingPathComponent("pgpass")
        try "# the test cluster\nother:1:*:*:wrong\n127.0.0.1:\(cluster.port):*:secret:s3cret\n".write(to: passfile, atomically: true, encoding: .utf8)
        let fromFile = try await PostgresRunStore.connect(try PostgresRunStore.Configuration(url: secretURL, environment: ["PGPASSFILE": passfile.path]))
        #expect(try await fromFile.listRuns(RunQuery()).isEmpty)
        await fromFile.close()
        let fromParameter = try PostgresRunStore.Configuration(url: secretURL + "&passfile=\(passfile.path)", environment: noHome)
        #expect(fromParameter.password == "s3cret")
        #expect(!fromParameter.displayURL.contains("s3cret"))
    }

    @Test func passwordFilesMatchLikeLibpq() {
        let text = "# comment\n*:*:*:alice:first\nhost\\:x:5432:db:bob:sec\\:ret\n"
        #expect(PostgresRunStore.passwordForTests(text, host: "any", port: 1, database: "d", user: "alice") == "first")
        #expect(PostgresRunStore.passwordForTests(text, host: "host:x", port: 5432, database: "db", user: "bob") == "sec:ret")
        #expect(PostgresRunStore.passwordForTests(text, host: "host:x", port: 5433, database: "db", user: "bob") == nil)
    }
}

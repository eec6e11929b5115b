import Foundation
import KeelApp
import KeelCore
import KeelRuntime
import KeelTestSupport
import Testing

/// `--store`: a path or a URL, opened into a store and the rate limiters its runs share.
@Suite(.timeLimit(.minutes(2))) struct StoreLocationTests {
    @Test func aPathIsSQLiteAndAURLIsPostgreSQLShownWithoutItsPassword() {
        #expect(!StoreLocation("runs/keel.db").isPostgres)
        #expect(StoreLocation("runs/keel.db").description == "runs/keel.db")
        let url = StoreLocation("postgres://keel:hunter2@127.0.0.1:5432/keel")
        #expect(url.isPostgres && StoreLocation("postgresql://db/keel").isPostgres)
        #expect(!url.description.contains("hunter2"))
        #expect(url.description.contains("127.0.0.1:5432/keel"))
    }

    @Test func aSQLiteFileIsOneStoreForEveryOpeningAndPacesInThisProcess() async throws {
        let path = try TemporaryFolder.make("keel-app").appendingPathComponent("keel.db").path
        let first = try await StoreLocation(path).open()
        _ = try await first.store.createRun(NewRun(id: "r1", workflow: "agent", input: ["prompt": "hi"]))
        let second = try await StoreLocation(path).open(lockTimeout: .seconds(1))
        #expect(try await second.store.run(id: "r1")?.input == ["prompt": "hi"])
        #expect(second.rateLimiters === RateLimiters.shared)
        #expect(second.location == StoreLocation(path))
    }

    @Test func anUnreachablePostgreSQLIsUnavailableNotAHang() async throws {
        // Port 1 on loopback refuses at once.
        await #expect {
            _ = try await StoreLocation("postgres://keel@127.0.0.1:1/keel").open(lockTimeout: .seconds(1))
        } throws: { error in
            (error as? StoreError)?.code == .unavailable
        }
    }
}

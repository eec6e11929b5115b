import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime

struct MemoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Keep and search long-term memory: passages by meaning, and exact facts, per tenant, user and agent.",
        subcommands: [Add.self, Search.self, Facts.self, Eval.self]
    )

    /// Whose memory.
    struct ScopeOptions: ParsableArguments {
        @Option(help: "The tenant.") var tenant: String
        @Option(help: "The user within the tenant (default: none, the tenant's own memory).") var user: String?
        @Option(help: "The agent (default: none).") var agent: String?

        var scope: MemoryScope { MemoryScope(tenant: tenant, user: user, agent: agent) }
    }

    struct EmbedderOptions: ParsableArguments {
        @Option(help: ArgumentHelp(
            "The embedding model: 'hashing' (offline, the default) or 'openai:NAME' for an OpenAI-compatible embeddings endpoint ($OPENAI_BASE_URL, $OPENAI_API_KEY).",
            valueName: "spec"))
        var embedder = "hashing"

        func make() throws -> any EmbeddingModel {
            if embedder == "hashing" { return HashingEmbedder() }
            guard embedder.hasPrefix("openai:"), embedder.count > 7 else {
                throw ValidationError("--embedder takes 'hashing' or 'openai:NAME', not '\(embedder)'")
            }
            return OpenAIEmbeddingModel(name: String(embedder.dropFirst(7)), configuration: OpenAIConfiguration.fromEnvironment(ProcessInfo.processInfo.environment))
        }
    }

    /// The store, as the memory it also is.
    static func memory(_ options: StoreOptions) async throws -> any VectorIndex & FactStore {
        let store = try await options.openStore()
        guard let memory = store as? any VectorIndex & FactStore else {
            throw CLIError("the store at \(options.location) keeps no memory")
        }
        return memory
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remember a passage; prints its id.")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var scope: ScopeOptions
        @OptionGroup var embedder: EmbedderOptions
        @Option(help: "The id (default: a new one); adding an id again replaces its passage.") var id: String?
        @Option(name: .customLong("meta"), help: ArgumentHelp("A metadata entry, as key=value (repeatable).", valueName: "key=value")) var metadata: [String] = []
        @Argument(help: "The passage.") var text: String

        func run() async throws {
            let entries = try keyValuePairs(metadata, option: "--meta")
            let record = try await catching {
                guard let vector = try await embedder.make().embed([text]).vectors.first else { throw CLIError("the embedder returned no vector") }
                let record = MemoryRecord(id: id ?? UUID().uuidString.lowercased(), scope: scope.scope, text: text, metadata: entries, vector: vector)
                try await MemoryCommand.memory(storeOptions).add([record])
                return record
            }
            Console.line(record.id)
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The passages closest in meaning to a query, best first.")
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var scope: ScopeOptions
        @OptionGroup var embedder: EmbedderOptions
        @Option(help: "How many, 1 to 1,000.") var limit = 5
        @Option(name: .customLong("where"), help: ArgumentHelp("Only passages with this metadata entry (repeatable).", valueName: "key=value")) var filter: [String] = []
        @Flag(help: "Print JSON.") var json = false
        @Argument(help: "The query.") var query: String

        func run() async throws {
            let entries = try keyValuePairs(filter, option: "--where")
            let matches = try await catching {
                guard let vector = try await embedder.make().embed([query]).vectors.first else { throw CLIError("the embedder returned no vector") }
                return try await MemoryCommand.memory(storeOptions).search(vector, k: limit, in: scope.scope, filter: entries)
            }
            if json {
                Console.line(try JSONValue(encoding: matches).prettySerialized())
                return
            }
            for match in matches { Console.line(String(format: "%.3f", match.score) + "\t\(match.id)\t\(match.text)") }
        }
    }

    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure an embedder's recall@k on a labelled set (Datasets/retrieval.json), searched exactly in memory.")
        @OptionGroup var embedder: EmbedderOptions
        @Option(help: "The labelled set.") var dataset = "Datasets/retrieval.json"
        @Option(help: "How many results count.") var k = 5

        func run() async throws {
            guard (1...100).contains(k) else { throw ValidationError("--k must be from 1 to 100") }
            let result = try await catching { try await RetrievalEvaluation.load(path: dataset).run(embedder: try embedder.make(), k: k) }
            Console.line(String(format: "recall@%d %.3f", result.k, result.recall) + " (\(embedder.embedder), \(dataset))")
            if !result.misses.isEmpty { Console.line("missed: \(result.misses.joined(separator: ", "))") }
        }
    }

    struct Facts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exact facts: set, get, list, delete; each change is a version, and the history stays.",
            subcommands: [Set.self, Get.self, List.self, Delete.self])

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Set a fact; prints its version.")
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var scope: ScopeOptions
            @Option(help: ArgumentHelp("How long it holds, such as 30m or 7d (default: until changed).", valueName: "duration")) var ttl: String?
            @Argument(help: "The key.") var key: String
            @Argument(help: "The value.") var value: String

            func run() async throws {
                let timeToLive = try ttl.map { text in
                    guard let duration = Duration(parsing: text) else { throw ValidationError("--ttl takes a duration such as 30m or 7d, not '\(text)'") }
                    return duration
                }
                let fact = try await catching { try await MemoryCommand.memory(storeOptions).setFact(key, to: value, in: scope.scope, timeToLive: timeToLive) }
                Console.line("\(fact.key) = \(fact.value ?? "") (version \(fact.version))")
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print a fact's value (exit 1 when there is none); --history lists every version.")
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var scope: ScopeOptions
            @Flag(help: "Every version, oldest first.") var history = false
            @Argument(help: "The key.") var key: String

            func run() async throws {
                let memory = try await catching { try await MemoryCommand.memory(storeOptions) }
                if history {
                    for fact in try await catching({ try await memory.history(of: key, in: scope.scope) }) {
                        Console.line("\(fact.version)\t\(ISO8601DateFormatter().string(from: fact.setAt))\t\(fact.value ?? "(deleted)")")
                    }
                    return
                }
                guard let fact = try await catching({ try await memory.fact(key, in: scope.scope) }) else { throw CLIError("no fact '\(key)' in \(scope.scope)") }
                Console.line(fact.value ?? "")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The current facts, by key.")
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var scope: ScopeOptions
            @Option(help: "Only keys that start with this.") var prefix = ""

            func run() async throws {
                for fact in try await catching({ try await MemoryCommand.memory(storeOptions).facts(in: scope.scope, prefix: prefix) }) {
                    Console.line("\(fact.key)\t\(fact.value ?? "")\tversion \(fact.version)")
                }
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a fact (its history stays).")
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var scope: ScopeOptions
            @Argument(help: "The key.") var key: String

            func run() async throws {
                let deleted = try await catching { try await MemoryCommand.memory(storeOptions).deleteFact(key, in: scope.scope) }
                guard deleted else { throw CLIError("no fact '\(key)' in \(scope.scope)") }
                Console.line("deleted \(key)")
            }
        }
    }
}

import ArgumentParser
import Foundation
import KeelApp
import KeelCore
import KeelOpenAI
import KeelRuntime

/// The flags that let a process act on what stored runs ask for: `keel worker`, `keel runs
/// resume`, `keel approve --resume`, `keel dead-letters retry` and `keel batch`.
struct AuthorityOptions: ParsableArguments {
    @Option(name: .customLong("allow-mcp"), help: ArgumentHelp("An MCP server runs may use, as written after --mcp. Repeatable.", valueName: "server"))
    var mcp: [String] = []

    @Option(
        name: .customLong("allow-base-url"),
        help: ArgumentHelp("An API root this process's key may be sent to for a run, besides $OPENAI_BASE_URL. Repeatable.", valueName: "url"))
    var baseURLs: [String] = []

    @Option(name: .customLong("allow-alert-url"), help: ArgumentHelp("A webhook runs' alerts may be posted to. Repeatable.", valueName: "url"))
    var alertURLs: [String] = []

    var authority: RunAuthority {
        RunAuthority(mcpServers: Set(mcp), baseURLs: Set(baseURLs), alertURLs: Set(alertURLs))
    }
}

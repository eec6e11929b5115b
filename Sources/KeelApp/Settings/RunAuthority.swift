import Foundation
import KeelCore
import KeelOpenAI
import KeelRuntime

/// What a run's stored input may make this process do.
///
/// A run's input is data, never authority (DESIGN.md §7): anyone who can submit a run can write
/// any input, and whichever worker claims it acts on it. So the things that reach beyond the run —
/// programs started as MCP servers (and the servers reached over HTTP), the URL the process's API
/// key is sent to, the URL alerts are posted to — are allowed by this process's own configuration
/// (its flags and environment), and a run that asks for anything else is refused with a reason.
/// Price tables travel in the input as data; no file is read because an input names it.
public struct RunAuthority: Sendable, Hashable {
    /// MCP servers runs may start or reach, as written after `--mcp`.
    public var mcpServers: Set<String> = []
    /// API roots the process's credential may be sent to, besides `OPENAI_BASE_URL` (or OpenAI's,
    /// when that is unset).
    public var baseURLs: Set<String> = []
    /// Webhooks alerts may be posted to.
    public var alertURLs: Set<String> = []

    public init(mcpServers: Set<String> = [], baseURLs: Set<String> = [], alertURLs: Set<String> = []) {
        self.mcpServers = mcpServers
        self.baseURLs = baseURLs
        self.alertURLs = alertURLs
    }

    /// Why a run's input was refused.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Refuses MCP servers this process does not allow.
    public func checkMCP(_ specs: [String]) throws(Refusal) {
        if let refused = specs.first(where: { !mcpServers.contains($0) }) {
            throw Refusal(description: "the run asks for the MCP server '\(refused)', which this process does not allow; start it with --allow-mcp \"\(refused)\"")
        }
    }

    /// Refuses a model whose API root is not one this process's credential may go to, when there
    /// is something to lose: a credential, or tools from MCP servers whose results the model reads.
    public func checkModel(_ spec: ModelSpec, usesMCP: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) throws(Refusal) {
        guard spec.spec.hasPrefix("openai:"), let baseURL = spec.baseURL else { return }
        let allowed = baseURLs.union([OpenAIConfiguration.fromEnvironment(environment).baseURL]).map(Self.normalized)
        guard !allowed.contains(Self.normalized(baseURL)) else { return }
        let hasCredential = !(environment["OPENAI_API_KEY"] ?? "").isEmpty
        guard hasCredential || usesMCP else { return }
        let what = hasCredential ? "this process's API key" : "the results of its MCP tools"
        throw Refusal(
            description: "the run's model is at \(Self.displayed(baseURL)), where \(what) may not go; start this process with --allow-base-url \(Self.displayed(baseURL)) to allow it")
    }

    /// The alert hook of a run's settings: standard error (whatever the log level), and its
    /// webhook only when allowed here (otherwise standard error alone, with a warning).
    public func alertHook(for settings: ControlSettings?) -> any AlertHook {
        guard let url = settings?.alertURL else { return StandardErrorAlertHook() }
        guard alertURLs.contains(url) else {
            StandardErrorAlertHook.write("warning: the run's alert webhook is not allowed here (--allow-alert-url); its alerts go to standard error only")
            return StandardErrorAlertHook()
        }
        return AlertHooks([StandardErrorAlertHook(), WebhookAlertHook(url: url)])
    }

    /// The alert hook of a stored run: that of the settings in its input (both the agent's and
    /// the report's input keep them under `controls`), so that whichever command runs it — a
    /// worker, `runs resume`, `dead-letters retry`, `approve --resume` — alerts where it asked.
    public func alertHook(for run: RunRecord) -> any AlertHook {
        alertHook(for: run.input["controls"].flatMap { try? $0.decode(as: ControlSettings.self) })
    }

    /// `url` without a trailing slash, for comparison.
    static func normalized(_ url: String) -> String {
        var url = url.trimmingCharacters(in: .whitespaces)
        while url.hasSuffix("/") { url.removeLast() }
        return url.lowercased()
    }

    /// `url` without any user information (a password in a URL is a secret).
    static func displayed(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.user != nil || components.password != nil else { return url }
        components.user = nil
        components.password = nil
        return components.string ?? url
    }
}

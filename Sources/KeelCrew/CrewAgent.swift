import Foundation
import KeelCore
import KeelRuntime

/// A member of a crew: who it is (role, goal, backstory), what it may use (tools, a model) and
/// its limits — as in CrewAI.
public struct CrewAgent: Sendable {
    /// The name tasks and delegations call it by (`researcher`): its key in `agents.yaml`.
    public var key: String
    /// Its job title (`{topic} Senior Data Researcher`); `{name}` is filled from the inputs.
    public var role: String
    /// What it is after.
    public var goal: String
    /// Who it is; shapes how it works.
    public var backstory: String
    public var tools: [AnyTool]
    /// Its model; `nil` uses the crew's.
    public var model: (any ChatModel)?
    /// Whether it may hand work to, and ask questions of, the crew's other members (the
    /// `delegate_work` and `ask_question` tools). Default: `false`.
    public var allowDelegation: Bool
    /// The most model calls per task. Default: 20.
    public var maxIterations: Int
    /// The most model calls a minute it may make; `nil` leaves pacing to the crew and the model.
    public var maxRequestsPerMinute: Int?
    /// How long one task of its may run before it must answer with what it has. `nil`: no limit.
    public var maxExecutionTime: Duration?

    public init(
        key: String, role: String, goal: String, backstory: String, tools: [AnyTool] = [], model: (any ChatModel)? = nil,
        allowDelegation: Bool = false, maxIterations: Int = 20, maxRequestsPerMinute: Int? = nil, maxExecutionTime: Duration? = nil
    ) {
        self.key = key
        self.role = role
        self.goal = goal
        self.backstory = backstory
        self.tools = tools
        self.model = model
        self.allowDelegation = allowDelegation
        self.maxIterations = maxIterations
        self.maxRequestsPerMinute = maxRequestsPerMinute
        self.maxExecutionTime = maxExecutionTime
    }

    /// The system prompt it works under.
    public var instructions: String {
        "You are \(role).\n\(backstory)\n\nYour personal goal is: \(goal)"
    }

    /// The agent with `{name}` filled from `inputs` in its role, goal and backstory.
    func rendered(_ inputs: [String: String]) throws -> CrewAgent {
        var agent = self
        agent.role = try CrewTemplate.render(role, inputs, field: "agent \(key): role")
        agent.goal = try CrewTemplate.render(goal, inputs, field: "agent \(key): goal")
        agent.backstory = try CrewTemplate.render(backstory, inputs, field: "agent \(key): backstory")
        return agent
    }
}

/// `{name}` placeholders, filled from a kickoff's inputs as CrewAI fills them.
public enum CrewTemplate {
    /// The names of the `{name}` placeholders in `text` (letters, digits, `_` and `-`; text in
    /// braces that is not such a name, as in a JSON example, is left alone).
    public static func placeholders(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { break }
            let name = after[..<close]
            if isName(name) { names.append(String(name)) }
            rest = after
        }
        return names
    }

    /// `text` with each placeholder replaced by its input. Throws ``CrewError`` naming `field`
    /// and the placeholder when an input is missing.
    public static func render(_ text: String, _ inputs: [String: String], field: String) throws -> String {
        let missing = placeholders(in: text).filter { inputs[$0] == nil }
        if let first = missing.first {
            throw CrewError("\(field) uses {\(first)}, which the inputs do not give; give it as an input (--input \(first)=…)")
        }
        // One pass over the text: an input's value is never read for placeholders of its own.
        var result = ""
        var rest = text[...]
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), isName(after[..<close]), let value = inputs[String(after[..<close])] {
                result += value
                rest = after[after.index(after: close)...]
            } else {
                result += "{"
                rest = after
            }
        }
        return result + rest
    }

    private static func isName(_ text: Substring) -> Bool {
        guard let first = text.unicodeScalars.first, first.properties.isAlphabetic || first == "_" else { return false }
        return text.count <= 64 && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
    }
}

/// A crew that cannot run as defined, or a template input that is missing.
public struct CrewError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

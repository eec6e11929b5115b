import KeelCore

/// An offline model that solves arithmetic prompts with the calculator tools, one call at a time,
/// the way a real model would: "What is 12 times 7 plus 5?" becomes `multiply(12, 7)`, then
/// `add(84, 5)` with the first tool's result, then the answer "12 times 7 plus 5 = 89".
///
/// Operations are applied left to right. Its answers come from the tool results, so the demo shows
/// the loop working rather than a canned reply. Without a calculation in the prompt it says what
/// it can do.
public struct ArithmeticModel: ChatModel {
    public let provider = "test"
    public let name: String

    public init(name: String = "arithmetic") {
        self.name = name
    }

    struct Expression {
        var first: Double
        var operations: [(CalculatorTool.Operation, Double)]
        var text: String
    }

    public func respond(to request: ChatRequest) async throws -> ChatResponse {
        let input = UsageEstimate.tokens(in: request)
        let prompt = request.messages.last { if case .user = $0 { true } else { false } }?.text ?? ""
        let results = request.messages.reversed().prefix { if case .user = $0 { false } else { true } }.reversed().compactMap {
            if case .tool(let result) = $0 { return result }
            return nil
        }
        func answer(_ text: String) -> ChatResponse {
            ChatResponse(model: name, message: AssistantMessage(text: text), usage: Usage(inputTokens: input, outputTokens: UsageEstimate.tokens(in: text)))
        }
        guard let expression = Self.parse(prompt) else {
            return answer("I can only do arithmetic, such as \"What is 12 times 7 plus 5?\"")
        }
        if let failed = results.last(where: \.isError) {
            return answer("I could not work out \(expression.text): \(failed.content)")
        }
        let step = results.count
        let current = step == 0 ? expression.first : Double(results.last?.content ?? "") ?? .nan
        guard step < expression.operations.count else {
            return answer("\(expression.text) = \(JSONValue.number(current).serialized())")
        }
        let (operation, operand) = expression.operations[step]
        guard request.tools.contains(where: { $0.name == operation.rawValue }) else {
            return answer("I need the \(operation.rawValue) tool to work out \(expression.text).")
        }
        let arguments: JSONValue = ["a": .number(current), "b": .number(operand)]
        let call = ToolCall(id: "call_\(step + 1)", name: operation.rawValue, arguments: arguments.serialized())
        return ChatResponse(
            model: name, message: AssistantMessage(toolCalls: [call]),
            usage: Usage(inputTokens: input, outputTokens: UsageEstimate.tokens(in: call.name + call.arguments)), finishReason: .toolCalls)
    }

    /// Finds "A op B op C …" in a prompt; operators may be words or symbols.
    static func parse(_ prompt: String) -> Expression? {
        let spaced = prompt.lowercased()
            .replacingOccurrences(of: "divided by", with: " ÷ ").replacingOccurrences(of: "multiplied by", with: " × ")
            .replacingOccurrences(of: "?", with: " ").replacingOccurrences(of: ",", with: " ")
        var words: [String] = []
        for word in spaced.split(whereSeparator: \.isWhitespace) {
            // Split symbols glued to numbers, as in "12*7+5".
            var current = ""
            for character in word {
                if "+*/×÷".contains(character) || (character == "-" && !current.isEmpty) {
                    if !current.isEmpty { words.append(current) }
                    words.append(String(character))
                    current = ""
                } else {
                    current.append(character)
                }
            }
            if !current.isEmpty { words.append(current) }
        }
        func operation(_ word: String) -> CalculatorTool.Operation? {
            switch word {
            case "plus", "+", "add": .add
            case "minus", "-": .subtract
            case "times", "×", "*", "x": .multiply
            case "÷", "/", "over": .divide
            default: nil
            }
        }
        var index = words.firstIndex { Double($0) != nil }
        guard let start = index, let first = Double(words[start]) else { return nil }
        var operations: [(CalculatorTool.Operation, Double)] = []
        var textWords = [words[start]]
        index = start + 1
        while let position = index, position + 1 < words.count, let op = operation(words[position]), let operand = Double(words[position + 1]) {
            operations.append((op, operand))
            textWords.append(contentsOf: [words[position], words[position + 1]])
            index = position + 2
        }
        guard !operations.isEmpty else { return nil }
        return Expression(first: first, operations: operations, text: textWords.joined(separator: " "))
    }
}

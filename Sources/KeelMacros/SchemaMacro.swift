import SwiftSyntax
import SwiftSyntaxBuilder
import SwiftSyntaxMacros

/// Derives `static var jsonSchema` from a struct's stored properties or an enum's raw values.
///
/// 1. Read the type's doc comment (the schema's description) and its `CodingKeys`, if any.
/// 2. For each stored instance property: its JSON name, whether it is optional (then not
///    required), its unwrapped type, its doc comment and its `@Field` arguments.
/// 3. Emit an extension whose `jsonSchema` builds the object from each property type's own
///    `jsonSchema`, so the compiler checks that every nested type has a schema too.
public struct SchemaMacro: ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax,
        attachedTo declaration: some DeclGroupSyntax,
        providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        let body: ExprSyntax
        if let structDecl = declaration.as(StructDeclSyntax.self) {
            body = try structSchema(structDecl)
        } else if let enumDecl = declaration.as(EnumDeclSyntax.self) {
            body = try enumSchema(enumDecl)
        } else {
            throw MacroExpansionErrorMessage("@Schema applies to a struct or to an enum with String or Int raw values")
        }
        let access = accessModifier(of: declaration)
        let conformance = protocols.isEmpty ? "" : ": KeelCore.SchemaRepresentable"
        let extensionDecl: DeclSyntax = """
            extension \(type.trimmed)\(raw: conformance) {
                \(raw: access)static var jsonSchema: KeelCore.JSONSchema {
                    \(body)
                }
            }
            """
        guard let result = extensionDecl.as(ExtensionDeclSyntax.self) else {
            throw MacroExpansionErrorMessage("@Schema could not build its extension")
        }
        return [result]
    }

    // MARK: Structs

    private struct PropertyInfo {
        var jsonName: String
        var type: TypeSyntax
        var isOptional: Bool
        var description: String?
        var fieldArguments: LabeledExprListSyntax?
    }

    private static func structSchema(_ decl: StructDeclSyntax) throws -> ExprSyntax {
        let codingKeys = codingKeyNames(in: decl.memberBlock)
        var properties: [PropertyInfo] = []
        for member in decl.memberBlock.members {
            guard let variable = member.decl.as(VariableDeclSyntax.self) else { continue }
            properties.append(contentsOf: try storedProperties(of: variable, codingKeys: codingKeys))
        }

        var entries: [String] = []
        for property in properties {
            var arguments: [String] = []
            let fieldLabels = Set(property.fieldArguments?.compactMap { $0.label?.text } ?? [])
            if let description = property.description, !fieldLabels.contains("description") {
                arguments.append("description: \(literal(description))")
            }
            if let fieldArguments = property.fieldArguments {
                arguments.append(contentsOf: fieldArguments.map { $0.with(\.trailingComma, nil).trimmedDescription })
            }
            var schema = "KeelCore.JSONSchema.of(\(property.type.trimmedDescription).self)"
            if !arguments.isEmpty { schema += ".refined(\(arguments.joined(separator: ", ")))" }
            entries.append("(\(literal(property.jsonName)), \(schema))")
        }
        let required = properties.filter { !$0.isOptional }.map { literal($0.jsonName) }
        let description = docComment(of: Syntax(decl)).map(literal) ?? "nil"
        let propertyList = entries.isEmpty ? "[]" : "[\n" + entries.joined(separator: ",\n") + "\n]"
        return "KeelCore.JSONSchema.object(description: \(raw: description), properties: \(raw: propertyList), required: [\(raw: required.joined(separator: ", "))])"
    }

    private static func storedProperties(of variable: VariableDeclSyntax, codingKeys: [String: String]?) throws -> [PropertyInfo] {
        let isStatic = variable.modifiers.contains {
            $0.name.tokenKind == .keyword(.static) || $0.name.tokenKind == .keyword(.class)
        }
        if isStatic { return [] }
        let isLet = variable.bindingSpecifier.tokenKind == .keyword(.let)
        let description = docComment(of: Syntax(variable))
        let fieldArguments = variable.attributes.lazy
            .compactMap { $0.as(AttributeSyntax.self) }
            .first { $0.attributeName.trimmedDescription == "Field" || $0.attributeName.trimmedDescription == "KeelCore.Field" }
            .flatMap { $0.arguments?.as(LabeledExprListSyntax.self) }

        var result: [PropertyInfo] = []
        let bindings = Array(variable.bindings)
        for (index, binding) in bindings.enumerated() {
            if isComputed(binding) { continue }
            // A `let` with an initial value is not decoded, so it is not part of the schema.
            if isLet, binding.initializer != nil { continue }
            guard let name = binding.pattern.as(IdentifierPatternSyntax.self)?.identifier.text else {
                throw MacroExpansionErrorMessage("@Schema supports only simple property names")
            }
            // In `var a, b: Int` only the last binding carries the type.
            guard let typeAnnotation = bindings[index...].lazy.compactMap(\.typeAnnotation).first else {
                throw MacroExpansionErrorMessage("@Schema needs an explicit type on property '\(name)'")
            }
            let jsonName: String
            if let codingKeys {
                guard let mapped = codingKeys[name] else { continue }  // not decoded
                jsonName = mapped
            } else {
                jsonName = name.trimmingBackticks()
            }
            let (wrapped, isOptional) = unwrapOptional(typeAnnotation.type)
            result.append(PropertyInfo(jsonName: jsonName, type: wrapped, isOptional: isOptional, description: description, fieldArguments: fieldArguments))
        }
        return result
    }

    private static func isComputed(_ binding: PatternBindingSyntax) -> Bool {
        guard let accessorBlock = binding.accessorBlock else { return false }
        switch accessorBlock.accessors {
        case .getter:
            return true
        case .accessors(let accessors):
            return accessors.contains {
                $0.accessorSpecifier.tokenKind == .keyword(.get) || $0.accessorSpecifier.tokenKind == .keyword(._read)
            }
        }
    }

    private static func unwrapOptional(_ type: TypeSyntax) -> (TypeSyntax, Bool) {
        if let optional = type.as(OptionalTypeSyntax.self) { return (optional.wrappedType, true) }
        if let optional = type.as(ImplicitlyUnwrappedOptionalTypeSyntax.self) { return (optional.wrappedType, true) }
        if let identifier = type.as(IdentifierTypeSyntax.self), identifier.name.text == "Optional",
            let argument = identifier.genericArgumentClause?.arguments.first,
            let wrapped = argument.argument.as(TypeSyntax.self)
        {
            return (wrapped, true)
        }
        return (type, false)
    }

    /// The JSON names from a nested `enum CodingKeys`, or `nil` when the type has none.
    private static func codingKeyNames(in memberBlock: MemberBlockSyntax) -> [String: String]? {
        for member in memberBlock.members {
            guard let enumDecl = member.decl.as(EnumDeclSyntax.self), enumDecl.name.text == "CodingKeys" else { continue }
            var names: [String: String] = [:]
            for caseMember in enumDecl.memberBlock.members {
                guard let caseDecl = caseMember.decl.as(EnumCaseDeclSyntax.self) else { continue }
                for element in caseDecl.elements {
                    let name = element.name.text.trimmingBackticks()
                    names[name] = element.rawValue.flatMap(stringLiteralValue) ?? name
                }
            }
            return names
        }
        return nil
    }

    // MARK: Enums

    private static func enumSchema(_ decl: EnumDeclSyntax) throws -> ExprSyntax {
        let rawType = decl.inheritanceClause?.inheritedTypes.first?.type.trimmedDescription
        let isString: Bool
        switch rawType {
        case "String", "Swift.String": isString = true
        case "Int", "Swift.Int": isString = false
        default: throw MacroExpansionErrorMessage("@Schema enums need String or Int raw values")
        }
        var values: [String] = []
        var nextInt = 0
        for member in decl.memberBlock.members {
            guard let caseDecl = member.decl.as(EnumCaseDeclSyntax.self) else { continue }
            for element in caseDecl.elements {
                if element.parameterClause != nil {
                    throw MacroExpansionErrorMessage("@Schema enums cannot have associated values (case '\(element.name.text)')")
                }
                if isString {
                    let raw = element.rawValue.flatMap(stringLiteralValue) ?? element.name.text.trimmingBackticks()
                    values.append(literal(raw))
                } else {
                    if let rawValue = element.rawValue {
                        guard let value = Int(rawValue.value.trimmedDescription) else {
                            throw MacroExpansionErrorMessage("@Schema needs literal raw values (case '\(element.name.text)')")
                        }
                        nextInt = value
                    }
                    values.append(String(nextInt))
                    nextInt += 1
                }
            }
        }
        let description = docComment(of: Syntax(decl)).map(literal) ?? "nil"
        return "KeelCore.JSONSchema.enumeration([\(raw: values.joined(separator: ", "))], description: \(raw: description))"
    }

    // MARK: Helpers

    private static func accessModifier(of declaration: some DeclGroupSyntax) -> String {
        for modifier in declaration.modifiers {
            switch modifier.name.tokenKind {
            case .keyword(.public), .keyword(.open): return "public "
            case .keyword(.package): return "package "
            default: continue
            }
        }
        return ""
    }

    /// The text of `///` and `/** */` comments directly before a declaration, joined by spaces.
    private static func docComment(of node: Syntax) -> String? {
        var lines: [String] = []
        for piece in node.leadingTrivia {
            switch piece {
            case .docLineComment(let text):
                lines.append(String(text.dropFirst(3)).trimmingWhitespace())
            case .docBlockComment(let text):
                let inner = text.dropFirst(3).dropLast(2)
                lines.append(contentsOf: inner.split(separator: "\n").map {
                    var line = String($0).trimmingWhitespace()
                    if line.hasPrefix("*") { line = String(line.dropFirst()).trimmingWhitespace() }
                    return line
                })
            case .lineComment, .blockComment:
                lines.removeAll()  // a plain comment between doc comment and declaration ends it
            default:
                continue
            }
        }
        let text = lines.filter { !$0.isEmpty }.joined(separator: " ")
        return text.isEmpty ? nil : text
    }

    private static func stringLiteralValue(_ clause: InitializerClauseSyntax) -> String? {
        guard let literal = clause.value.as(StringLiteralExprSyntax.self), literal.segments.count == 1,
            case .stringSegment(let segment) = literal.segments.first
        else { return nil }
        return segment.content.text
    }

    private static func literal(_ text: String) -> String {
        StringLiteralExprSyntax(content: text).trimmedDescription
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }

    fileprivate func trimmingBackticks() -> String {
        hasPrefix("`") && hasSuffix("`") && count > 1 ? String(dropFirst().dropLast()) : self
    }
}

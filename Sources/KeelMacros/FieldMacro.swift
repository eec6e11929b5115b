import SwiftSyntax
import SwiftSyntaxMacros

/// `@Field(...)` only marks a property; ``SchemaMacro`` reads its arguments.
public struct FieldMacro: PeerMacro {
    public static func expansion(
        of node: AttributeSyntax,
        providingPeersOf declaration: some DeclSyntaxProtocol,
        in context: some MacroExpansionContext
    ) throws -> [DeclSyntax] {
        guard declaration.is(VariableDeclSyntax.self) else {
            throw MacroExpansionErrorMessage("@Field applies to a stored property of a @Schema type")
        }
        return []
    }
}

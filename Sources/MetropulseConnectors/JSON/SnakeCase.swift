extension String {
    /// Publishers' names as snake case: `noService` → `no_service`, `Works` → `works`,
    /// `road-works` → `road_works`; already snake-cased text stays.
    var snakeCased: String {
        var out = ""
        for character in self {
            if character.isUppercase {
                if !out.isEmpty && out.last != "_" { out.append("_") }
                out += character.lowercased()
            } else {
                out.append(character == "-" || character == " " ? "_" : character)
            }
        }
        return out
    }

    var nilIfEmpty: String? { isEmpty ? nil : self }
}
